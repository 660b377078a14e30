//! The vocabulary both backends share: Docker's requests as validated values.
//!
//! `api` holds the wire structs; `api::decode` turns each request into the types here
//! exactly once, at the edge, checking ids, families, containment and required fields,
//! so a backend never sees a malformed id, an IPv6 pool in an IPv4 slot or a gateway
//! outside its pool. Replies are model values too; `api::encode` turns them into JSON.
//! Ids and names that reach interface names, nft scripts, Neutron URLs or child argv
//! are charset-checked by their constructors, so no request string gets there raw.
//!
//! Never: serde_json, HTTP or I/O. Docker's protocol option keys are `api`'s and
//! arrive here as typed fields; only the bridge-driver option names users type with
//! `-o` are named here (`options::bridge_keys`), for the backends to honour or refuse.

mod endpoint;
mod ids;
mod invalid;
mod ipam;
mod mac;
mod network;
mod options;
mod ports;
mod status;

pub use endpoint::{
    Connectivity, EndpointRef, EndpointReply, EndpointSpec, JoinReply, JoinSpec, OperInfo,
    StaticRoute,
};
pub use ids::{AddressSpace, EndpointId, NetworkId, PoolId, quote as quote_value};
pub use invalid::Invalid;
pub use ipam::{
    AddressKind, AddressRelease, AddressRequest, AddressSpaces, PoolGrant, PoolRequest,
};
pub use mac::{MacAddress, MacParseError};
pub use network::{Discovery, GwAllocCheck, GwSkip, NetworkAllocation, NetworkSpec, Subnet};
pub use options::{DriverOptions, bridge_keys};
pub use ports::{ExposedPort, PortBinding, Protocol};
pub use status::{EndpointStatus, NetworkStatus, PoolStatus, Status};

/// `Scope` and `ConnectivityScope` of the network driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Local,
    Global,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Local => "local",
            Scope::Global => "global",
        }
    }
}

/// Work a backend does after answering Docker (`/Kuryr.Settle`): what is left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Jobs not done yet.
    pub pending: usize,
    /// The last error of each pending job that has failed (it is being retried).
    pub errors: Vec<String>,
}

/// One pool a backend holds and how full it is (metrics, status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsage {
    /// The id Docker knows the pool by.
    pub pool_id: String,
    pub cidr: ipnet::IpNet,
    /// Addresses that can ever be handed out (network and broadcast addresses excluded).
    pub size: u128,
    /// Addresses handed out now: the embedded backend's, gateways included; on
    /// Neutron, this host's endpoints'.
    pub used: u128,
}
