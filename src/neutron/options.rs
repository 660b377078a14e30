//! Builds `ClientOptions` from kuryr.conf's `[neutron]` keys, named exactly as
//! kuryr-libnetwork (keystoneauth) names them, falling back to the `OS_*` environment
//! when the section names no `auth_url`/`endpoint`. Reading the file and the process
//! environment is left to `config`; this takes the section and an env lookup.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::auth::{AppCredentialRef, AuthMethod, Interface, NameOrId, ProjectScope, UserRef};
use super::error::NeutronError;

/// Everything `Client::new` needs.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub auth: AuthMethod,
    /// PEM bundle trusted in addition to the built-in roots.
    pub cafile: Option<PathBuf>,
    /// Skip TLS verification (`insecure = true`).
    pub insecure: bool,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    pub region: Option<String>,
    pub interface: Interface,
}

impl ClientOptions {
    /// Options with defaults around `auth`.
    pub fn new(auth: AuthMethod) -> ClientOptions {
        ClientOptions {
            auth,
            cafile: None,
            insecure: false,
            timeout: Duration::from_secs(30),
            region: None,
            interface: Interface::Public,
        }
    }
}

/// kuryr.conf key → `OS_*` variable, used when the section has neither `auth_url`
/// nor `endpoint`.
const ENV_NAMES: &[(&str, &str)] = &[
    ("auth_type", "OS_AUTH_TYPE"),
    ("auth_url", "OS_AUTH_URL"),
    ("username", "OS_USERNAME"),
    ("user_id", "OS_USER_ID"),
    ("password", "OS_PASSWORD"),
    ("user_domain_name", "OS_USER_DOMAIN_NAME"),
    ("user_domain_id", "OS_USER_DOMAIN_ID"),
    ("project_name", "OS_PROJECT_NAME"),
    ("project_id", "OS_PROJECT_ID"),
    ("project_domain_name", "OS_PROJECT_DOMAIN_NAME"),
    ("project_domain_id", "OS_PROJECT_DOMAIN_ID"),
    ("token", "OS_TOKEN"),
    ("endpoint", "OS_ENDPOINT"),
    ("application_credential_id", "OS_APPLICATION_CREDENTIAL_ID"),
    (
        "application_credential_name",
        "OS_APPLICATION_CREDENTIAL_NAME",
    ),
    (
        "application_credential_secret",
        "OS_APPLICATION_CREDENTIAL_SECRET",
    ),
    ("cafile", "OS_CACERT"),
    ("region_name", "OS_REGION_NAME"),
    ("endpoint_type", "OS_INTERFACE"),
];

