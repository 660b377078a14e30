//! The route table: one entry per protocol method, each a thin adapter from
//! `PluginJson<Request>` to a `Driver` call. Unknown methods get 404 with `{"Err"}`,
//! which dockerd treats as "not implemented" (spec §1.4).

use super::extract::body_limit;
use super::log::{log_call, record};
use super::response::error_response;
use super::{PluginJson, SharedDriver};
use crate::Error;
use crate::api::{ActivateResponse, ipam, network, settle};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::Response;
use axum::routing::{MethodRouter, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Build the plugin's router over `driver`.
pub fn router(driver: SharedDriver) -> Router {
    Router::new()
        .route("/Plugin.Activate", post(activate))
        .route("/NetworkDriver.GetCapabilities", post(network_capabilities))
        .route("/IpamDriver.GetCapabilities", post(ipam_capabilities))
        .route("/IpamDriver.GetDefaultAddressSpaces", post(default_spaces))
        .route(
            "/IpamDriver.RequestPool",
            call(|d, r| async move { d.request_pool(r).await }),
        )
        .route(
            "/IpamDriver.ReleasePool",
            call(|d, r| async move { d.release_pool(r).await }),
        )
        .route(
            "/IpamDriver.RequestAddress",
            call(|d, r| async move { d.request_address(r).await }),
        )
        .route(
            "/IpamDriver.ReleaseAddress",
            call(|d, r| async move { d.release_address(r).await }),
        )
        .route(
            "/NetworkDriver.GwAllocCheck",
            call(|d, r| async move { d.gw_alloc_check(r).await }),
        )
        .route(
            "/NetworkDriver.CreateNetwork",
            call(|d, r| async move { d.create_network(r).await }),
        )
        .route(
            "/NetworkDriver.DeleteNetwork",
            call(|d, r| async move { d.delete_network(r).await }),
        )
        .route(
            "/NetworkDriver.AllocateNetwork",
            call(|d, r| async move { d.allocate_network(r).await }),
        )
        .route(
            "/NetworkDriver.FreeNetwork",
            call(|d, r| async move { d.free_network(r).await }),
        )
        .route(
            "/NetworkDriver.CreateEndpoint",
            call(|d, r| async move { d.create_endpoint(r).await }),
        )
        .route(
            "/NetworkDriver.DeleteEndpoint",
            call(|d, r| async move { d.delete_endpoint(r).await }),
        )
        .route(
            "/NetworkDriver.EndpointOperInfo",
            call(|d, r| async move { d.endpoint_oper_info(r).await }),
        )
        .route(
            "/NetworkDriver.Join",
            call(|d, r| async move { d.join(r).await }),
        )
        .route(
            "/NetworkDriver.Leave",
            call(|d, r| async move { d.leave(r).await }),
        )
        .route(
            "/NetworkDriver.ProgramExternalConnectivity",
            call(|d, r| async move { d.program_external_connectivity(r).await }),
        )
        .route(
            "/NetworkDriver.RevokeExternalConnectivity",
            call(|d, r| async move { d.revoke_external_connectivity(r).await }),
        )
        .route(
            "/NetworkDriver.DiscoverNew",
            call(|d, r| async move { d.discover(r).await }),
        )
        .route(
            "/Kuryr.Settle",
            call(|d, r| async move { d.settle(r).await }),
        )
        .route(
            "/NetworkDriver.DiscoverDelete",
            call(|d, r| async move { d.discover(r).await }),
        )
        .fallback(unknown_method)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit()))
        .layer(middleware::from_fn(super::guard::guard))
        .layer(middleware::from_fn(log_call))
        .with_state(driver)
}

/// A POST route that decodes `Req`, records its ids on the log line, and calls `f`.
fn call<Req, Resp, F, Fut>(f: F) -> MethodRouter<SharedDriver>
where
    Req: DeserializeOwned + CallIds + Send + 'static,
    Resp: Serialize + Send + 'static,
    F: Fn(SharedDriver, Req) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Resp, Error>> + Send + 'static,
{
    post(
        move |State(driver): State<SharedDriver>, PluginJson(req): PluginJson<Req>| async move {
            req.record_ids();
            f(driver, req).await.map(PluginJson)
        },
    )
}

async fn activate() -> PluginJson<ActivateResponse> {
    PluginJson(ActivateResponse::network_and_ipam())
}

async fn network_capabilities(
    State(driver): State<SharedDriver>,
) -> PluginJson<network::CapabilitiesResponse> {
    PluginJson(driver.network_capabilities())
}

async fn ipam_capabilities(
    State(driver): State<SharedDriver>,
) -> PluginJson<ipam::CapabilitiesResponse> {
    PluginJson(driver.ipam_capabilities())
}

async fn default_spaces(
    State(driver): State<SharedDriver>,
) -> PluginJson<ipam::DefaultAddressSpacesResponse> {
    PluginJson(driver.default_address_spaces())
}

async fn unknown_method(uri: Uri) -> Response {
    let error = Error::Unsupported(format!("unknown plugin method {}", uri.path()));
    error_response(StatusCode::NOT_FOUND, error)
}

async fn method_not_allowed() -> Response {
    let error = Error::BadRequest("plugin methods are called with POST".into());
    error_response(StatusCode::METHOD_NOT_ALLOWED, error)
}

/// Which Docker ids a request carries, for the call's log line.
trait CallIds {
    fn record_ids(&self);
}

macro_rules! call_ids {
    ($($ty:ty => [$($field:ident: $name:literal),*]),* $(,)?) => {
        $(impl CallIds for $ty {
            fn record_ids(&self) {
                $(record($name, &self.$field);)*
            }
        })*
    };
}

call_ids! {
    ipam::RequestPoolRequest => [],
    ipam::ReleasePoolRequest => [pool_id: "pool_id"],
    ipam::RequestAddressRequest => [pool_id: "pool_id"],
    ipam::ReleaseAddressRequest => [pool_id: "pool_id"],
    network::GwAllocCheckRequest => [],
    network::CreateNetworkRequest => [network_id: "network_id"],
    network::NetworkRequest => [network_id: "network_id"],
    network::AllocateNetworkRequest => [network_id: "network_id"],
    network::CreateEndpointRequest => [network_id: "network_id", endpoint_id: "endpoint_id"],
    network::EndpointRequest => [network_id: "network_id", endpoint_id: "endpoint_id"],
    network::JoinRequest => [network_id: "network_id", endpoint_id: "endpoint_id"],
    network::ProgramExternalConnectivityRequest =>
        [network_id: "network_id", endpoint_id: "endpoint_id"],
    network::DiscoveryRequest => [],
    settle::SettleRequest => [],
}
