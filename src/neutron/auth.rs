//! Keystone v3 authentication: how to prove who we are (`AuthMethod`), the token
//! request body, and picking the `network` endpoint out of the service catalog. The
//! HTTP round trip and the token cache live in `mod.rs`; this file is sans-IO so the
//! body and catalog rules are unit-testable.

use std::fmt;

use serde_json::{Value, json};
use url::Url;

use super::error::NeutronError;
use super::redact;

/// A Keystone name or id (users, projects, domains can be named either way).
#[derive(Clone, PartialEq, Eq)]
pub enum NameOrId {
    Name(String),
    Id(String),
}

impl NameOrId {
    fn to_json(&self) -> Value {
        match self {
            NameOrId::Name(name) => json!({ "name": name }),
            NameOrId::Id(id) => json!({ "id": id }),
        }
    }
}

impl fmt::Debug for NameOrId {
    // Names and ids are not secret, but keep Debug short and uniform.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameOrId::Name(n) => write!(f, "name:{n}"),
            NameOrId::Id(i) => write!(f, "id:{i}"),
        }
    }
}

/// A user: an id alone is unique; a name needs its domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Name { name: String, domain: NameOrId },
}

impl UserRef {
    fn to_json(&self) -> Value {
        match self {
            UserRef::Id(id) => json!({ "id": id }),
            UserRef::Name { name, domain } => json!({ "name": name, "domain": domain.to_json() }),
        }
    }
}

/// The project a token is scoped to: an id alone, or a name in a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectScope {
    Id(String),
    Name { name: String, domain: NameOrId },
}

impl ProjectScope {
    fn to_json(&self) -> Value {
        match self {
            ProjectScope::Id(id) => json!({ "project": { "id": id } }),
            ProjectScope::Name { name, domain } => {
                json!({ "project": { "name": name, "domain": domain.to_json() } })
            }
        }
    }
}

/// An application credential: its id, or its name plus the owning user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppCredentialRef {
    Id(String),
    Name { name: String, user: UserRef },
}

/// How the client authenticates. Secrets (`password`, `secret`, `token`) never appear
/// in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// No Keystone: talk to `endpoint` without `X-Auth-Token` (`auth_type = none`).
    None { endpoint: Url },
    /// `auth_type = password | v3password`.
    Password {
        auth_url: Url,
        user: UserRef,
        password: String,
        project: Option<ProjectScope>,
    },
    /// `auth_type = v3applicationcredential`; the credential carries its own scope.
    ApplicationCredential {
        auth_url: Url,
        credential: AppCredentialRef,
        secret: String,
    },
    /// `auth_type = token | v3token`: exchange an existing token for a scoped one.
    Token {
        auth_url: Url,
        token: String,
        project: Option<ProjectScope>,
    },
}

impl fmt::Debug for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HIDDEN: &str = "<redacted>";
        match self {
            AuthMethod::None { endpoint } => f
                .debug_struct("None")
                .field("endpoint", &redact::url(endpoint))
                .finish(),
            AuthMethod::Password {
                auth_url,
                user,
                project,
                ..
            } => f
                .debug_struct("Password")
                .field("auth_url", &redact::url(auth_url))
                .field("user", user)
                .field("password", &HIDDEN)
                .field("project", project)
                .finish(),
            AuthMethod::ApplicationCredential {
                auth_url,
                credential,
                ..
            } => f
                .debug_struct("ApplicationCredential")
                .field("auth_url", &redact::url(auth_url))
                .field("credential", credential)
                .field("secret", &HIDDEN)
                .finish(),
            AuthMethod::Token {
                auth_url, project, ..
            } => f
                .debug_struct("Token")
                .field("auth_url", &redact::url(auth_url))
                .field("token", &HIDDEN)
                .field("project", project)
                .finish(),
        }
    }
}

impl AuthMethod {
    /// One line for an operator: the method and where it goes, no secret or userinfo.
    pub fn summary(&self) -> String {
        let (method, url) = match self {
            AuthMethod::None { endpoint } => {
                return format!("no auth, Neutron at {}", redact::url(endpoint));
            }
            AuthMethod::Password { auth_url, .. } => ("password", auth_url),
            AuthMethod::ApplicationCredential { auth_url, .. } => {
                ("application credential", auth_url)
            }
            AuthMethod::Token { auth_url, .. } => ("token", auth_url),
        };
        format!("Keystone {method} auth at {}", redact::url(url))
    }

