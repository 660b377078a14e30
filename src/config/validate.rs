//! Stage two: [`RawConfig`] → [`Config`]. Every option is checked even after
//! one fails, so all invalid values come back together; unknown and ignored
//! options become warnings.

use std::path::PathBuf;

use super::env::Env;
use super::error::{Invalid, Warning};
use super::keys::{self, REDACTED};
use super::listen::{DEFAULT_KURYR_URI, Listen, parse_listen, parse_metrics_listen};
use super::neutron::Section;
use super::pools::{DEFAULT_ADDRESS_POOLS, parse_pools};
use super::raw::{DEFAULT_SECTION, RawConfig};
use super::values::{
    parse_absolute_dir, parse_bool, parse_choice, parse_non_empty, parse_veth_dst_prefix,
};
use super::{Backend, BackendKind, Config, LogLevel, Packaging, Scope};

const D: &str = DEFAULT_SECTION;

/// kuryr-libnetwork's answer to GetDefaultAddressSpaces.
pub const DEFAULT_ADDRESS_SPACE: &str = "no_address_space";
pub const DEFAULT_CAPABILITY_SCOPE: Scope = Scope::Local;
pub const DEFAULT_STATE_DIR: &str = "/var/lib/kuryr";
/// One lock per host: reconcile rewrites host-wide things (the `inet kuryr` table,
/// every `kbr*`/`kv*` link), so two plugins must never run at once, whatever their
/// `state_dir`. Under `/run` so it disappears at reboot.
pub const DEFAULT_LOCK_FILE: &str = "/run/kuryr/kuryr.lock";
/// Where dockerd looks for `*.spec` files of TCP plugins.
pub const DEFAULT_SPEC_DIR: &str = "/etc/docker/plugins";
pub const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;
pub const DEFAULT_VETH_DST_PREFIX: &str = "eth";
pub const DEFAULT_PROCESS_EXTERNAL_CONNECTIVITY: bool = true;
/// kuryr-lib's default; pip installs the scripts under `<prefix>/libexec/kuryr`.
pub const DEFAULT_BINDIR: &str = "/usr/libexec/kuryr";
pub const DEFAULT_SUBNETPOOL_PREFIX: &str = "kuryrPool";

/// Environment variables kuryr-libnetwork used as option defaults; a value
/// in the file wins over them.
pub const ENV_KURYR_URI: &str = "OS_KURYR_URI";
pub const ENV_CAPABILITY_SCOPE: &str = "CAPABILITY_SCOPE";
/// The managed plugin's (and kuryr-libnetwork's container's) log level variable.
pub const ENV_LOG_LEVEL: &str = "LOG_LEVEL";
/// Set by kuryr's packaging (`scripts/managed-plugin.sh`, `scripts/container-image.sh`).
pub const ENV_PACKAGING: &str = "KURYR_PACKAGING";

const SCOPES: &[(&str, Scope)] = &[("local", Scope::Local), ("global", Scope::Global)];
const BACKENDS: &[(&str, BackendKind)] = &[
    ("embedded", BackendKind::Embedded),
    ("neutron", BackendKind::Neutron),
];
const LOG_LEVELS: &[(&str, LogLevel)] = &[
    ("error", LogLevel::Error),
    ("warn", LogLevel::Warn),
    ("info", LogLevel::Info),
    ("debug", LogLevel::Debug),
    ("trace", LogLevel::Trace),
];

