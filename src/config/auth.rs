//! The Neutron client's options: how to authenticate (`auth_type` and its fields),
//! where Neutron is (`endpoint`, or Keystone's catalog by `endpoint_type` and
//! `region_name`), TLS (`cafile`, `insecure`) and `timeout`, as keystoneauth names
//! them in `[neutron]`. When the section names neither `auth_url` nor `endpoint`,
//! the cloud `OS_CLOUD` names in `clouds.yaml` fills what it leaves out, and then
//! the `OS_*` variables do, as openstackclient reads them.
//!
//! Every mistake is reported at once, with where the value came from, and the
//! result is exactly what `serve` gives the client: `check-config` and `serve` run
//! this one path. Secrets never reach a message ([`Checker::invalid`] redacts).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::neutron::{
    AppCredentialRef, AuthMethod, ClientOptions, Interface, NameOrId, ProjectScope, UserRef,
};

use super::clouds;
use super::neutron::{SECTION, Section, current_name};
use super::validate::Checker;
use super::values::{parse_bool, parse_choice};

/// `[neutron]` key → the `OS_*` variable that fills it (openstackclient's names),
/// in order: the first one set wins.
pub const ENV_NAMES: &[(&str, &str)] = &[
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
    ("endpoint", "OS_NETWORK_ENDPOINT"),
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

/// The cloud of `clouds.yaml` to read.
pub const ENV_CLOUD: &str = "OS_CLOUD";

/// The keys that say where Neutron is: Keystone's, or Neutron's own (`auth_type =
/// none`). One of them, in the file or the environment, selects the Neutron backend.
const LOCATORS: [&str; 2] = ["auth_url", "endpoint"];

/// The longest per-request timeout accepted. A longer one is surely a mistake
/// (clouds.yaml `timeout: 1e20` would otherwise overflow `Duration`).
const MAX_TIMEOUT_SECS: f64 = 3600.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthKind {
    None,
    Password,
    Token,
    ApplicationCredential,
}

/// keystoneauth's plugin names, matched case-insensitively.
const AUTH_TYPES: &[(&str, AuthKind)] = &[
    ("none", AuthKind::None),
    ("noauth", AuthKind::None),
    ("password", AuthKind::Password),
    ("v3password", AuthKind::Password),
    ("token", AuthKind::Token),
    ("v3token", AuthKind::Token),
    ("v3applicationcredential", AuthKind::ApplicationCredential),
    ("applicationcredential", AuthKind::ApplicationCredential),
    ("v3_application_credential", AuthKind::ApplicationCredential),
];

/// kuryr-lib's `endpoint_type` choices.
const INTERFACES: &[(&str, Interface)] = &[
    ("public", Interface::Public),
    ("admin", Interface::Admin),
    ("internal", Interface::Internal),
];

/// keystoneauth scopes a token to one target; kuryr needs a project's.
const OTHER_SCOPES: [&str; 4] = ["domain_id", "domain_name", "trust_id", "system_scope"];

/// Where a value came from, for the message when it is wrong.
#[derive(Clone, Debug)]
enum Origin {
    File,
    Cloud { name: String, path: PathBuf },
    Env(&'static str),
}

impl Origin {
    fn suffix(&self) -> String {
        match self {
            Origin::File => String::new(),
            Origin::Cloud { name, path } => {
                format!(" (from cloud {name} in {})", path.display())
            }
            Origin::Env(var) => format!(" (from environment variable {var})"),
        }
    }
}

/// The client's option values under `[neutron]` names, non-empty and trimmed, each
/// with its origin.
struct Sourced {
    values: BTreeMap<&'static str, (String, Origin)>,
    /// Whether `clouds.yaml` and the environment were consulted (the section names
    /// no `auth_url` or `endpoint`), so a missing value can name its variable.
    fallback: bool,
}

impl Sourced {
    fn get(&self, key: &str) -> Option<&(String, Origin)> {
        self.values.get(key)
    }

    fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(|(v, _)| v.clone())
    }

    fn located(&self) -> bool {
        LOCATORS.iter().any(|key| self.values.contains_key(key))
    }

    /// `key` unless absent; `origin` fills only what is missing.
    fn fill(&mut self, key: &'static str, value: &str, origin: &Origin) {
        let value = value.trim();
        if !value.is_empty() {
            self.values
                .entry(key)
                .or_insert_with(|| (value.to_owned(), origin.clone()));
        }
    }
}

/// The client's values besides auth, whatever the backend.
struct ClientValues {
    cafile: Option<PathBuf>,
    insecure: bool,
    timeout: Option<Duration>,
    region: Option<String>,
    interface: Interface,
}

/// One of two keys naming the same thing by id or by name.
enum Picked {
    Id(String),
    Name(String),
}

impl Checker<'_> {
    /// A variable's value, unless unset or blank (a managed plugin's unset settings
    /// are empty variables).
    fn env_value(&self, var: &str) -> Option<String> {
        self.env()
            .var(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Whether the file or the environment says where Neutron is, which selects the
    /// Neutron backend when `backend` is not set.
    pub(super) fn neutron_located(&self, section: &Section) -> bool {
        LOCATORS.iter().any(|key| section.non_empty(key).is_some())
            || self.env_value(ENV_CLOUD).is_some()
            || ENV_NAMES
                .iter()
                .any(|(key, var)| LOCATORS.contains(key) && self.env_value(var).is_some())
    }

    /// The Neutron backend's client options; `None` when something is wrong
    /// (recorded, all of it).
    pub(super) fn client_options(&mut self, section: &Section) -> Option<ClientOptions> {
        let sourced = self.sources(section, true)?;
        let values = self.client_values(&sourced);
        let auth = self.auth_method(&sourced);
        let (values, auth) = (values?, auth?);
        let mut options = ClientOptions::new(auth);
        options.insecure = values.insecure;
        options.region = values.region;
        options.interface = values.interface;
        if let Some(timeout) = values.timeout {
            options.timeout = timeout;
        }
        if let Some(cafile) = values.cafile {
            options.cafile = Some(cafile);
            // What the client does with it at start: read it and trust what it holds.
            if let Err(error) = options.http_client() {
                if let Some((value, origin)) = sourced.get("cafile") {
                    self.invalid(
                        SECTION,
                        "cafile",
                        value,
                        format!("{error}{}", origin.suffix()),
                    );
                }
                return None;
            }
        }
        Some(options)
    }

    /// With the embedded backend, only the file's values are checked (no auth is
    /// needed), so a typo still fails now rather than after a switch to Neutron.
    pub(super) fn check_client_values(&mut self, section: &Section) -> Option<()> {
        let sourced = self.sources(section, false)?;
        self.client_values(&sourced).map(drop)
    }

    /// The file's values, then (`fallback`, and when the file does not say where
    /// Neutron is) the cloud's, then the environment's, each filling only what is
    /// still missing.
    fn sources(&mut self, section: &Section, fallback: bool) -> Option<Sourced> {
        let mut sourced = Sourced {
            values: BTreeMap::new(),
            fallback: fallback && !LOCATORS.iter().any(|k| section.non_empty(k).is_some()),
        };
        for (key, value) in section.entries() {
            sourced.fill(key, value, &Origin::File);
        }
        if !sourced.fallback {
            return Some(sourced);
        }
        if let Some(name) = self.env_value(ENV_CLOUD) {
            let cloud = match clouds::find(&name, self.env()) {
                Ok(cloud) => cloud,
                Err(message) => {
                    self.invalid("environment", ENV_CLOUD, &name, message);
                    return None;
                }
            };
            let origin = Origin::Cloud {
                name,
                path: cloud.path,
            };
            // A current name wins over a deprecated one, as in the file.
            let mut entry: BTreeMap<&'static str, &str> = BTreeMap::new();
            for (key, value) in &cloud.values {
                if let Some(name) = current_name(key)
                    && (name == key || !entry.contains_key(name))
                {
                    entry.insert(name, value);
                }
            }
            for (key, value) in entry {
                sourced.fill(key, value, &origin);
            }
        }
        if !sourced.located() {
            for (key, var) in ENV_NAMES {
                if let Some(value) = self.env_value(var) {
                    sourced.fill(key, &value, &Origin::Env(var));
                }
            }
        }
        Some(sourced)
    }

    /// `key`'s value through `parse`: `Some(None)` when absent, `None` when invalid
    /// (recorded with its origin).
    fn parse_sourced<T>(
        &mut self,
        sourced: &Sourced,
        key: &str,
        parse: impl FnOnce(&str, &Origin) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let Some((value, origin)) = sourced.get(key) else {
            return Some(None);
        };
        match parse(value, origin) {
            Ok(v) => Some(Some(v)),
            Err(message) => {
                self.invalid(SECTION, key, value, format!("{message}{}", origin.suffix()));
                None
            }
        }
    }

    fn client_values(&mut self, sourced: &Sourced) -> Option<ClientValues> {
        let bool_of = |v: &str, _: &Origin| parse_bool(v);
        let insecure = self.parse_sourced(sourced, "insecure", bool_of);
        // keystoneauth's session options kuryr has no use for, checked all the same.
        let timing = self.parse_sourced(sourced, "collect_timing", bool_of);
        let loggers = self.parse_sourced(sourced, "split_loggers", bool_of);
        let timeout = self.parse_sourced(sourced, "timeout", |v, _| parse_timeout(v));
        let interface = self.parse_sourced(sourced, "endpoint_type", parse_interface);
        timing?;
        loggers?;
        Some(ClientValues {
            cafile: sourced.text("cafile").map(PathBuf::from),
            insecure: insecure?.unwrap_or(false),
            timeout: timeout?,
            region: sourced.text("region_name"),
            interface: interface?.unwrap_or_default(),
        })
    }

    /// The configured credentials; `None` when they are incomplete or wrong.
    fn auth_method(&mut self, s: &Sourced) -> Option<AuthMethod> {
        let (kind, label) = match s.get("auth_type") {
            Some((value, origin)) => match parse_choice(&value.to_ascii_lowercase(), AUTH_TYPES) {
                Ok(kind) => (kind, format!("auth_type {value}")),
                Err(message) => {
                    let message = format!("{message}{}", origin.suffix());
                    self.invalid(SECTION, "auth_type", value, message);
                    return None;
                }
            },
            None if s.get("auth_url").is_some() => (
                AuthKind::Password,
                "auth_type password (the default with auth_url)".to_owned(),
            ),
            None => (
                AuthKind::None,
                "auth_type none (the default without auth_url)".to_owned(),
            ),
        };
        match kind {
            AuthKind::None => {
                let endpoint = self.required_url(s, "endpoint", &label)?;
                Some(AuthMethod::None { endpoint })
            }
            AuthKind::Password => {
                let auth_url = self.required_url(s, "auth_url", &label);
                let user = self.user(s, &label);
                let password = self.required(s, "password", &label);
                let project = self.project_scope(s);
                Some(AuthMethod::Password {
                    auth_url: auth_url?,
                    user: user?,
                    password: password?,
                    project: project?,
                })
            }
            AuthKind::Token => {
                let auth_url = self.required_url(s, "auth_url", &label);
                let token = self.required(s, "token", &label);
                let project = self.project_scope(s);
                Some(AuthMethod::Token {
                    auth_url: auth_url?,
                    token: token?,
                    project: project?,
                })
            }
            AuthKind::ApplicationCredential => {
                let auth_url = self.required_url(s, "auth_url", &label);
                let credential = self.app_credential(s, &label);
                let secret = self.required(s, "application_credential_secret", &label);
                Some(AuthMethod::ApplicationCredential {
                    auth_url: auth_url?,
                    credential: credential?,
                    secret: secret?,
                })
            }
        }
    }

    /// Records that `key` is missing; `what` says what is needed, when not just `key`.
    fn missing(&mut self, s: &Sourced, key: &str, label: &str, what: Option<&str>) {
        let mut message = format!("required with {label}");
        if let Some(what) = what {
            message = format!("{message}: {what}");
        }
        if s.fallback
            && let Some((_, var)) = ENV_NAMES.iter().find(|(k, _)| *k == key)
        {
            message = format!("{message} (or environment variable {var})");
        }
        self.invalid(SECTION, key, "", message);
    }

    fn required(&mut self, s: &Sourced, key: &str, label: &str) -> Option<String> {
        let value = s.text(key);
        if value.is_none() {
            self.missing(s, key, label, None);
        }
        value
    }

    fn required_url(&mut self, s: &Sourced, key: &str, label: &str) -> Option<Url> {
        match self.parse_sourced(s, key, |v, _| parse_url(v))? {
            Some(url) => Some(url),
            None => {
                self.missing(s, key, label, None);
                None
            }
        }
    }

    /// By id, else by name; both set is allowed (openrc files do it) and the id wins,
    /// as in keystoneauth, with a warning.
    fn pick(&mut self, s: &Sourced, id_key: &str, name_key: &str) -> Option<Picked> {
        match (s.text(id_key), s.get(name_key)) {
            (Some(id), name) => {
                if let Some((_, origin)) = name {
                    let message = format!("ignored: {id_key} is used{}", origin.suffix());
                    self.warn(SECTION, name_key, message);
                }
                Some(Picked::Id(id))
            }
            (None, Some((name, _))) => Some(Picked::Name(name.clone())),
            (None, None) => None,
        }
    }

    /// A user or project's domain: its own, else keystoneauth's `default_domain_*`,
    /// else the `default` domain every deployment has.
    fn domain(&mut self, s: &Sourced, prefix: &str) -> NameOrId {
        let own = self.pick(
            s,
            &format!("{prefix}_domain_id"),
            &format!("{prefix}_domain_name"),
        );
        match own.or_else(|| self.pick(s, "default_domain_id", "default_domain_name")) {
            Some(Picked::Id(id)) => NameOrId::Id(id),
            Some(Picked::Name(name)) => NameOrId::Name(name),
            None => NameOrId::Id("default".into()),
        }
    }

    fn user(&mut self, s: &Sourced, label: &str) -> Option<UserRef> {
        match self.pick(s, "user_id", "username") {
            Some(Picked::Id(id)) => Some(UserRef::Id(id)),
            Some(Picked::Name(name)) => Some(UserRef::Name {
                name,
                domain: self.domain(s, "user"),
            }),
            None => {
                let app_credential = s.get("application_credential_id").is_some()
                    || s.get("application_credential_name").is_some();
                let what = if app_credential && s.get("auth_type").is_none() {
                    "username or user_id; for an application credential, set auth_type = \
                     v3applicationcredential"
                } else {
                    "username or user_id"
                };
                self.missing(s, "username", label, Some(what));
                None
            }
        }
    }

    /// `Some(None)`: unscoped (Keystone then scopes to the user's default project).
    fn project_scope(&mut self, s: &Sourced) -> Option<Option<ProjectScope>> {
        let mut valid = true;
        for key in OTHER_SCOPES {
            if let Some((value, origin)) = s.get(key) {
                let message = format!(
                    "not supported: kuryr needs a token scoped to a project (project_name or \
                     project_id), and keystoneauth scopes to one target{}",
                    origin.suffix()
                );
                self.invalid(SECTION, key, value, message);
                valid = false;
            }
        }
        let scope = match self.pick(s, "project_id", "project_name") {
            Some(Picked::Id(id)) => Some(ProjectScope::Id(id)),
            Some(Picked::Name(name)) => Some(ProjectScope::Name {
                name,
                domain: self.domain(s, "project"),
            }),
            None => None,
        };
        valid.then_some(scope)
    }

    fn app_credential(&mut self, s: &Sourced, label: &str) -> Option<AppCredentialRef> {
        match self.pick(
            s,
            "application_credential_id",
            "application_credential_name",
        ) {
            Some(Picked::Id(id)) => Some(AppCredentialRef::Id(id)),
            Some(Picked::Name(name)) => {
                let user = self.user(s, &format!("{label} and application_credential_name"))?;
                Some(AppCredentialRef::Name { name, user })
            }
            None => {
                let what = "application_credential_id or application_credential_name";
                self.missing(s, "application_credential_id", label, Some(what));
                None
            }
        }
    }
}

/// Keystone's or Neutron's URL: http or https, with a host.
fn parse_url(value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("expected an http:// or https:// URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    Ok(url)
}

/// A positive number of seconds, at most [`MAX_TIMEOUT_SECS`].
fn parse_timeout(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .ok_or("expected a positive number of seconds")?;
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!("at most {MAX_TIMEOUT_SECS} s"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// kuryr-lib's choices, exactly, in the file; `clouds.yaml` and `OS_INTERFACE` may
/// also say `publicURL` or `Public`, which keystoneauth's adapter accepts.
fn parse_interface(value: &str, origin: &Origin) -> Result<Interface, String> {
    match origin {
        Origin::File => parse_choice(value, INTERFACES),
        Origin::Cloud { .. } | Origin::Env(_) => {
            let lower = value.to_ascii_lowercase();
            parse_choice(lower.strip_suffix("url").unwrap_or(&lower), INTERFACES)
        }
    }
}
