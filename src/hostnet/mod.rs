//! Host-side Linux networking for the embedded backend: one Linux bridge per
//! Docker network, one veth pair per endpoint. This module speaks rtnetlink to
//! the kernel of the namespace it was connected in and knows nothing of Docker,
//! its JSON or its ids beyond deriving interface names and MACs from them
//! (`names`). It never enters a container namespace: dockerd moves the
//! container end of the veth into the container and configures it there.
//! Deciding *when* to create or delete what (and reconciling at startup) is
//! the backend's job; it talks to this module only through the [`HostNet`]
//! trait so that its logic can be tested against the in-memory [`Recorder`].
//! The Neutron binding (`crate::binding`) uses a few bridge-less primitives of
//! [`Netlink`] directly: [`Netlink::create_veth_pair`],
//! [`Netlink::ensure_port_bridge`], [`Netlink::attach_to_bridge`] and
//! [`Netlink::set_up`], and for nested mode (containers in a VM, hanging off
//! its NIC) [`Netlink::create_macvlan`], [`Netlink::create_vlan`],
//! [`Netlink::link_mac`] and [`Netlink::link_mtu`].

mod bridge;
mod child;
pub mod isolation;
pub mod names;
mod netlink;
pub mod recorder;
mod veth;

pub use isolation::{NetworkRules, PortForward, ipv4_forwarding};
pub use names::{
    BRIDGE_PREFIX, VETH_CONTAINER_PREFIX, VETH_HOST_PREFIX, bridge_mac, bridge_name, endpoint_mac,
    mac_string, validate_ifname, veth_container_name, veth_host_name,
};
pub use netlink::Netlink;
pub use recorder::{Call, CallKind, Recorder};

/// A bridge as the backend wants it to be; [`HostNet::ensure_bridge`] makes
/// the kernel match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    /// Gateway addresses with their prefix length, e.g. 10.1.0.1/24, fd00::1/64.
    pub addresses: Vec<ipnet::IpNet>,
    /// `None` leaves the kernel default (the bridge then follows the smallest
    /// port MTU).
    pub mtu: Option<u32>,
    pub mac: [u8; 6],
    /// The bridge is someone else's (`-o com.docker.network.bridge.name` naming an
    /// existing one, such as `docker0`): it is never created, and only the addresses
    /// are added; its MAC, MTU and state stay as its owner set them.
    pub foreign: bool,
}

/// A veth pair for one endpoint, the host end enslaved to `bridge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    pub host: String,
    pub container: String,
    pub bridge: String,
    /// `None` lets the kernel pick a random MAC for the container end.
    pub container_mac: Option<[u8; 6]>,
    /// Applied to both ends so the path has one MTU.
    pub mtu: Option<u32>,
}

/// A veth pair whose host end the caller plugs itself (see
/// [`Netlink::create_veth_pair`]); used by the Neutron binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethPair {
    pub host: String,
    pub container: String,
    /// `None` lets the kernel pick a random MAC for the container end.
    pub container_mac: Option<[u8; 6]>,
    /// Applied to both ends so the path has one MTU.
    pub mtu: Option<u32>,
}

/// A macvlan in bridge mode on `parent` (the VM's NIC in nested mode; see
/// [`Netlink::create_macvlan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacvlanSpec {
    pub parent: String,
    pub name: String,
    pub mac: [u8; 6],
    /// At most the parent's MTU, or the kernel refuses the link.
    pub mtu: u32,
}

/// An 802.1Q VLAN link on `parent` (see [`Netlink::create_vlan`]); it takes
/// the parent's MTU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanSpec {
    pub parent: String,
    pub name: String,
    /// 1-4094.
    pub id: u16,
    pub mac: [u8; 6],
}

/// Whether a create-or-reuse call made the link or found it already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    Created,
    Reused,
}

