//! The plugin's HTTP side: libnetwork JSON over a unix socket (or loopback TCP).
//!
//! Only this module knows HTTP, status codes and axum. `router` maps every protocol
//! method onto a `Driver` call; `serve` runs it on a listener until `shutdown` resolves.
//! Both take their dependencies from the caller, so tests drive `router` with
//! `oneshot` and `serve` with a socket in a temp dir.

mod extract;
mod log;
mod response;
mod routes;

use crate::driver::Driver;
use axum::Router;
use std::future::Future;
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};

pub use extract::{PluginJson, decode};
pub use routes::router;

/// Shared state of every handler.
pub type SharedDriver = Arc<dyn Driver>;

/// Where the plugin listens: the unix socket dockerd discovers, or loopback TCP with a
/// spec file (kuryr-libnetwork's historical `http://127.0.0.1:23750`).
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Serve `router` until `shutdown` resolves, then finish in-flight calls.
pub async fn serve(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match listener {
        Listener::Unix(listener) => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Listener::Tcp(listener) => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
