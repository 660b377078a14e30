//! Wires a validated `Config` into a running plugin: takes the host-wide lock, binds
//! the listener dockerd will find (and `metrics_listen`'s, if set), opens the backend
//! with its metrics, serves until shutdown (or until the state database fails), and
//! cleans up what it published. It knows the backends
//! and the listener, not argv or signals (those are `main`'s).
//!
//! The order matters: the lock and the listener come before the backend, because
//! opening a backend repairs the host (reconcile deletes links and rewrites the shared
//! nft table), so a second plugin must fail before that, having changed nothing.

use crate::binding::{Binder, HostBinder, NestedBinder, NestedMode, NestedSettings};
use crate::config::{Backend, BackendKind, Config, Listen, Packaging};
use crate::driver::Driver;
use crate::embedded::{Embedded, Settings};
use crate::hostnet::{HostNet, Netlink};
use crate::metrics::{Metrics, NeutronRequests};
use crate::neutron;
use crate::neutron_driver::{self, NeutronDriver};
use crate::server::{self, Listener};
use crate::store::{Store, StoreError};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::future::Future;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    HostNet(#[from] crate::hostnet::HostNetError),
    #[error("cannot listen on {what}: {source}")]
    Listen {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is served by another running process; stop it first")]
    SocketBusy(PathBuf),
    #[error("{0} exists and is not a socket; not removing it (check kuryr_uri)")]
    NotASocket(PathBuf),
    #[error("socket_group {group}: {message}")]
    SocketGroup { group: String, message: String },
    #[error("cannot take the host lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another kuryr is running on this host (it holds {path}{holder}); stop it first")]
    Locked { path: PathBuf, holder: String },
    #[error("stopped: the state database failed ({0}); restart to reload from disk")]
    StoreFailed(String),
    #[error("cannot write plugin spec file {path}: {source}")]
    SpecFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Neutron(#[from] crate::neutron::NeutronError),
    #[error(transparent)]
    Binding(#[from] crate::binding::BindError),
}

/// How long shutdown waits for background deletes (systemd's stop timeout is 90 s).
const SHUTDOWN_SETTLE_SECS: u64 = 10;

/// The plugin name dockerd derives from the socket or spec file name.
pub const PLUGIN_NAME: &str = "kuryr";

/// Run the plugin until `shutdown` resolves, or until the state database fails (then
/// an error, so the process exits non-zero and its service manager restarts it from
/// what is on disk).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let _lock = lock_host(&config.lock_file)?;
    let (listener, published) = bind(&config).await?;
    let neutron_requests = NeutronRequests::default();
    let opened = async {
        let metrics_listener = bind_metrics(config.metrics_listen).await?;
        let (driver, store) = open_backend(&config, Arc::new(neutron_requests.clone())).await?;
        Ok::<_, DaemonError>((driver, store, metrics_listener))
    }
    .await;
    let (driver, store, metrics_listener) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            remove_published(&published);
            return Err(error);
        }
    };
    let neutron_requests = (config.backend == BackendKind::Neutron).then_some(neutron_requests);
    let metrics = Arc::new(Metrics::new(driver.clone(), neutron_requests));
    let metrics_at = config.metrics_listen.map(|address| address.to_string());
    tracing::info!(listen = %describe(&config.listen), metrics_listen = metrics_at, "serving");
    deployment_hints(&config);
    // The metrics listener stops when the plugin's does (its sender is dropped then).
    let (stop_metrics, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_server = metrics_listener.map(|listener| {
        let router = server::ops_router(driver.clone(), metrics.clone());
        tokio::spawn(server::serve(Listener::Tcp(listener), router, async {
            let _ = metrics_stopped.await;
        }))
    });
    let failure = Arc::new(OnceLock::new());
    let stop = stop_on(shutdown, store, failure.clone());
    let router = server::router_with(driver.clone(), metrics);
    let result = server::serve(listener, router, stop).await;
    drop(stop_metrics);
    // Remove what told dockerd where we are, so it fails fast instead of dialling a
    // dead address for 15 s.
    remove_published(&published);
    if let Some(task) = metrics_server
        && let Ok(Err(error)) = task.await
    {
        tracing::warn!(%error, "the metrics listener failed");
    }
    if let Some(reason) = failure.get() {
        return Err(DaemonError::StoreFailed(reason.clone()));
    }
    // Then give deletes still running after their answer a moment to finish, so a plugin
    // stopped to hand over to another (kuryr-libnetwork, a new version) leaves a
    // clean Neutron; what is left stays journaled for the next start.
    let left = driver
        .settle(std::time::Duration::from_secs(SHUTDOWN_SETTLE_SECS))
        .await;
    if let Ok(left) = left
        && left.pending > 0
    {
        tracing::warn!(
            pending = left.pending,
            "stopping with deletes pending; the next start resumes them"
        );
    }
    result.map_err(|source| DaemonError::Listen {
        what: describe(&config.listen),
        source,
    })
}

/// What Docker will refuse in this deployment, said once at start, where an operator
/// looks first, instead of only in dockerd's errors.
fn deployment_hints(config: &Config) {
    match (config.capability_scope, config.packaging) {
        (crate::config::Scope::Global, Packaging::ManagedPlugin) => tracing::info!(
            "global scope: networks need swarm mode; enable this plugin before `docker swarm init` \
             (dockerd 20.10's swarm allocator only sees plugins enabled when the manager starts: \
             \"could not resolve IPAM driver\"), and name it with its tag (-d NAME:latest)"
        ),
        (crate::config::Scope::Global, _) => tracing::warn!(
            "global scope outside a managed plugin: swarm refuses legacy plugins (\"legacy plugin \
             ... is not supported in swarm mode\"), and without swarm dockerd refuses global \
             networks (\"not a swarm manager\"); use scripts/managed-plugin.sh, or local scope"
        ),
        _ => {}
    }
}

/// `shutdown`, or the store's failure, whichever comes first; a failure is kept in
/// `failure` so `run` can report it.
async fn stop_on(
    shutdown: impl Future<Output = ()> + Send + 'static,
    store: Option<Store>,
    failure: Arc<OnceLock<String>>,
) {
    let Some(store) = store else {
        return shutdown.await;
    };
    tokio::select! {
        () = shutdown => {}
        reason = store.failed() => {
            tracing::error!(%reason, "the state database failed; stopping so the plugin restarts from disk");
            let _ = failure.set(reason);
        }
    }
}

fn remove_published(published: &Path) {
    if let Err(error) = std::fs::remove_file(published) {
        tracing::debug!(path = %published.display(), %error, "not removed");
    }
}

/// Take the host-wide lock for the life of the process (released by the kernel when it
/// exits, however it exits).
fn lock_host(path: &Path) -> Result<Flock<File>, DaemonError> {
    let lock_error = |source| DaemonError::Lock {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(lock_error)?;
    }
    let file = crate::store::private_file(path).map_err(lock_error)?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => {
            // Who holds it, for the next one's message; the lock is what counts.
            let _ = lock.set_len(0);
            let _ = std::io::Write::write_all(
                &mut &*lock,
                format!("{}\n", std::process::id()).as_bytes(),
            );
            Ok(lock)
        }
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            let holder = std::fs::read_to_string(path)
                .ok()
                .map(|pid| pid.trim().to_owned())
                .filter(|pid| !pid.is_empty())
                .map(|pid| format!(", pid {pid}"))
                .unwrap_or_default();
            Err(DaemonError::Locked {
                path: path.to_path_buf(),
                holder,
            })
        }
        Err((_, errno)) => Err(lock_error(errno.into())),
    }
}