/// Builds the options from a `[neutron]` section.
pub fn from_section(
    values: &BTreeMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ClientOptions, NeutronError> {
    let mut merged: BTreeMap<String, String> = values
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.trim().to_string()))
        .collect();
    // Old option names keystoneauth still accepts.
    for (old, new) in [
        ("auth_plugin", "auth_type"),
        ("user_name", "username"),
        ("tenant_name", "project_name"),
        ("tenant_id", "project_id"),
    ] {
        if let Some(v) = merged.remove(old) {
            merged.entry(new.to_string()).or_insert(v);
        }
    }
    // `OS_CLOUD` names a clouds.yaml entry; like the OS_* variables it only fills
    // what the file leaves out.
    if !merged.contains_key("auth_url")
        && !merged.contains_key("endpoint")
        && let Some(cloud) = env("OS_CLOUD").filter(|c| !c.trim().is_empty())
    {
        for (key, value) in super::clouds::cloud_options(cloud.trim(), env)? {
            merged.entry(key).or_insert(value);
        }
    }
    if !merged.contains_key("auth_url") && !merged.contains_key("endpoint") {
        for (key, var) in ENV_NAMES {
            if merged.contains_key(*key) {
                continue;
            }
            let value = env(var).or_else(|| {
                if *key == "endpoint" {
                    env("OS_NETWORK_ENDPOINT")
                } else {
                    None
                }
            });
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                merged.insert(key.to_string(), v.trim().to_string());
            }
        }
    }
    let get = |k: &str| merged.get(k).cloned();
    let url = |k: &str| -> Result<Url, NeutronError> {
        let raw =
            get(k).ok_or_else(|| NeutronError::Config(format!("[neutron] {k} is required")))?;
        Url::parse(&raw).map_err(|e| {
            let shown = super::redact::text(&raw);
            NeutronError::Config(format!("[neutron] {k} = {shown}: {e}"))
        })
    };
    let auth_type = get("auth_type").unwrap_or_else(|| {
        if merged.contains_key("auth_url") {
            "password".into()
        } else {
            "none".into()
        }
    });
    let auth = match auth_type.to_ascii_lowercase().as_str() {
        "none" | "noauth" => AuthMethod::None {
            endpoint: url("endpoint")?,
        },
        "password" | "v3password" => AuthMethod::Password {
            auth_url: url("auth_url")?,
            user: user_ref(&get)?.ok_or_else(|| {
                NeutronError::Config("[neutron] username or user_id is required".into())
            })?,
            password: get("password")
                .ok_or_else(|| NeutronError::Config("[neutron] password is required".into()))?,
            project: project_scope(&get),
        },
        "token" | "v3token" => AuthMethod::Token {
            auth_url: url("auth_url")?,
            token: get("token")
                .ok_or_else(|| NeutronError::Config("[neutron] token is required".into()))?,
            project: project_scope(&get),
        },
        "v3applicationcredential" | "applicationcredential" | "v3_application_credential" => {
            let credential = match (
                get("application_credential_id"),
                get("application_credential_name"),
            ) {
                (Some(id), _) => AppCredentialRef::Id(id),
                (None, Some(name)) => AppCredentialRef::Name {
                    name,
                    user: user_ref(&get)?.ok_or_else(|| {
                        NeutronError::Config(
                            "[neutron] application_credential_name needs username or user_id"
                                .into(),
                        )
                    })?,
                },
                (None, None) => {
                    return Err(NeutronError::Config(
                        "[neutron] application_credential_id or _name is required".into(),
                    ));
                }
            };
            AuthMethod::ApplicationCredential {
                auth_url: url("auth_url")?,
                credential,
                secret: get("application_credential_secret").ok_or_else(|| {
                    NeutronError::Config(
                        "[neutron] application_credential_secret is required".into(),
                    )
                })?,
            }
        }
        other => {
            return Err(NeutronError::Config(format!(
                "[neutron] auth_type = {other} is not supported"
            )));
        }
    };
    let mut options = ClientOptions::new(auth);
    options.cafile = get("cafile").map(PathBuf::from);
    if let Some(v) = get("insecure") {
        options.insecure = parse_bool(&v).ok_or_else(|| {
            NeutronError::Config(format!("[neutron] insecure = {v}: not a boolean"))
        })?;
    }
    if let Some(v) = get("timeout") {
        options.timeout = parse_timeout(&v)?;
    }
    options.region = get("region_name");
    if let Some(v) = get("endpoint_type") {
        options.interface = Interface::parse(&v).ok_or_else(|| {
            NeutronError::Config(format!(
                "[neutron] endpoint_type = {v}: expected public, internal or admin"
            ))
        })?;
    }
    Ok(options)
}

/// The longest per-request timeout accepted. A longer one is surely a mistake
/// (clouds.yaml `timeout: 1e20` would otherwise overflow `Duration`).
const MAX_TIMEOUT_SECS: f64 = 3600.0;

/// A positive number of seconds, at most [`MAX_TIMEOUT_SECS`].
fn parse_timeout(v: &str) -> Result<Duration, NeutronError> {
    let bad = |why: &str| NeutronError::Config(format!("[neutron] timeout = {v}: {why}"));
    let secs: f64 = v
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .ok_or_else(|| bad("not a positive number"))?;
    if secs > MAX_TIMEOUT_SECS {
        return Err(bad(&format!("more than {MAX_TIMEOUT_SECS} s")));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| bad(&e.to_string()))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn domain(get: &dyn Fn(&str) -> Option<String>, prefix: &str) -> NameOrId {
    match (
        get(&format!("{prefix}_domain_id")),
        get(&format!("{prefix}_domain_name")),
    ) {
        (Some(id), _) => NameOrId::Id(id),
        (None, Some(name)) => NameOrId::Name(name),
        // keystoneauth leaves this to the server; every deployment has the `default`
        // domain and devstack-style configs that omit the domain mean it.
        (None, None) => NameOrId::Id("default".into()),
    }
}

fn user_ref(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<UserRef>, NeutronError> {
    Ok(match (get("user_id"), get("username")) {
        (Some(id), _) => Some(UserRef::Id(id)),
        (None, Some(name)) => Some(UserRef::Name {
            name,
            domain: domain(get, "user"),
        }),
        (None, None) => None,
    })
}

fn project_scope(get: &dyn Fn(&str) -> Option<String>) -> Option<ProjectScope> {
    match (get("project_id"), get("project_name")) {
        (Some(id), _) => Some(ProjectScope::Id(id)),
        (None, Some(name)) => Some(ProjectScope::Name {
            name,
            domain: domain(get, "project"),
        }),
        (None, None) => None,
    }
}
