//! The route table: one entry per protocol method. Each entry decodes the wire body,
//! turns it into model values (`api::decode`, the one validation step), calls the
//! `Driver` in a task of its own, and encodes the reply. Unknown methods get 404 with
//! `{"Err"}`, which dockerd treats as "not implemented" (spec §1.4).
//!
//! The driver call is spawned, not awaited in place: hyper drops a handler's future
//! when the client hangs up, and a call dropped half-way would skip its own rollback
//! (a Neutron network created but never tagged, memory changed but never committed).
//! A spawned call always runs to its end, whoever is still listening.
//!
//! The operator's `GET /metrics` and `/healthz` (`ops.rs`) are merged in beside the
//! protocol, outside the call middleware.

use super::extract::body_limit;
use super::log::{log_call, record};
use super::response::error_response;
use super::{PluginJson, SharedDriver};
use crate::Error;
use crate::api::network as wire;
use crate::api::settle::{MAX_TIMEOUT_SECS, SettleRequest, SettleResponse};
use crate::api::{ActivateResponse, Empty, encode, ipam as wire_ipam};
use crate::metrics::Metrics;
use crate::model;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// Build the plugin's router over `driver`, with metrics of its own.
pub fn router(driver: SharedDriver) -> Router {
    let metrics = Arc::new(Metrics::new(driver.clone(), None));
    router_with(driver, metrics)
}