/// Turn a parsed file into a [`Config`], or the full list of what is wrong.
pub fn validate(raw: &RawConfig, env: &dyn Env) -> Result<(Config, Vec<Warning>), Vec<Invalid>> {
    let mut c = Checker {
        raw,
        env,
        invalid: Vec::new(),
        warnings: Vec::new(),
    };
    c.warn_unknown();

    let listen = c.listen();
    let allow_remote_listen = c
        .read(D, "allow_remote_listen", parse_bool)
        .map(|v| v.unwrap_or(false));
    if let (Some(listen), Some(allow)) = (&listen, allow_remote_listen) {
        c.check_exposure("kuryr_uri", listen, allow);
    }
    let metrics_listen = c
        .read(D, "metrics_listen", parse_metrics_listen)
        .map(Option::flatten);
    if let (Some(Some(address)), Some(allow)) = (metrics_listen, allow_remote_listen) {
        c.check_exposure("metrics_listen", &Listen::Tcp(address), allow);
    }
    let socket_group = c.read(D, "socket_group", parse_non_empty);
    let lock_file = c
        .read(D, "lock_file", parse_absolute_dir)
        .map(|v| v.unwrap_or_else(|| PathBuf::from(DEFAULT_LOCK_FILE)));
    let capability_scope = c.capability_scope();
    let local_space = c
        .read(D, "local_default_address_space", parse_non_empty)
        .map(|v| v.unwrap_or_else(|| DEFAULT_ADDRESS_SPACE.to_owned()));
    let global_space = c
        .read(D, "global_default_address_space", parse_non_empty)
        .map(|v| v.unwrap_or_else(|| DEFAULT_ADDRESS_SPACE.to_owned()));
    let state_dir = c
        .read(D, "state_dir", parse_absolute_dir)
        .map(|v| v.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)));
    let spec_dir = c
        .read(D, "spec_dir", parse_absolute_dir)
        .map(|v| v.unwrap_or_else(|| PathBuf::from(DEFAULT_SPEC_DIR)));
    let pools = c.default_address_pools();
    let log_level = c.log_level();
    let veth_dst_prefix = c
        .read("binding", "veth_dst_prefix", parse_veth_dst_prefix)
        .map(|v| v.unwrap_or_else(|| DEFAULT_VETH_DST_PREFIX.to_owned()));
    let external = c
        .read(D, "process_external_connectivity", parse_bool)
        .map(|v| v.unwrap_or(DEFAULT_PROCESS_EXTERNAL_CONNECTIVITY));
    let bindir = c
        .read(D, "bindir", parse_absolute_dir)
        .map(|v| v.unwrap_or_else(|| PathBuf::from(DEFAULT_BINDIR)));
    let pool_prefix = c
        .read(D, "subnetpool_name_prefix", parse_non_empty)
        .map(|v| v.unwrap_or_else(|| DEFAULT_SUBNETPOOL_PREFIX.to_owned()));
    let section = c.neutron_section();
    let neutron = c.neutron_config();
    let kind = c.backend_kind(&section);
    let backend = match kind {
        Some(kind) => c.backend(kind, &section),
        // Still check what the file says, so every mistake is reported now.
        None => c.check_client_values(&section).and(None),
    };
    let nesting = c.nesting(kind);
    let port_pools = c.port_pools(kind, nesting.as_ref().is_some_and(Option::is_some));
    c.check_unimplemented();
    let packaging = match env.var(ENV_PACKAGING).as_deref() {
        Some("managed-plugin") => Packaging::ManagedPlugin,
        Some("container") => Packaging::Container,
        _ => Packaging::Host,
    };

    let (
        Some(listen),
        Some(capability_scope),
        Some(local_default_address_space),
        Some(global_default_address_space),
        Some(backend),
        Some(state_dir),
        Some(default_address_pools),
        Some(spec_dir),
        Some(log_level),
        Some(veth_dst_prefix),
        Some(process_external_connectivity),
        Some(bindir),
        Some(subnetpool_name_prefix),
        Some(allow_remote_listen),
        Some(socket_group),
        Some(lock_file),
        Some(nesting),
        Some(port_pools),
        Some(neutron),
    ) = (
        listen,
        capability_scope,
        local_space,
        global_space,
        backend,
        state_dir,
        pools,
        spec_dir,
        log_level,
        veth_dst_prefix,
        external,
        bindir,
        pool_prefix,
        allow_remote_listen,
        socket_group,
        lock_file,
        nesting,
        port_pools,
        neutron,
    )
    else {
        return Err(c.invalid);
    };
    if !c.invalid.is_empty() {
        return Err(c.invalid);
    }
    // `None` only when invalid, which was recorded and returned just above.
    let metrics_listen = metrics_listen.flatten();
    let config = Config {
        listen,
        allow_remote_listen,
        metrics_listen,
        socket_group,
        lock_file,
        capability_scope,
        local_default_address_space,
        global_default_address_space,
        backend,
        state_dir,
        default_address_pools,
        spec_dir,
        log_level,
        veth_dst_prefix,
        process_external_connectivity,
        bindir,
        subnetpool_name_prefix,
        neutron,
        nesting,
        port_pools,
        packaging,
    };
    Ok((config, c.warnings))
}

pub(super) struct Checker<'a> {
    raw: &'a RawConfig,
    env: &'a dyn Env,
    invalid: Vec<Invalid>,
    warnings: Vec<Warning>,
}

