//! A Neutron + Keystone REST client that knows nothing of Docker: `Client` owns the
//! HTTP connection pool, the cached Keystone token and network endpoint, a request
//! counter, the time of the last successful request, and an optional [`Observer`]
//! told about every request (`observe.rs`). Typed calls are in `resources.rs`; deciding what to call is the driver's.
//! It follows no redirect, reads at most `MAX_BODY` of an answer, bounds pagination,
//! shares one Keystone attempt among concurrent callers, and keeps userinfo out of
//! every error and log line.

mod auth;
mod error;
mod observe;
mod options;
mod redact;
mod request;
mod resources;
mod trunks;
mod types;

/// An in-process fake Neutron for tests (the crate's, and with the `test-support`
/// feature the integration tests'); not part of the plugin.
#[cfg(any(test, feature = "test-support"))]
pub mod fake;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_hostile;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

pub use auth::{AppCredentialRef, AuthMethod, Interface, NameOrId, ProjectScope, UserRef};
pub use error::NeutronError;
pub use observe::{Exchange, Observer, Service};
pub use options::ClientOptions;
pub use redact::text as without_userinfo;
pub use request::{Kind, Query};
pub use types::*;

/// The largest Neutron or Keystone answer read; a bigger one is an error rather
/// than memory. Neutron's largest real answers (unfiltered port lists of a big
/// cloud, a token with a full catalog) stay far below this.
pub const MAX_BODY: usize = 32 << 20;

/// How long a failed Keystone request answers for every caller before another is
/// tried. Callers that queued behind a hanging Keystone then fail at once instead
/// of each waiting a full timeout of their own.
const AUTH_FAILURE_TTL: Duration = Duration::from_secs(2);

/// A Neutron client. Cheap to clone: clones share the pool, token and counters.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("auth", &self.inner.options.auth)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    options: ClientOptions,
    session: Mutex<SessionState>,
    requests: AtomicU64,
    token_requests: AtomicU64,
    /// Whether the "plain HTTP endpoint behind an HTTPS Keystone" warning was given.
    plain_endpoint_warned: AtomicBool,
    /// When Neutron last answered a request with a 2xx.
    last_success: StdMutex<Option<Instant>>,
    observer: Option<Arc<dyn Observer>>,
}

/// The cached outcome of authenticating.
enum SessionState {
    Empty,
    Ready(Session),
    /// The last attempt failed at `at`; within [`AUTH_FAILURE_TTL`] its error is
    /// everyone's answer.
    Failed {
        error: NeutronError,
        at: Instant,
    },
}

/// A token (None without Keystone) and the network endpoint it came with.
#[derive(Clone)]
struct Session {
    token: Option<String>,
    endpoint: Url,
    /// The project the token is scoped to (Keystone's `token.project.id`).
    project_id: Option<String>,
}

/// A successful answer's body.
pub(crate) struct Answer {
    /// The URL asked, without userinfo.
    pub url: String,
    pub body: String,
}

impl Client {
    /// Builds the client; no request is sent until the first call.
    pub fn new(options: ClientOptions) -> Result<Client, NeutronError> {
        Self::build(options, None)
    }

    /// [`Client::new`], telling `observer` about every Neutron request.
    pub fn with_observer(
        options: ClientOptions,
        observer: Arc<dyn Observer>,
    ) -> Result<Client, NeutronError> {
        Self::build(options, Some(observer))
    }