/// The host side of nested mode, from the config's driver choice.
fn nested_settings(nesting: &crate::config::Nesting) -> NestedSettings {
    NestedSettings {
        link_iface: nesting.link_iface.clone(),
        mode: match nesting.driver {
            crate::config::NestedDriver::Macvlan => NestedMode::Macvlan,
            crate::config::NestedDriver::Vlan => NestedMode::Vlan,
        },
    }
}

/// The backend, and the embedded backend's store so `run` can stop when it fails. The
/// Neutron client tells `observer` about each of its requests.
async fn open_backend(
    config: &Config,
    observer: Arc<dyn neutron::Observer>,
) -> Result<(Arc<dyn Driver>, Option<Store>), DaemonError> {
    match &config.backend {
        Backend::Neutron(options) => {
            let client = neutron::Client::with_observer(options.as_ref().clone(), observer)?;
            let settings = neutron_driver::Settings::from_config(config);
            let binder: Arc<dyn Binder> = match &config.nesting {
                None => Arc::new(HostBinder::new(settings.binding.clone())?),
                Some(nesting) => Arc::new(NestedBinder::new(nested_settings(nesting))?),
            };
            let driver = Arc::new(NeutronDriver::new(client, settings, binder)?);
            // Warm up in the background: the plugin must answer dockerd even while
            // Neutron is still starting; calls retry the check until it succeeds.
            let probe = driver.clone();
            tokio::spawn(async move {
                if let Err(error) = probe.probe().await {
                    tracing::warn!(%error, "Neutron not usable yet; will retry on the next call");
                }
            });
            Ok((driver, None))
        }
        Backend::Embedded => {
            let (store, snapshot) = Store::open(&config.state_dir)?;
            let host: Arc<dyn HostNet> = Arc::new(Netlink::connect()?);
            let settings = Settings {
                scope: config.capability_scope,
                local_address_space: config.local_default_address_space.clone(),
                global_address_space: config.global_default_address_space.clone(),
                veth_dst_prefix: config.veth_dst_prefix.clone(),
                default_pools: config.default_address_pools.clone(),
            };
            let watched = store.clone();
            let driver: Arc<dyn Driver> =
                Arc::new(Embedded::start(settings, store, snapshot, host).await);
            Ok((driver, Some(watched)))
        }
    }
}

