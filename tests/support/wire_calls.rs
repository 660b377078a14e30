//! Calls on a `Driver` in wire types, through the same decode and encode steps the
//! server runs (`api::decode`, `api::encode`), for tests that drive a backend
//! in-process: a test builds a request as dockerd would, and gets dockerd's reply.
//! Bring `WireCalls` into scope instead of `kuryr::driver::Driver`.

#![allow(dead_code)]

use async_trait::async_trait;
use kuryr::Error;
use kuryr::api::network as wire;
use kuryr::api::{Empty, encode, ipam};
use kuryr::driver::Driver;
use kuryr::model;

#[async_trait]
pub trait WireCalls {
    async fn request_pool(
        &self,
        req: ipam::RequestPoolRequest,
    ) -> Result<ipam::RequestPoolResponse, Error>;
    async fn release_pool(&self, req: ipam::ReleasePoolRequest) -> Result<Empty, Error>;
    async fn request_address(
        &self,
        req: ipam::RequestAddressRequest,
    ) -> Result<ipam::RequestAddressResponse, Error>;
    async fn release_address(&self, req: ipam::ReleaseAddressRequest) -> Result<Empty, Error>;
    async fn create_network(&self, req: wire::CreateNetworkRequest) -> Result<Empty, Error>;
    async fn delete_network(&self, req: wire::NetworkRequest) -> Result<Empty, Error>;
    async fn create_endpoint(
        &self,
        req: wire::CreateEndpointRequest,
    ) -> Result<wire::CreateEndpointResponse, Error>;
    async fn delete_endpoint(&self, req: wire::EndpointRequest) -> Result<Empty, Error>;
    async fn endpoint_oper_info(
        &self,
        req: wire::EndpointRequest,
    ) -> Result<wire::EndpointOperInfoResponse, Error>;
    async fn join(&self, req: wire::JoinRequest) -> Result<wire::JoinResponse, Error>;
    async fn leave(&self, req: wire::EndpointRequest) -> Result<Empty, Error>;
    async fn program_external_connectivity(
        &self,
        req: wire::ProgramExternalConnectivityRequest,
    ) -> Result<Empty, Error>;
    async fn revoke_external_connectivity(
        &self,
        req: wire::EndpointRequest,
    ) -> Result<Empty, Error>;
}

#[async_trait]
impl<D: Driver> WireCalls for D {
    async fn request_pool(
        &self,
        req: ipam::RequestPoolRequest,
    ) -> Result<ipam::RequestPoolResponse, Error> {
        Ok(Driver::request_pool(self, req.try_into()?).await?.into())
    }
    async fn release_pool(&self, req: ipam::ReleasePoolRequest) -> Result<Empty, Error> {
        Driver::release_pool(self, model::PoolId::try_from(req)?)
            .await
            .map(|()| Empty {})
    }
    async fn request_address(
        &self,
        req: ipam::RequestAddressRequest,
    ) -> Result<ipam::RequestAddressResponse, Error> {
        Ok(Driver::request_address(self, req.try_into()?).await?.into())
    }
    async fn release_address(&self, req: ipam::ReleaseAddressRequest) -> Result<Empty, Error> {
        Driver::release_address(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
    async fn create_network(&self, req: wire::CreateNetworkRequest) -> Result<Empty, Error> {
        Driver::create_network(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
    async fn delete_network(&self, req: wire::NetworkRequest) -> Result<Empty, Error> {
        Driver::delete_network(self, model::NetworkId::try_from(req)?)
            .await
            .map(|()| Empty {})
    }
    async fn create_endpoint(
        &self,
        req: wire::CreateEndpointRequest,
    ) -> Result<wire::CreateEndpointResponse, Error> {
        Ok(Driver::create_endpoint(self, req.try_into()?).await?.into())
    }
    async fn delete_endpoint(&self, req: wire::EndpointRequest) -> Result<Empty, Error> {
        Driver::delete_endpoint(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
    async fn endpoint_oper_info(
        &self,
        req: wire::EndpointRequest,
    ) -> Result<wire::EndpointOperInfoResponse, Error> {
        Ok(encode::oper_info(
            Driver::endpoint_oper_info(self, req.try_into()?).await?,
        ))
    }
    async fn join(&self, req: wire::JoinRequest) -> Result<wire::JoinResponse, Error> {
        Ok(Driver::join(self, req.try_into()?).await?.into())
    }
    async fn leave(&self, req: wire::EndpointRequest) -> Result<Empty, Error> {
        Driver::leave(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
    async fn program_external_connectivity(
        &self,
        req: wire::ProgramExternalConnectivityRequest,
    ) -> Result<Empty, Error> {
        Driver::program_external_connectivity(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
    async fn revoke_external_connectivity(
        &self,
        req: wire::EndpointRequest,
    ) -> Result<Empty, Error> {
        Driver::revoke_external_connectivity(self, req.try_into()?)
            .await
            .map(|()| Empty {})
    }
}
