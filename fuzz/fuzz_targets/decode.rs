//! Fuzz target `decode`: the edge decode step alone. The body is decoded with
//! `kuryr::server::decode` into every wire request type and each one that parses is
//! checked into its model type with `TryFrom`. Asserts no panic, and that every id a
//! model value carries has the charset the backends rely on (interface names, Neutron
//! URL path segments and tags).

#![no_main]

use kuryr::api::{ipam, network, settle};
use kuryr::model;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

fn check_network(id: &model::NetworkId) {
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
        "{id:?}"
    );
    assert!(id.len() == 64 || id.len() == 25, "{id:?}");
}

fn check_endpoint(id: &model::EndpointId) {
    assert!(
        id.len() == 64
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id:?}"
    );
}

fn check_pool(id: &model::PoolId) {
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b)),
        "{id:?}"
    );
    assert!(
        id.split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".."),
        "{id:?}"
    );
}

fn check_ref(r: &model::EndpointRef) {
    check_network(&r.network_id);
    check_endpoint(&r.endpoint_id);
}

/// Decode `data` as `W`; if it parses, check it into `M` and run `check` on success.
fn run<W, M>(data: &[u8], check: impl FnOnce(&M))
where
    W: DeserializeOwned,
    M: TryFrom<W>,
{
    if let Ok(wire) = kuryr::server::decode::<W>(data) {
        if let Ok(model) = M::try_from(wire) {
            check(&model);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    run::<ipam::RequestPoolRequest, model::PoolRequest>(data, |_| {});
    run::<ipam::ReleasePoolRequest, model::PoolId>(data, check_pool);
    run::<ipam::RequestAddressRequest, model::AddressRequest>(data, |m| check_pool(&m.pool_id));
    run::<ipam::ReleaseAddressRequest, model::AddressRelease>(data, |m| {
        if let Some(pool) = &m.pool_id {
            check_pool(pool);
        }
    });
    run::<network::GwAllocCheckRequest, model::GwAllocCheck>(data, |_| {});
    run::<network::CreateNetworkRequest, model::NetworkSpec>(data, |m| check_network(&m.id));
    run::<network::NetworkRequest, model::NetworkId>(data, check_network);
    run::<network::AllocateNetworkRequest, model::NetworkAllocation>(data, |m| {
        check_network(&m.id)
    });
    run::<network::CreateEndpointRequest, model::EndpointSpec>(data, |m| {
        check_network(&m.network_id);
        check_endpoint(&m.endpoint_id);
        if let Some(name) = &m.ifname {
            assert!(
                (1..=15).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
                "{name:?}"
            );
        }
    });
    run::<network::EndpointRequest, model::EndpointRef>(data, check_ref);
    run::<network::JoinRequest, model::JoinSpec>(data, |m| {
        check_network(&m.network_id);
        check_endpoint(&m.endpoint_id);
        assert!(m.sandbox_key.starts_with('/'));
        assert!(!m.sandbox_key.chars().any(char::is_control));
    });
    run::<network::ProgramExternalConnectivityRequest, model::Connectivity>(data, |m| {
        check_network(&m.network_id);
        check_endpoint(&m.endpoint_id);
    });
    run::<network::DiscoveryRequest, model::Discovery>(data, |_| {});
    let _ = kuryr::server::decode::<settle::SettleRequest>(data);
});