/// Bind the listener; returns it and the file that advertises it to dockerd.
async fn bind(config: &Config) -> Result<(Listener, PathBuf), DaemonError> {
    match &config.listen {
        Listen::Unix(path) => {
            let group = socket_group(config.socket_group.as_deref())?;
            prepare_socket_path(path).await?;
            let listener = bind_unix(path, group)?;
            Ok((Listener::Unix(listener), path.clone()))
        }
        Listen::Tcp(address) => {
            if config.listen.is_remote() {
                tracing::warn!(%address, "listening where other hosts can reach the plugin API, which has no authentication (allow_remote_listen = true)");
            }
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| DaemonError::Listen {
                    what: address.to_string(),
                    source,
                })?;
            let spec = write_spec_file(&config.spec_dir, &format!("http://{address}"))?;
            Ok((Listener::Tcp(listener), spec))
        }
    }
}

/// `metrics_listen`'s listener, if one is set (its exposure was checked with the
/// configuration).
async fn bind_metrics(
    address: Option<std::net::SocketAddr>,
) -> Result<Option<tokio::net::TcpListener>, DaemonError> {
    let Some(address) = address else {
        return Ok(None);
    };
    if crate::config::Listen::Tcp(address).is_remote() {
        tracing::warn!(%address, "metrics and health are served where other hosts can reach them (allow_remote_listen = true)");
    }
    tokio::net::TcpListener::bind(address)
        .await
        .map(Some)
        .map_err(|source| DaemonError::Listen {
            what: format!("metrics_listen {address}"),
            source,
        })
}

/// The gid of `socket_group` (a name or a number), checked before anything is bound.
fn socket_group(group: Option<&str>) -> Result<Option<nix::unistd::Gid>, DaemonError> {
    let Some(group) = group else {
        return Ok(None);
    };
    let error = |message: String| DaemonError::SocketGroup {
        group: group.to_owned(),
        message,
    };
    match nix::unistd::Group::from_name(group) {
        Ok(Some(found)) => Ok(Some(found.gid)),
        Ok(None) => match group.parse::<u32>() {
            Ok(gid) => Ok(Some(nix::unistd::Gid::from_raw(gid))),
            Err(_) => Err(error("no such group".to_owned())),
        },
        Err(errno) => Err(error(errno.to_string())),
    }
}

/// Bind the socket 0600 (0660 owned by `group`), whatever the umask: the umask is
/// narrowed around `bind` so the socket never exists with a wider mode, and the mode is
/// then set explicitly. Nothing else creates files at this point of start-up (the
/// backend is not open yet), so changing the process umask briefly is safe.
fn bind_unix(
    path: &Path,
    group: Option<nix::unistd::Gid>,
) -> Result<tokio::net::UnixListener, DaemonError> {
    use nix::sys::stat::{Mode, umask};
    let io_error = |source| DaemonError::Listen {
        what: path.display().to_string(),
        source,
    };
    let previous = umask(Mode::from_bits_truncate(0o177));
    let bound = tokio::net::UnixListener::bind(path);
    umask(previous);
    let listener = bound.map_err(io_error)?;
    let mode = match group {
        Some(gid) => {
            std::os::unix::fs::chown(path, None, Some(gid.as_raw())).map_err(io_error)?;
            0o660
        }
        None => 0o600,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_error)?;
    Ok(listener)
}

/// A socket file left by a killed plugin blocks `bind`; remove it, but only if it is a
/// socket and nobody answers on it: two plugins on one socket would split dockerd's
/// calls, and anything else there (a regular file from a mistyped `kuryr_uri`, a
/// symlink) is not ours to delete.
async fn prepare_socket_path(path: &Path) -> Result<(), DaemonError> {
    let io_error = |source| DaemonError::Listen {
        what: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io_error(error)),
        Ok(meta) if meta.file_type().is_socket() => {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(DaemonError::SocketBusy(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(io_error)
        }
        Ok(_) => Err(DaemonError::NotASocket(path.to_path_buf())),
    }
}

/// The spec file dockerd reads is public (0644) but written without following a
/// symlink, so a link planted at its path cannot redirect the write elsewhere.
fn write_spec_file(dir: &Path, url: &str) -> Result<PathBuf, DaemonError> {
    let path = dir.join(format!("{PLUGIN_NAME}.spec"));
    let spec_error = |source| DaemonError::SpecFile {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(spec_error)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(spec_error)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(spec_error)?;
    std::io::Write::write_all(&mut file, format!("{url}\n").as_bytes()).map_err(spec_error)?;
    Ok(path)
}

fn describe(listen: &Listen) -> String {
    match listen {
        Listen::Unix(path) => format!("unix://{}", path.display()),
        Listen::Tcp(address) => format!("http://{address}"),
    }
}