    /// The Keystone `auth/tokens` URL, or None for `AuthMethod::None`.
    pub fn token_url(&self) -> Option<Url> {
        let auth_url = match self {
            AuthMethod::None { .. } => return None,
            AuthMethod::Password { auth_url, .. }
            | AuthMethod::ApplicationCredential { auth_url, .. }
            | AuthMethod::Token { auth_url, .. } => auth_url,
        };
        Some(tokens_url(auth_url))
    }

    /// The body of `POST /v3/auth/tokens`, or None for `AuthMethod::None`.
    pub fn token_body(&self) -> Option<Value> {
        let (identity, project) = match self {
            AuthMethod::None { .. } => return None,
            AuthMethod::Password {
                user,
                password,
                project,
                ..
            } => {
                let mut user = user.to_json();
                user["password"] = json!(password);
                (
                    json!({ "methods": ["password"], "password": { "user": user } }),
                    project,
                )
            }
            AuthMethod::ApplicationCredential {
                credential, secret, ..
            } => {
                let cred = match credential {
                    AppCredentialRef::Id(id) => json!({ "id": id, "secret": secret }),
                    AppCredentialRef::Name { name, user } => {
                        json!({ "name": name, "user": user.to_json(), "secret": secret })
                    }
                };
                let identity = json!({ "methods": ["application_credential"], "application_credential": cred });
                (identity, &None)
            }
            AuthMethod::Token { token, project, .. } => (
                json!({ "methods": ["token"], "token": { "id": token } }),
                project,
            ),
        };
        let mut auth = json!({ "identity": identity });
        if let Some(project) = project {
            auth["scope"] = project.to_json();
        }
        Some(json!({ "auth": auth }))
    }
}

/// `{auth_url}/v3/auth/tokens`, accepting an auth_url with or without `/v3` and
/// trailing slashes (both spellings are common in kuryr.conf files).
pub fn tokens_url(auth_url: &Url) -> Url {
    let mut url = auth_url.clone();
    let trimmed = url.path().trim_end_matches('/').to_string();
    let base = if trimmed.ends_with("/v3") {
        trimmed
    } else {
        format!("{trimmed}/v3")
    };
    url.set_path(&format!("{base}/auth/tokens"));
    url.set_query(None);
    url
}

/// The catalog interface (`endpoint_type` in kuryr.conf, `OS_INTERFACE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }
}

/// Picks the `network` endpoint from a v3 token body (`{"token": {"catalog": [...]}}`)
/// for `interface` and, when given, `region` (matched against `region_id` or the
/// older `region`). The result always ends with `/`, so `v2.0/...` joins under it.
pub fn network_endpoint(
    token_body: &Value,
    interface: Interface,
    region: Option<&str>,
) -> Result<Url, NeutronError> {
    let catalog = token_body
        .pointer("/token/catalog")
        .and_then(Value::as_array)
        .ok_or_else(|| NeutronError::Auth("the token has no service catalog".into()))?;
    let service = catalog
        .iter()
        .find(|s| s.get("type").and_then(Value::as_str) == Some("network"))
        .ok_or_else(|| NeutronError::Auth("the catalog has no `network` service".into()))?;
    let endpoints = service
        .get("endpoints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let found = endpoints.iter().find(|e| {
        let field = |k: &str| e.get(k).and_then(Value::as_str);
        field("interface") == Some(interface.as_str())
            && region.is_none_or(|r| field("region_id") == Some(r) || field("region") == Some(r))
    });
    let Some(url) = found.and_then(|e| e.get("url")).and_then(Value::as_str) else {
        return Err(NeutronError::Auth(format!(
            "no `network` endpoint with interface {} in region {}",
            interface.as_str(),
            region.unwrap_or("(any)")
        )));
    };
    endpoint_base(url)
}

/// Normalises a Neutron endpoint to end with `/` and without a `v2.0` suffix
/// (some catalogs list `http://host:9696/v2.0`).
pub fn endpoint_base(url: &str) -> Result<Url, NeutronError> {
    let mut parsed = Url::parse(url).map_err(|e| {
        NeutronError::Auth(format!("bad network endpoint {}: {e}", redact::text(url)))
    })?;
    let path = parsed.path().trim_end_matches('/');
    let path = path.strip_suffix("/v2.0").unwrap_or(path).to_string();
    parsed.set_path(&format!("{path}/"));
    Ok(parsed)
}
