//! `kuryr.conf`, read the way kuryr-libnetwork's oslo.config did, so an
//! existing file keeps working. Two stages, as in ripgrep's LowArgs→HiArgs:
//! [`raw`] turns INI text into strings with line numbers, and `validate`
//! turns those into a typed [`Config`], collecting every invalid value and
//! warning about options that are unknown or ignored.
//!
//! `config` is the configuration's one owner: every option, `[neutron]` whole
//! (the client's auth, endpoint, TLS and timeouts, completed from `clouds.yaml` and
//! `OS_*`, and the backend's own options), the environment variables that stand in
//! for options, and the host name `binding_host` defaults to. The rest of the
//! crate gets typed values and reads no key, variable or file of its own.
//! `check-config` and `serve` both load through [`load`], so a file one accepts the
//! other does too.
//!
//! Nothing here reads the process environment directly: lookups go through
//! [`Env`], so tests pass a map. `Config` has no `Default`; each default is a
//! named constant next to the code that parses the option.

mod auth;
mod clouds;
mod drivers;
mod env;
mod error;
mod keys;
mod listen;
mod locate;
mod neutron;
mod pools;
pub mod raw;
mod validate;
mod values;
mod vif_pool;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_drivers;
#[cfg(test)]
mod tests_neutron;

use std::path::{Path, PathBuf};

pub use drivers::{NestedDriver, Nesting};
pub use env::{Env, ProcessEnv};
pub use error::{ConfigError, Invalid, Warning};
pub use listen::{DEFAULT_HTTP_PORT, DEFAULT_KURYR_URI, Listen};
pub use neutron::{
    DEFAULT_OVS_BRIDGE, DEFAULT_SUBNETPOOL_V4, DEFAULT_SUBNETPOOL_V6, ENV_BINDING_HOST,
    NeutronConfig,
};
pub use pools::DEFAULT_ADDRESS_POOLS;
pub use validate::{
    DEFAULT_ADDRESS_SPACE, DEFAULT_BINDIR, DEFAULT_CAPABILITY_SCOPE, DEFAULT_LOCK_FILE,
    DEFAULT_LOG_LEVEL, DEFAULT_PROCESS_EXTERNAL_CONNECTIVITY, DEFAULT_SPEC_DIR, DEFAULT_STATE_DIR,
    DEFAULT_VETH_DST_PREFIX, ENV_CAPABILITY_SCOPE, ENV_KURYR_URI,
};
pub use values::{MAX_VETH_DST_PREFIX, bool_from_string};
pub use vif_pool::PortPools;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[DEFAULT] kuryr_uri`.
    pub listen: Listen,
    /// `[DEFAULT] allow_remote_listen`: a TCP listener other hosts can reach was
    /// asked for explicitly (it is refused otherwise).
    pub allow_remote_listen: bool,
    /// `[DEFAULT] metrics_listen`: a TCP listener serving only `/metrics` and
    /// `/healthz`; `None` (unset or empty) for none. Both are also on the plugin's own
    /// listener.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `[DEFAULT] socket_group`: the unix socket is 0660 and owned by this group
    /// (e.g. `docker`) instead of 0600.
    pub socket_group: Option<String>,
    /// `[DEFAULT] lock_file`: the host-wide lock one plugin holds while it runs, so
    /// a second one (even with another `state_dir`) stops before touching the host.
    pub lock_file: PathBuf,
    /// `[DEFAULT] capability_scope`, returned by GetCapabilities.
    pub capability_scope: Scope,
    /// `[DEFAULT] local_default_address_space`.
    pub local_default_address_space: String,
    /// `[DEFAULT] global_default_address_space`.
    pub global_default_address_space: String,
    /// `[DEFAULT] backend`, or detected from `[neutron]` and the environment; the
    /// Neutron backend with its client's options.
    pub backend: Backend,
    /// `[DEFAULT] state_dir`: the embedded backend's database lives here.
    pub state_dir: PathBuf,
    /// `[DEFAULT] default_address_pools`.
    pub default_address_pools: Vec<crate::ipam::DefaultPool>,
    /// `[DEFAULT] spec_dir`: where a TCP listener's `kuryr.spec` is written.
    pub spec_dir: PathBuf,
    /// `[DEFAULT] log_level`, else `debug = True` → Debug.
    pub log_level: LogLevel,
    /// `[binding] veth_dst_prefix`: Join's `DstPrefix`.
    pub veth_dst_prefix: String,
    /// `[DEFAULT] process_external_connectivity`.
    pub process_external_connectivity: bool,
    /// `[DEFAULT] bindir`: kuryr-lib binding scripts, for vif_types kuryr does not plug itself.
    pub bindir: PathBuf,
    /// `[DEFAULT] subnetpool_name_prefix`: kuryr's subnet pools are `<prefix>-<cidr>`.
    pub subnetpool_name_prefix: String,
    /// `[neutron]`: the Neutron backend's own options (its client's are in
    /// [`Backend::Neutron`]).
    pub neutron: NeutronConfig,
    /// Nested (VM) mode: `None` is the veth driver.
    pub nesting: Option<Nesting>,
    /// `[vif_pool]`: ports made ahead of time (Neutron backend); `None` is off.
    pub port_pools: Option<PortPools>,
    /// How kuryr was installed (env `KURYR_PACKAGING`), for start-up hints.
    pub packaging: Packaging,
}

/// How kuryr was installed, from `KURYR_PACKAGING`, which the managed plugin's
/// config.json and the container image set (never users); anything else is `Host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packaging {
    Host,
    ManagedPlugin,
    Container,
}

