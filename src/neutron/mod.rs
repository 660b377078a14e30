//! A Neutron + Keystone REST client that knows nothing of Docker: `Client` owns the
//! HTTP connection pool, the cached Keystone token and network endpoint, and a request
//! counter. Typed calls are in `resources.rs`; deciding what to call is the driver's.

mod auth;
mod clouds;
mod error;
mod options;
mod request;
mod resources;
mod types;

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Method;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

pub use auth::{AppCredentialRef, AuthMethod, Interface, NameOrId, ProjectScope, UserRef};
pub use error::NeutronError;
pub use options::{ClientOptions, from_section};
pub use request::{Kind, Query};
pub use types::*;

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
    session: Mutex<Option<Session>>,
    requests: AtomicU64,
    token_requests: AtomicU64,
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
    pub url: String,
    pub body: String,
}

impl Client {
    /// Builds the client; no request is sent until the first call.
    pub fn new(options: ClientOptions) -> Result<Client, NeutronError> {
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .danger_accept_invalid_certs(options.insecure)
            .user_agent(concat!("kuryr/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.cafile {
            let pem = std::fs::read(path)
                .map_err(|e| NeutronError::Config(format!("cafile {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| NeutronError::Config(format!("cafile {}: {e}", path.display())))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| NeutronError::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                options,
                session: Mutex::new(None),
                requests: AtomicU64::new(0),
                token_requests: AtomicU64::new(0),
            }),
        })
    }

    /// Neutron requests sent so far (Keystone requests not included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
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
        // callers wait for one token instead of each fetching their own.
        let mut guard = self.inner.session.lock().await;
        if let Some(session) = guard.as_ref() {
            return Ok(session.clone());
        }
        let session = self.authenticate().await?;
        *guard = Some(session.clone());
        Ok(session)
    }

    /// Drops the cached token if it is still `stale` (another task may have renewed it).
    async fn invalidate(&self, stale: &Option<String>) {
        let mut guard = self.inner.session.lock().await;
        if guard.as_ref().is_some_and(|s| &s.token == stale) {
            *guard = None;
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
        let transport = |source| NeutronError::Transport {
            method: "POST".into(),
            url: url.to_string(),
            source,
        };
        let response = self
            .inner
            .http
            .post(url.clone())
            .json(&body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let request_id = header(&response, "x-openstack-request-id");
        let token = header(&response, "x-subject-token");
        let text = response.text().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(NeutronError::Api {
                method: "POST".into(),
                url: url.to_string(),
                status,
                message: error::error_message(&text),
                request_id,
            });
        }
        let token =
            token.ok_or_else(|| NeutronError::Auth("Keystone sent no X-Subject-Token".into()))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| NeutronError::Decode {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let endpoint =
            auth::network_endpoint(&value, options.interface, options.region.as_deref())?;
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

    /// Sends one Neutron request (`path` relative to the endpoint, e.g.
    /// `v2.0/ports?x=y`). On a 401 it re-authenticates once and retries once.
    /// Non-2xx answers become `NeutronError::Api`.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, NeutronError> {
        let mut retried = false;
        loop {
            let session = self.session().await?;
            let url = session
                .endpoint
                .join(path)
                .map_err(|e| NeutronError::Config(format!("bad request path {path}: {e}")))?;
            let mut request = self.inner.http.request(method.clone(), url.clone());
            if let Some(token) = &session.token {
                request = request.header("X-Auth-Token", token);
            }
            if let Some(body) = body {
                request = request.json(body);
            }
            self.inner.requests.fetch_add(1, Ordering::Relaxed);
            let transport = |source| NeutronError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                source,
            };
            let response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            if status == 401 && session.token.is_some() && !retried {
                retried = true;
                tracing::debug!(%url, "neutron answered 401; re-authenticating once");
                self.invalidate(&session.token).await;
                continue;
            }
            let request_id = header(&response, "x-openstack-request-id");
            let text = response.text().await.map_err(transport)?;
            if !(200..300).contains(&status) {
                return Err(NeutronError::Api {
                    method: method.to_string(),
                    url: url.to_string(),
                    status,
                    message: error::error_message(&text),
                    request_id,
                });
            }
            return Ok(Answer {
                url: url.to_string(),
                body: text,
            });
        }
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
