//! Wires a validated `Config` into a running plugin: opens the backend, binds the
//! listener dockerd will find, serves until shutdown, and cleans up what it published.
//! It knows the backends and the listener, not argv or signals (those are `main`'s).

use crate::binding::{Binder, HostBinder};
use crate::config::{BackendKind, Config, Listen};
use crate::driver::Driver;
use crate::embedded::{Embedded, Settings};
use crate::hostnet::{HostNet, Netlink};
use crate::neutron;
use crate::neutron_driver::{self, NeutronDriver};
use crate::server::{self, Listener};
use crate::store::{Store, StoreError};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Run the plugin until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), DaemonError> {
    let driver = open_backend(&config).await?;
    let (listener, published) = bind(&config).await?;
    tracing::info!(listen = %describe(&config.listen), "serving");
    let result = server::serve(listener, server::router(driver.clone()), shutdown).await;
    // Remove what told dockerd where we are, so it fails fast instead of dialling a
    // dead address for 15 s.
    if let Err(error) = std::fs::remove_file(&published) {
        tracing::debug!(path = %published.display(), %error, "not removed");
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

async fn open_backend(config: &Config) -> Result<Arc<dyn Driver>, DaemonError> {
    match config.backend {
        BackendKind::Neutron => {
            // OS_* and OS_CLOUD fill what [neutron] leaves out; read through config's
            // Env, the one door to the environment.
            let env = crate::config::ProcessEnv;
            let options = neutron::from_section(&config.neutron.values, &|k| {
                crate::config::Env::var(&env, k)
            })?;
            let client = neutron::Client::new(options)?;
            let settings = neutron_driver::Settings::from_config(config);
            let binder: Arc<dyn Binder> = Arc::new(HostBinder::new(settings.binding.clone())?);
            let driver = Arc::new(NeutronDriver::new(client, settings, binder)?);
            // Warm up in the background: the plugin must answer dockerd even while
            // Neutron is still starting; calls retry the check until it succeeds.
            let probe = driver.clone();
            tokio::spawn(async move {
                if let Err(error) = probe.probe().await {
                    tracing::warn!(%error, "Neutron not usable yet; will retry on the next call");
                }
            });
            Ok(driver)
        }
        BackendKind::Embedded => {
            let (store, snapshot) = Store::open(&config.state_dir)?;
            let host: Arc<dyn HostNet> = Arc::new(Netlink::connect()?);
            let settings = Settings {
                scope: config.capability_scope,
                local_address_space: config.local_default_address_space.clone(),
                global_address_space: config.global_default_address_space.clone(),
                veth_dst_prefix: config.veth_dst_prefix.clone(),
                default_pools: config.default_address_pools.clone(),
            };
            Ok(Arc::new(
                Embedded::start(settings, store, snapshot, host).await,
            ))
        }
    }
}

/// Bind the listener; returns it and the file that advertises it to dockerd.
async fn bind(config: &Config) -> Result<(Listener, PathBuf), DaemonError> {
    match &config.listen {
        Listen::Unix(path) => {
            prepare_socket_path(path).await?;
            let listener =
                tokio::net::UnixListener::bind(path).map_err(|source| DaemonError::Listen {
                    what: path.display().to_string(),
                    source,
                })?;
            Ok((Listener::Unix(listener), path.clone()))
        }
        Listen::Tcp(address) => {
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

/// A socket file left by a killed plugin blocks `bind`; remove it, but only if nobody
/// answers on it: two plugins on one socket would split dockerd's calls.
async fn prepare_socket_path(path: &Path) -> Result<(), DaemonError> {
    let io_error = |source| DaemonError::Listen {
        what: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(DaemonError::SocketBusy(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_error)?;
    }
    Ok(())
}

fn write_spec_file(dir: &Path, url: &str) -> Result<PathBuf, DaemonError> {
    let path = dir.join(format!("{PLUGIN_NAME}.spec"));
    let spec_error = |source| DaemonError::SpecFile {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(spec_error)?;
    std::fs::write(&path, format!("{url}\n")).map_err(spec_error)?;
    Ok(path)
}

fn describe(listen: &Listen) -> String {
    match listen {
        Listen::Unix(path) => format!("unix://{}", path.display()),
        Listen::Tcp(address) => format!("http://{address}"),
    }
}