    fn build(
        options: ClientOptions,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Client, NeutronError> {
        let http = options.http_client()?;
        if options.insecure {
            // Once: the daemon builds one client.
            tracing::warn!(
                "TLS certificate verification for Keystone and Neutron is OFF ([neutron] \
                 insecure = true or clouds.yaml verify: false): anyone on the path can read \
                 kuryr's credentials and tokens"
            );
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                options,
                session: Mutex::new(SessionState::Empty),
                requests: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
                plain_endpoint_warned: AtomicBool::new(false),
                last_success: StdMutex::new(None),
                observer,
            }),
        })
    }

    /// Neutron requests sent so far (Keystone requests not included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Whether Neutron answered a request with a 2xx within the last `window`.
    pub fn succeeded_within(&self, window: Duration) -> bool {
        self.last_success().is_some_and(|at| at.elapsed() < window)
    }

    fn last_success(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.inner
            .last_success
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keystone token requests sent so far.
    pub fn token_request_count(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// The project of kuryr's token, authenticating first if needed; `None` for
    /// `auth_type = none` and for unscoped tokens.
    pub async fn project_id(&self) -> Result<Option<String>, NeutronError> {
        Ok(self.session().await?.project_id)
    }

    /// The network endpoint in use, authenticating first if needed.
    pub async fn endpoint(&self) -> Result<Url, NeutronError> {
        Ok(self.session().await?.endpoint)
    }

    async fn session(&self) -> Result<Session, NeutronError> {
        // The lock is held across the Keystone round trip on purpose: concurrent
        // callers wait for the one request in flight and share its outcome, a
        // failure included (for AUTH_FAILURE_TTL), instead of each sending their own.
        let mut guard = self.inner.session.lock().await;
        match &*guard {
            SessionState::Ready(session) => return Ok(session.clone()),
            SessionState::Failed { error, at } if at.elapsed() < AUTH_FAILURE_TTL => {
                return Err(error.clone());
            }
            _ => {}
        }
        match self.authenticate().await {
            Ok(session) => {
                *guard = SessionState::Ready(session.clone());
                Ok(session)
            }
            Err(error) => {
                *guard = SessionState::Failed {
                    error: error.clone(),
                    at: Instant::now(),
                };
                Err(error)
            }
        }
    }

    /// Drops the cached token if it is still `stale` (another task may have renewed it).
    async fn invalidate(&self, stale: &Option<String>) {
        let mut guard = self.inner.session.lock().await;
        if matches!(&*guard, SessionState::Ready(s) if &s.token == stale) {
            *guard = SessionState::Empty;
        }
    }

    async fn authenticate(&self) -> Result<Session, NeutronError> {
        let options = &self.inner.options;
        let (Some(url), Some(body)) = (options.auth.token_url(), options.auth.token_body()) else {
            let AuthMethod::None { endpoint } = &options.auth else {
                return Err(NeutronError::Auth("no token URL".into()));
            };
            return Ok(Session {
                token: None,
                endpoint: auth::endpoint_base(endpoint.as_str())?,
                project_id: None,
            });
        };
        self.inner.token_requests.fetch_add(1, Ordering::Relaxed);
        let shown = redact::url(&url);
        let started = Instant::now();
        let answer = self.token_answer(&url, &body, &shown).await;
        if let Some(observer) = &self.inner.observer {
            observer.exchange(&Exchange {
                service: Service::Keystone,
                method: "POST",
                resource: "tokens",
                status: answer.as_ref().ok().map(|(status, _, _, _)| *status),
                elapsed: started.elapsed(),
            });
        }
        let (status, request_id, token, text) = answer?;
        if !(200..300).contains(&status) {
            return Err(NeutronError::Api {
                method: "POST".into(),
                url: shown,
                status,
                message: error::error_message(&text),
                request_id,
            });
        }
        let token =
            token.ok_or_else(|| NeutronError::Auth("Keystone sent no X-Subject-Token".into()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| NeutronError::Decode {
            url: shown.clone(),
            message: e.to_string(),
        })?;
        let endpoint =
            auth::network_endpoint(&value, options.interface, options.region.as_deref())?;
        if url.scheme() == "https"
            && endpoint.scheme() == "http"
            && !self
                .inner
                .plain_endpoint_warned
                .swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                endpoint = %redact::url(&endpoint),
                "the catalog's network endpoint is plain http behind an https Keystone: \
                 kuryr's token crosses the network unencrypted"
            );
        }
        let project_id = value
            .pointer("/token/project/id")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Session {
            token: Some(token),
            endpoint,
            project_id,
        })
    }

    /// Keystone's answer to a token request: status, request id, token and body.
    async fn token_answer(
        &self,
        url: &Url,
        body: &Value,
        shown: &str,
    ) -> Result<(u16, Option<String>, Option<String>, String), NeutronError> {
        let response = self
            .inner
            .http
            .post(url.clone())
            .json(body)
            .send()
            .await
            .map_err(transport("POST", shown))?;
        let status = response.status().as_u16();
        check_redirect(&response, "POST", url)?;
        let request_id = header(&response, "x-openstack-request-id");
        let token = header(&response, "x-subject-token");
        let text = read_body(response, "POST", shown).await?;
        Ok((status, request_id, token, text))
    }

    /// Sends one Neutron request (`path` relative to the endpoint, e.g.
    /// `v2.0/ports?x=y`). On a 401 it re-authenticates once and retries once.
    /// Non-2xx answers become `NeutronError::Api`, redirects `Redirect`, and an
    /// answer over [`MAX_BODY`] `Limit`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, NeutronError> {
        self.send_if_match(method, path, body, None).await
    }

    /// [`Client::send`] with an optional `If-Match` header (`revision_number=N`):
    /// Neutron then answers 412 instead of applying an update made on a stale read.
    pub(crate) async fn send_if_match(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Answer, NeutronError> {
        let mut retried = false;
        loop {
            let session = self.session().await?;
            let url = session
                .endpoint
                .join(path)
                .map_err(|e| NeutronError::Config(format!("bad request path {path}: {e}")))?;
            let shown = redact::url(&url);
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(token) = &session.token {
                request = request.header("X-Auth-Token", token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(condition) = if_match {
                request = request.header("If-Match", condition);
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let reply = exchange(request, method.as_str(), &url, &shown).await;
            self.observe(&method, path, &reply, started.elapsed());
            let reply = reply?;
            if reply.status == 401 && session.token.is_some() && !retried {
                retried = true;
                tracing::debug!(url = %shown, "neutron answered 401; re-authenticating once");
                self.invalidate(&session.token).await;
                continue;
            }
            let text = reply.body?;
            if !(200..300).contains(&reply.status) {
                return Err(NeutronError::Api {
                    method: method.to_string(),
                    url: shown,
                    status: reply.status,
                    message: error::error_message(&text),
                    request_id: reply.request_id,
                });
            }
            return Ok(Answer {
                url: shown,
                body: text,
            });
        }
    }

    /// Notes a 2xx for [`Client::succeeded_within`] and tells the observer.
    fn observe(
        &self,
        method: &Method,
        path: &str,
        reply: &Result<Reply, NeutronError>,
        elapsed: Duration,
    ) {
        let status = reply.as_ref().ok().map(|reply| reply.status);
        if status.is_some_and(|status| (200..300).contains(&status)) {
            *self.last_success() = Some(Instant::now());
        }
        if let Some(observer) = &self.inner.observer {
            observer.exchange(&Exchange {
                service: Service::Neutron,
                method: method.as_str(),
                resource: observe::resource_of(path),
                status,
                elapsed,
            });
        }
    }
}

/// An answer's status, request id and body (or why the body could not be had: a
/// redirect, a read failure, an answer too large).
struct Reply {
    status: u16,
    request_id: Option<String>,
    body: Result<String, NeutronError>,
}

/// Sends `request` and reads its answer; an error only when no answer came.
async fn exchange(
    request: reqwest::RequestBuilder,
    method: &str,
    url: &Url,
    shown: &str,
) -> Result<Reply, NeutronError> {
    let response = request.send().await.map_err(transport(method, shown))?;
    let status = response.status().as_u16();
    let request_id = header(&response, "x-openstack-request-id");
    let body = match check_redirect(&response, method, url) {
        Ok(()) => read_body(response, method, shown).await,
        Err(redirect) => Err(redirect),
    };
    Ok(Reply {
        status,
        request_id,
        body,
    })
}

/// A transport error for `method url` (already redacted), with reqwest's own copy
/// of the URL (which may hold userinfo) removed.
fn transport(method: &str, url: &str) -> impl FnOnce(reqwest::Error) -> NeutronError {
    let (method, url) = (method.to_string(), url.to_string());
    move |source| NeutronError::Transport {
        method,
        url,
        source: Arc::new(source.without_url()),
    }
}

/// A 3xx is an error naming where it pointed (userinfo stripped); redirects are
/// never followed (see `Client::new`).
fn check_redirect(
    response: &reqwest::Response,
    method: &str,
    url: &Url,
) -> Result<(), NeutronError> {
    if !response.status().is_redirection() {
        return Ok(());
    }
    let location = match header(response, "location") {
        Some(raw) => match url.join(&raw) {
            Ok(target) => redact::url(&target),
            Err(_) => redact::text(&raw),
        },
        None => "(no Location)".to_string(),
    };
    Err(NeutronError::Redirect {
        method: method.to_string(),
        url: redact::url(url),
        status: response.status().as_u16(),
        location,
    })
}

/// The body, read chunk by chunk and refused past [`MAX_BODY`] (announced or
/// actual), so a huge or endless answer costs at most that much memory.
async fn read_body(
    mut response: reqwest::Response,
    method: &str,
    url: &str,
) -> Result<String, NeutronError> {
    let too_large = || NeutronError::Limit {
        method: method.to_string(),
        url: url.to_string(),
        message: format!("the answer is larger than {} MiB", MAX_BODY >> 20),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport(method, url))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