/// Build the plugin's router over `driver`, counting calls into `metrics`.
pub fn router_with(driver: SharedDriver, metrics: Arc<Metrics>) -> Router {
    STARTED.get_or_init(std::time::Instant::now);
    Router::new()
        .route("/Plugin.Activate", post(activate))
        .route("/NetworkDriver.GetCapabilities", post(network_capabilities))
        .route("/IpamDriver.GetCapabilities", post(ipam_capabilities))
        .route("/IpamDriver.GetDefaultAddressSpaces", post(default_spaces))
        .route(
            "/IpamDriver.RequestPool",
            call(|d, r: model::PoolRequest| async move {
                d.request_pool(r).await.map(wire_ipam::RequestPoolResponse::from)
            }),
        )
        .route(
            "/IpamDriver.ReleasePool",
            call(|d, r: model::PoolId| async move { d.release_pool(r).await.map(empty) }),
        )
        .route(
            "/IpamDriver.RequestAddress",
            call(|d, r: model::AddressRequest| async move {
                d.request_address(r).await.map(wire_ipam::RequestAddressResponse::from)
            }),
        )
        .route(
            "/IpamDriver.ReleaseAddress",
            call(|d, r: model::AddressRelease| async move {
                d.release_address(r).await.map(empty)
            }),
        )
        .route(
            "/NetworkDriver.GwAllocCheck",
            call(|d, r: model::GwAllocCheck| async move {
                d.gw_alloc_check(r).await.map(wire::GwAllocCheckResponse::from)
            }),
        )
        .route(
            "/NetworkDriver.CreateNetwork",
            call(|d, r: model::NetworkSpec| async move { d.create_network(r).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.DeleteNetwork",
            call(|d, r: model::NetworkId| async move { d.delete_network(r).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.AllocateNetwork",
            call(|d, r: model::NetworkAllocation| async move {
                d.allocate_network(r).await.map(encode::allocated)
            }),
        )
        .route(
            "/NetworkDriver.FreeNetwork",
            call(|d, r: FreedNetwork| async move { d.free_network(r.0).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.CreateEndpoint",
            call(|d, r: model::EndpointSpec| async move {
                d.create_endpoint(r).await.map(wire::CreateEndpointResponse::from)
            }),
        )
        .route(
            "/NetworkDriver.DeleteEndpoint",
            call(|d, r: model::EndpointRef| async move { d.delete_endpoint(r).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.EndpointOperInfo",
            call(|d, r: model::EndpointRef| async move {
                d.endpoint_oper_info(r).await.map(encode::oper_info)
            }),
        )
        .route(
            "/NetworkDriver.Join",
            call(|d, r: model::JoinSpec| async move {
                d.join(r).await.map(wire::JoinResponse::from)
            }),
        )
        .route(
            "/NetworkDriver.Leave",
            call(|d, r: model::EndpointRef| async move { d.leave(r).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.ProgramExternalConnectivity",
            call(|d, r: model::Connectivity| async move {
                d.program_external_connectivity(r).await.map(empty)
            }),
        )
        .route(
            "/NetworkDriver.RevokeExternalConnectivity",
            call(|d, r: model::EndpointRef| async move {
                d.revoke_external_connectivity(r).await.map(empty)
            }),
        )
        .route(
            "/NetworkDriver.DiscoverNew",
            call(|d, r: model::Discovery| async move { d.discover(r).await.map(empty) }),
        )
        .route(
            "/NetworkDriver.DiscoverDelete",
            call(|d, r: model::Discovery| async move { d.discover(r).await.map(empty) }),
        )
        .route(
            "/Kuryr.Settle",
            call(|d, r: Settle| async move {
                d.settle(r.0).await.map(|left| SettleResponse {
                    pending: left.pending,
                    errors: left.errors,
                })
            }),
        )
        .route("/Kuryr.Status", post(status))
        .fallback(unknown_method)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit()))
        .layer(middleware::from_fn(super::guard::guard))
        .layer(middleware::from_fn_with_state(metrics.clone(), log_call))
        .with_state(driver.clone())
        .merge(super::ops::router(driver, metrics))
}

fn empty(_: ()) -> Empty {
    Empty {}
}

/// A POST route: decode the wire body of `M`, check it into `M`, record its ids on
/// the log line, and run `f` to completion in its own task.
fn call<M, Resp, F, Fut>(f: F) -> MethodRouter<SharedDriver>
where
    M: FromWire + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(SharedDriver, M) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
{
    post(
        move |State(driver): State<SharedDriver>, PluginJson(wire): PluginJson<M::Wire>| async move {
            let request = M::from_wire(wire)?;
            request.record_ids();
            let task = tokio::spawn(f(driver, request));
            match task.await {
                Ok(result) => result.map(PluginJson),
                Err(join) => Err(Error::Unsupported(format!(
                    "internal error: the call did not finish ({join})"
                ))),
            }
        },
    )
}

async fn activate() -> PluginJson<ActivateResponse> {
    PluginJson(ActivateResponse::network_and_ipam())
}

async fn network_capabilities(
    State(driver): State<SharedDriver>,
) -> PluginJson<wire::CapabilitiesResponse> {
    PluginJson(encode::network_capabilities(driver.scope()))
}

async fn ipam_capabilities(
    State(driver): State<SharedDriver>,
) -> PluginJson<wire_ipam::CapabilitiesResponse> {
    PluginJson(encode::ipam_capabilities(driver.requires_mac_address()))
}

async fn default_spaces(
    State(driver): State<SharedDriver>,
) -> PluginJson<wire_ipam::DefaultAddressSpacesResponse> {
    PluginJson(driver.default_address_spaces().into())
}

/// `/Kuryr.Status` (kuryr's own): no request body to speak of, so no `call`.
async fn status(
    State(driver): State<SharedDriver>,
) -> Result<PluginJson<crate::api::status::StatusResponse>, Error> {
    let status = driver.status().await?;
    let uptime = STARTED.get().map(|t| t.elapsed().as_secs());
    Ok(PluginJson(crate::api::status::StatusResponse::new(
        status, "plugin", uptime,
    )))
}

/// When the first router was built: the plugin's start, for `/Kuryr.Status`.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

async fn unknown_method(uri: Uri) -> Response {
    let error = Error::Unsupported(format!("unknown plugin method {}", uri.path()));
    error_response(StatusCode::NOT_FOUND, error)
}

async fn method_not_allowed() -> Response {
    let error = Error::BadRequest("plugin methods are called with POST".into());
    error_response(StatusCode::METHOD_NOT_ALLOWED, error)
}

/// FreeNetwork's body is a NetworkID like DeleteNetwork's; a distinct type keeps the
/// two routes' log lines and decoding apart.
struct FreedNetwork(model::NetworkId);

/// `/Kuryr.Settle`'s timeout, checked against its cap.
struct Settle(Duration);

/// A model request and the wire body it is decoded from.
trait FromWire: Sized {
    type Wire: DeserializeOwned + Send + 'static;
    fn from_wire(wire: Self::Wire) -> Result<Self, Error>;
    /// Put the request's Docker ids on the call's log line (already validated, so
    /// bounded and printable).
    fn record_ids(&self) {}
}

macro_rules! from_wire {
    ($($model:ty => $wire:ty),* $(,)?) => {
        $(impl FromWire for $model {
            type Wire = $wire;
            fn from_wire(wire: $wire) -> Result<Self, Error> {
                Ok(<$model>::try_from(wire)?)
            }
            fn record_ids(&self) {
                self.ids(&mut |name, value| record(name, value));
            }
        })*
    };
}

from_wire! {
    model::PoolRequest => wire_ipam::RequestPoolRequest,
    model::PoolId => wire_ipam::ReleasePoolRequest,
    model::AddressRequest => wire_ipam::RequestAddressRequest,
    model::AddressRelease => wire_ipam::ReleaseAddressRequest,
    model::GwAllocCheck => wire::GwAllocCheckRequest,
    model::NetworkSpec => wire::CreateNetworkRequest,
    model::NetworkId => wire::NetworkRequest,
    model::NetworkAllocation => wire::AllocateNetworkRequest,
    model::EndpointSpec => wire::CreateEndpointRequest,
    model::EndpointRef => wire::EndpointRequest,
    model::JoinSpec => wire::JoinRequest,
    model::Connectivity => wire::ProgramExternalConnectivityRequest,
    model::Discovery => wire::DiscoveryRequest,
}

impl FromWire for FreedNetwork {
    type Wire = wire::NetworkRequest;
    fn from_wire(wire: wire::NetworkRequest) -> Result<Self, Error> {
        Ok(FreedNetwork(model::NetworkId::try_from(wire)?))
    }
    fn record_ids(&self) {
        record("network_id", &self.0);
    }
}

impl FromWire for Settle {
    type Wire = SettleRequest;
    fn from_wire(wire: SettleRequest) -> Result<Self, Error> {
        if wire.timeout > MAX_TIMEOUT_SECS {
            return Err(Error::BadRequest(format!(
                "Timeout {} is over the {MAX_TIMEOUT_SECS} s limit",
                wire.timeout
            )));
        }
        Ok(Settle(Duration::from_secs(wire.timeout)))
    }
}

/// Which Docker ids a model request carries.
trait CallIds {
    fn ids(&self, put: &mut dyn FnMut(&'static str, &str));
}

macro_rules! call_ids {
    ($($ty:ty => |$it:ident| [$($name:literal: $value:expr),*]),* $(,)?) => {
        $(impl CallIds for $ty {
            #[allow(unused_variables)]
            fn ids(&self, put: &mut dyn FnMut(&'static str, &str)) {
                let $it = self;
                $(put($name, $value);)*
            }
        })*
    };
}

call_ids! {
    model::PoolRequest => |it| [],
    model::PoolId => |it| ["pool_id": it],
    model::AddressRequest => |it| ["pool_id": &it.pool_id],
    model::AddressRelease => |it| ["pool_id": it.pool_id.as_deref().unwrap_or("")],
    model::GwAllocCheck => |it| [],
    model::NetworkSpec => |it| ["network_id": &it.id],
    model::NetworkId => |it| ["network_id": it],
    model::NetworkAllocation => |it| ["network_id": &it.id],
    model::EndpointSpec => |it| ["network_id": &it.network_id, "endpoint_id": &it.endpoint_id],
    model::EndpointRef => |it| ["network_id": &it.network_id, "endpoint_id": &it.endpoint_id],
    model::JoinSpec => |it| ["network_id": &it.network_id, "endpoint_id": &it.endpoint_id],
    model::Connectivity => |it| ["network_id": &it.network_id, "endpoint_id": &it.endpoint_id],
    model::Discovery => |it| [],
}