/// The plugin's capability scope (`capability_scope`), as the driver reports it.
pub use crate::model::Scope;

/// Which backend serves IPAM and networks, with what it needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    /// How the client reaches and authenticates to Neutron: `[neutron]`'s auth,
    /// endpoint, TLS and timeout options, completed from `clouds.yaml` (`OS_CLOUD`)
    /// and `OS_*` when the section names no `auth_url` or `endpoint`.
    Neutron(Box<crate::neutron::ClientOptions>),
}

impl Backend {
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Embedded => BackendKind::Embedded,
            Backend::Neutron(_) => BackendKind::Neutron,
        }
    }

    /// The Neutron client's options, for the Neutron backend.
    pub fn neutron_client(&self) -> Option<&crate::neutron::ClientOptions> {
        match self {
            Backend::Embedded => None,
            Backend::Neutron(options) => Some(options),
        }
    }
}

impl PartialEq<BackendKind> for Backend {
    fn eq(&self, kind: &BackendKind) -> bool {
        self.kind() == *kind
    }
}

/// Which backend, without its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Embedded,
    Neutron,
}

impl BackendKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Embedded => "embedded",
            BackendKind::Neutron => "neutron",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    /// The level as a `tracing_subscriber::EnvFilter` directive.
    pub fn as_filter(&self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A loaded configuration and how it came about.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// Unknown or ignored options, to be logged once logging is up.
    pub warnings: Vec<Warning>,
    /// The file read; `None` when no file was found and defaults apply.
    pub source: Option<PathBuf>,
}

/// Load `path` (`--config-file`), or without one the first file of oslo's
/// search path; with none found, the defaults (and the environment).
pub fn load(path: Option<&Path>, env: &dyn Env) -> Result<Loaded, ConfigError> {
    match path {
        Some(path) => load_file(path, env),
        None => load_first(&locate::candidates(env), env),
    }
}

fn load_first(candidates: &[PathBuf], env: &dyn Env) -> Result<Loaded, ConfigError> {
    match locate::first_existing(candidates) {
        Some(path) => load_file(path, env),
        None => from_ini_str("", "<defaults>", env),
    }
}

fn load_file(path: &Path, env: &dyn Env) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut loaded = from_ini_str(&text, &path.display().to_string(), env)?;
    loaded.source = Some(path.to_path_buf());
    Ok(loaded)
}

/// Parse and validate INI text; `origin` names it in syntax errors. The
/// result's `source` is `None`: no file was read.
pub fn from_ini_str(text: &str, origin: &str, env: &dyn Env) -> Result<Loaded, ConfigError> {
    let raw = raw::parse(text).map_err(|e| ConfigError::Syntax {
        path: origin.to_owned(),
        message: e.to_string(),
    })?;
    let (config, warnings) = validate::validate(&raw, env).map_err(ConfigError::Invalid)?;
    Ok(Loaded {
        config,
        warnings,
        source: None,
    })
}