#[derive(Debug, thiserror::Error)]
pub enum HostNetError {
    #[error("{op} {ifname}: {source}")]
    Netlink {
        op: &'static str,
        ifname: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("add address {address} to {ifname}: {source}")]
    Address {
        ifname: String,
        address: ipnet::IpNet,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("interface name {0:?} is invalid (1-15 bytes, no '/', whitespace or ':')")]
    BadName(String),
    #[error("netlink connection: {0}")]
    Connect(#[source] std::io::Error),
    #[error("netlink connection: no tokio runtime on the calling thread")]
    NoRuntime,
    #[error("kuryr's nftables rules: {0}")]
    Firewall(String),
    #[error("bridge {0} does not exist")]
    BridgeMissing(String),
    #[error("interface {ifname} exists but is a {found} link, not a {expected}")]
    WrongKind {
        ifname: String,
        expected: &'static str,
        found: String,
    },
    /// A link that exists is not what the caller needs, e.g. of the right
    /// kind but on another parent; `reason` completes "interface X ...".
    #[error("interface {ifname} {reason}")]
    Unusable { ifname: String, reason: String },
    /// The kernel has no driver for this kind of link (EOPNOTSUPP, "Unknown
    /// device type"): a module is missing, which the message names.
    #[error(
        "create {kind} {ifname}: this kernel cannot create {kind} links; it needs the \
         {module} module (modprobe {module})"
    )]
    NoKernelSupport {
        ifname: String,
        kind: &'static str,
        module: &'static str,
    },
}

impl HostNetError {
    /// The kernel errno behind a netlink failure (positive, e.g. ENODEV = 19),
    /// if this error carries one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            HostNetError::Netlink { source, .. } | HostNetError::Address { source, .. } => {
                netlink::errno(source)
            }
            _ => None,
        }
    }
}

/// The seam the backend uses; the real impl is [`Netlink`], tests use
/// [`Recorder`]. Every method is idempotent so that a retried Docker request
/// or a restart half-way through an operation converges.
#[async_trait::async_trait]
pub trait HostNet: Send + Sync + 'static {
    /// Create the bridge if missing (an existing bridge of that name is
    /// reused), set its MAC (a fixed MAC stops the kernel from changing the
    /// bridge MAC to the lowest port MAC, which stalls traffic), MTU, add each
    /// address if missing (IPv6 addresses with IFA_F_NODAD so the gateway is
    /// usable at once), bring it up.
    /// A `foreign` bridge only gets the missing addresses, and must exist.
    async fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<(), HostNetError>;
    /// Remove these addresses from `name`; missing ones, and a missing link, are
    /// success. How a foreign bridge is given back as it was.
    async fn remove_addresses(
        &self,
        name: &str,
        addresses: &[ipnet::IpNet],
    ) -> Result<(), HostNetError>;
    /// Delete a link by name; a missing link is success. Deleting either veth
    /// end removes both; deleting a bridge releases (does not delete) its ports.
    async fn delete_link(&self, name: &str) -> Result<(), HostNetError>;
    /// Create the veth pair; the host end is enslaved to `bridge` and brought
    /// up; the container end gets `container_mac` if given and the MTU, and
    /// stays down (Docker brings it up inside the container). If the pair
    /// already exists (same names), succeed without recreating. On any failure
    /// after the pair was created, delete it before returning the error.
    async fn create_veth(&self, spec: &VethSpec) -> Result<(), HostNetError>;
    /// Names of existing links that start with `prefix`, sorted (for startup
    /// reconciliation).
    async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<String>, HostNetError>;
    /// Whether a link exists.
    async fn link_exists(&self, name: &str) -> Result<bool, HostNetError>;
    /// Make kuryr's packet filter match `networks` (every network that exists),
    /// replacing the previous rules at once: no forwarding between their bridges,
    /// `--internal`, egress NAT and `enable_icc=false` (see [`isolation`]).
    async fn firewall(&self, networks: &[NetworkRules]) -> Result<(), HostNetError>;
}
