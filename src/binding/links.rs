//! [`NestedLinks`], the kernel operations nested mode needs, as a trait so
//! that [`NestedBinder`](super::NestedBinder)'s decisions (which link, which
//! MTU, what to refuse) are tested without root against
//! [`RecordingLinks`](super::RecordingLinks). The real implementation is
//! `hostnet::Netlink`, whose methods these are.

use crate::hostnet::{HostNet, HostNetError, LinkOutcome, MacvlanSpec, Netlink, VlanSpec};

#[async_trait::async_trait]
pub trait NestedLinks: Send + Sync + 'static {
    /// The Ethernet MAC of `name`; `None` when there is no such link.
    async fn link_mac(&self, name: &str) -> Result<Option<[u8; 6]>, HostNetError>;
    /// The MTU of `name`; `None` when there is no such link.
    async fn link_mtu(&self, name: &str) -> Result<Option<u32>, HostNetError>;
    /// Creates the macvlan (bridge mode, down) or reuses a matching one; a
    /// failed creation leaves nothing.
    async fn create_macvlan(&self, spec: &MacvlanSpec) -> Result<LinkOutcome, HostNetError>;
    /// Creates the VLAN link (down) or reuses a matching one; a failed
    /// creation leaves nothing.
    async fn create_vlan(&self, spec: &VlanSpec) -> Result<LinkOutcome, HostNetError>;
    /// Deletes a link by name; a missing link is success.
    async fn delete_link(&self, name: &str) -> Result<(), HostNetError>;
}

#[async_trait::async_trait]
impl NestedLinks for Netlink {
    async fn link_mac(&self, name: &str) -> Result<Option<[u8; 6]>, HostNetError> {
        Netlink::link_mac(self, name).await
    }

    async fn link_mtu(&self, name: &str) -> Result<Option<u32>, HostNetError> {
        Netlink::link_mtu(self, name).await
    }

    async fn create_macvlan(&self, spec: &MacvlanSpec) -> Result<LinkOutcome, HostNetError> {
        Netlink::create_macvlan(self, spec).await
    }

    async fn create_vlan(&self, spec: &VlanSpec) -> Result<LinkOutcome, HostNetError> {
        Netlink::create_vlan(self, spec).await
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostNetError> {
        HostNet::delete_link(self, name).await
    }
}
