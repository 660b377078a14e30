//! The plugin's HTTP side: libnetwork JSON over a unix socket (or loopback TCP).
//!
//! Only this module knows HTTP, status codes and axum. `router` maps every protocol
//! method onto a `Driver` call and adds the operator's `GET /metrics` and `/healthz`
//! (`ops_router` serves those two alone, for a metrics listener); `serve` runs a
//! router on a listener until `shutdown` resolves.
//! Both take their dependencies from the caller, so tests drive `router` with
//! `oneshot` and `serve` with a socket in a temp dir.
//!
//! `serve` bounds what a client can hold ([`Limits`]): a connection must send its
//! request headers within a timeout (idle keep-alive connections included), the number
//! of connections and of calls in flight is capped, every call has a deadline, and
//! shutdown waits for running calls only for a grace period. Without these, slow or
//! idle clients could exhaust file descriptors, after which nft and ovs-vsctl cannot
//! spawn either, and one hung call would block shutdown forever.

mod extract;
mod guard;
mod log;
mod ops;
mod response;
mod routes;

use crate::Error;
use crate::driver::Driver;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;

pub use extract::{PluginJson, decode};
pub use guard::TcpBound;
pub use ops::HEALTH_TIMEOUT;
pub use ops::router as ops_router;
pub use routes::{router, router_with};

/// Shared state of every handler.
pub type SharedDriver = Arc<dyn Driver>;

/// Where the plugin listens: the unix socket dockerd discovers, or loopback TCP with a
/// spec file (kuryr-libnetwork's historical `http://127.0.0.1:23750`).
pub enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// What one client may hold of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// From the end of one request (or the connection's start) to the end of the next
    /// request's headers. Longer than dockerd's 30 s idle keep-alive, so dockerd closes
    /// idle connections first and never races our close with a new call.
    pub header_read_timeout: Duration,
    /// Open connections; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Calls being handled at once; more wait (within their deadline).
    pub max_in_flight: usize,
    /// One call, waiting for a slot included. Long, because Neutron calls with
    /// `vif_plugging_is_fatal` or a slow Keystone can take minutes; the point is that
    /// nothing waits forever.
    pub call_deadline: Duration,
    /// How long shutdown waits for calls still running before it stops without them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(60),
            max_connections: 256,
            max_in_flight: 64,
            call_deadline: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serve `router` until `shutdown` resolves, then finish in-flight calls (for at most
/// the default grace period).
pub async fn serve(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, Limits::default()).await
}

/// [`serve`] with explicit [`Limits`].
pub async fn serve_with(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> std::io::Result<()> {
    let bounds = Arc::new(CallBounds {
        in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
        deadline: limits.call_deadline,
    });
    let router = router.layer(middleware::from_fn_with_state(bounds, bound_call));
    match listener {
        Listener::Unix(listener) => accept_loop(listener, router, shutdown, &limits).await,
        Listener::Tcp(listener) => {
            // The guard checks `Host` against this address (TCP only).
            let router = router.layer(axum::Extension(TcpBound(listener.local_addr()?)));
            accept_loop(listener, router, shutdown, &limits).await
        }
    }
}

/// A listener `accept_loop` can take connections from.
trait Accept {
    type Io: AsyncRead + AsyncWrite + Send + Unpin + 'static;
    fn accept_io(&self) -> impl Future<Output = std::io::Result<Self::Io>> + Send;
}

impl Accept for UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept_io(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Accept for TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept_io(&self) -> std::io::Result<Self::Io> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

async fn accept_loop<L: Accept + Send + Sync>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &Limits,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        // The semaphore is never closed.
        let Ok(permit) = permit else { break };
        let stream = tokio::select! {
            accepted = listener.accept_io() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                // EMFILE and friends: back off instead of spinning; the connection
                // limit should keep us below the descriptor limit anyway.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(router.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Idle connections close at once; running calls get the grace period.
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = limits.shutdown_grace.as_secs(),
            "calls still running at shutdown; stopping without them"
        );
    }
    Ok(())
}

struct CallBounds {
    in_flight: Arc<Semaphore>,
    deadline: Duration,
}

/// A call waits for a slot and runs, both within its deadline; past it, the call is
/// dropped and the caller gets 504 `{"Err"}` naming the deadline.
async fn bound_call(
    State(bounds): State<Arc<CallBounds>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.uri().path().to_owned();
    let run = async {
        // The semaphore is never closed; a missing permit would only mean no limit.
        let _permit = bounds.in_flight.clone().acquire_owned().await.ok();
        next.run(request).await
    };
    match tokio::time::timeout(bounds.deadline, run).await {
        Ok(response) => response,
        Err(_) => {
            let error = Error::Unsupported(format!(
                "{} did not finish within the plugin's {} s deadline",
                method.trim_start_matches('/'),
                bounds.deadline.as_secs()
            ));
            tracing::error!(%error, "call abandoned");
            response::error_response(StatusCode::GATEWAY_TIMEOUT, error)
        }
    }
}