impl<'a> Checker<'a> {
    pub(super) fn raw(&self) -> &'a RawConfig {
        self.raw
    }

    pub(super) fn env(&self) -> &'a dyn Env {
        self.env
    }

    pub(super) fn value(&self, section: &str, key: &str) -> Option<&'a str> {
        self.raw.get(section, key).map(|e| e.value.as_str())
    }

    pub(super) fn invalid(
        &mut self,
        section: &str,
        key: &str,
        value: &str,
        message: impl Into<String>,
    ) {
        let value = if keys::is_secret(key) && !value.is_empty() {
            REDACTED.to_owned()
        } else {
            crate::neutron::without_userinfo(value)
        };
        self.invalid.push(Invalid {
            section: section.to_owned(),
            key: key.to_owned(),
            value,
            message: message.into(),
        });
    }

    /// Said once, however many checks come across it.
    pub(super) fn warn(&mut self, section: &str, key: &str, message: impl Into<String>) {
        let warning = Warning {
            section: section.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        };
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// `None`: present and invalid (recorded). `Some(None)`: absent.
    pub(super) fn read<T>(
        &mut self,
        section: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let Some(value) = self.value(section, key) else {
            return Some(None);
        };
        match parse(value) {
            Ok(v) => Some(Some(v)),
            Err(message) => {
                let value = value.to_owned();
                self.invalid(section, key, &value, message);
                None
            }
        }
    }

    /// For an option whose default kuryr-libnetwork took from the
    /// environment: the variable if set and non-empty, else `default`.
    /// (Python would take an empty variable literally and break later.)
    fn env_or_default<T>(
        &mut self,
        key: &str,
        var: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match self.env.var(var).filter(|v| !v.is_empty()) {
            None => Some(default),
            Some(value) => match parse(&value) {
                Ok(v) => Some(v),
                Err(message) => {
                    self.invalid(
                        D,
                        key,
                        &value,
                        format!("{message} (from environment variable {var})"),
                    );
                    None
                }
            },
        }
    }

    /// A default kept as text goes through the option's own parser. Tests
    /// show the defaults parse; should one ever not, it is reported like any
    /// other invalid value instead of panicking.
    fn builtin<T>(
        &mut self,
        key: &str,
        default: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match parse(default) {
            Ok(v) => Some(v),
            Err(message) => {
                self.invalid(D, key, default, format!("{message} (built-in default)"));
                None
            }
        }
    }

    fn warn_unknown(&mut self) {
        let raw = self.raw;
        for section in &raw.sections {
            let Some((_, known)) = keys::SECTIONS
                .iter()
                .find(|(name, _)| *name == section.name)
            else {
                self.warn(&section.name, "", "unknown section, ignored");
                continue;
            };
            for entry in &section.entries {
                if !known.contains(&entry.key.as_str()) {
                    self.warn(&section.name, &entry.key, "unknown option, ignored");
                }
            }
        }
    }

    fn listen(&mut self) -> Option<Listen> {
        match self.read(D, "kuryr_uri", parse_listen)? {
            Some(listen) => Some(listen),
            None => {
                let default = self.builtin("kuryr_uri", DEFAULT_KURYR_URI, parse_listen)?;
                self.env_or_default("kuryr_uri", ENV_KURYR_URI, default, parse_listen)
            }
        }
    }

    /// A listener other hosts can reach is refused unless asked for by name: the
    /// plugin API has no authentication, and its callers control host bridges and
    /// spend kuryr's Neutron credentials. `metrics_listen` serves no call, but the
    /// pools and Neutron traffic it shows are no one else's business either. When allowed, the warning is logged at start
    /// and printed by `check-config`.
    fn check_exposure(&mut self, key: &str, listen: &Listen, allow: bool) {
        if !listen.is_remote() {
            return;
        }
        let shown = match listen {
            Listen::Tcp(address) => address.to_string(),
            Listen::Unix(path) => path.display().to_string(),
        };
        if allow {
            self.warn(
                D,
                key,
                format!(
                    "listening on {shown}, reachable from other hosts, with no authentication \
                     (allow_remote_listen = true)"
                ),
            );
        } else {
            let instead = match key {
                "kuryr_uri" => "a unix socket or 127.0.0.1",
                _ => "127.0.0.1",
            };
            self.invalid(
                D,
                key,
                &shown,
                format!(
                    "a TCP listener other hosts can reach has no authentication; use {instead}, \
                     or set allow_remote_listen = true to accept the risk"
                ),
            );
        }
    }

    fn capability_scope(&mut self) -> Option<Scope> {
        match self.read(D, "capability_scope", |v| parse_choice(v, SCOPES))? {
            Some(scope) => Some(scope),
            None => self.env_or_default(
                "capability_scope",
                ENV_CAPABILITY_SCOPE,
                DEFAULT_CAPABILITY_SCOPE,
                |v| parse_choice(v, SCOPES),
            ),
        }
    }

    /// One [`Invalid`] per bad entry, so the operator sees each.
    fn default_address_pools(&mut self) -> Option<Vec<crate::ipam::DefaultPool>> {
        let key = "default_address_pools";
        let value = self
            .value(D, key)
            .unwrap_or(DEFAULT_ADDRESS_POOLS)
            .to_owned();
        match parse_pools(&value) {
            Ok(pools) => Some(pools),
            Err(errors) => {
                for e in errors {
                    self.invalid(D, key, &e.entry, e.message);
                }
                None
            }
        }
    }

    /// oslo.log's `debug = True` means debug; our `log_level` is finer and
    /// wins when both are set.
    fn log_level(&mut self) -> Option<LogLevel> {
        let debug = self.read(D, "debug", parse_bool);
        let level = self.read(D, "log_level", |v| parse_choice(v, LOG_LEVELS))?;
        let debug = debug?;
        match (level, debug) {
            (Some(level), _) => Some(level),
            (None, Some(true)) => Some(LogLevel::Debug),
            // kuryr-libnetwork's container spells it INFO, DEBUG, ...
            (None, _) => self.env_or_default("log_level", ENV_LOG_LEVEL, DEFAULT_LOG_LEVEL, |v| {
                parse_choice(&v.to_ascii_lowercase(), LOG_LEVELS)
            }),
        }
    }

    /// Explicit `backend` wins; otherwise Neutron exactly when `[neutron]` or the
    /// environment says where Neutron is, so existing kuryr.conf files keep using it
    /// and a managed plugin configured only with `OS_*` gets it.
    fn backend_kind(&mut self, section: &Section) -> Option<BackendKind> {
        let located = self.neutron_located(section);
        match self.read(D, "backend", |v| parse_choice(v, BACKENDS))? {
            Some(BackendKind::Neutron) if !located => {
                self.invalid(
                    D,
                    "backend",
                    "neutron",
                    "[neutron] needs auth_url (Keystone) or endpoint (auth_type = none), \
                     or the environment OS_CLOUD, OS_AUTH_URL or OS_ENDPOINT",
                );
                None
            }
            Some(kind) => Some(kind),
            None if located => Some(BackendKind::Neutron),
            None => Some(BackendKind::Embedded),
        }
    }

    /// The backend with what it needs; the Neutron client's options are checked
    /// whatever the backend, its credentials only for Neutron.
    fn backend(&mut self, kind: BackendKind, section: &Section) -> Option<Backend> {
        match kind {
            BackendKind::Embedded => self
                .check_client_values(section)
                .map(|()| Backend::Embedded),
            BackendKind::Neutron => self
                .client_options(section)
                .map(|options| Backend::Neutron(Box::new(options))),
        }
    }

    /// Options kuryr-libnetwork honours that we do not implement.
    fn check_unimplemented(&mut self) {
        // TLS: Invalid rather than a warning. The operator asked for an
        // encrypted listener; starting in plain text would be a silent
        // downgrade, and a dockerd set up with an https spec could not talk
        // to us anyway. A unix socket needs no TLS.
        let ssl = self.read(D, "enable_ssl", parse_bool);
        match ssl {
            Some(Some(true)) => {
                let value = self.value(D, "enable_ssl").unwrap_or_default().to_owned();
                self.invalid(
                    D,
                    "enable_ssl",
                    &value,
                    "TLS on the plugin listener is not supported; use a unix socket",
                );
            }
            // Invalid already reported, or TLS off: the file names alone are
            // harmless, as they were in Python, but say they do nothing.
            None => {}
            Some(_) => {
                for key in ["ssl_cert_file", "ssl_key_file"] {
                    if self.value(D, key).is_some() {
                        self.warn(
                            D,
                            key,
                            "ignored: TLS on the plugin listener is not supported",
                        );
                    }
                }
            }
        }
    }
}
