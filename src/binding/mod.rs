//! The host side of the Neutron backend: one veth pair per bound Neutron port
//! (host end `tap…`, container end `t_c…`, named like kuryr-lib's and Nova's
//! taps), plugged by the port's `binding:vif_type` into Open vSwitch
//! (`ovs.rs`), a Linux bridge (`linuxbridge.rs`), nothing (`tap`), or a
//! kuryr-lib binding script (`script.rs`).
//!
//! In nested mode (containers in a Nova VM, where no agent plugs anything)
//! [`NestedBinder`] instead hangs a macvlan or VLAN link `t_c…` off the VM's
//! NIC (`nested.rs`), through the [`NestedLinks`] seam so that it is tested
//! without root against [`RecordingLinks`].
//!
//! It receives a plain [`Vif`] and never talks to Neutron or Docker, reads no
//! libnetwork JSON and never enters a container namespace: dockerd moves the
//! container end and sets its addresses. Deciding when to bind and unbind (and
//! serialising calls for one port) is the driver's job; it goes through the
//! [`Binder`] trait so its logic can be tested with [`RecordingBinder`].

mod error;
mod exec;
mod host;
mod links;
mod links_recorder;
mod linuxbridge;
mod names;
mod nested;
mod ovs;
mod recorder;
mod script;
mod veth;

use std::path::PathBuf;

pub use error::BindError;
pub use host::HostBinder;
pub use links::NestedLinks;
pub use links_recorder::{FakeKind, FakeLink, LinkCall, LinkCallKind, RecordingLinks};
pub use names::{container_ifname, host_ifname, linuxbridge_name};
pub use nested::{NestedBinder, NestedMode, NestedSettings};
pub use recorder::{BindOp, RecordingBinder};

/// kuryr-lib's MTU when the network has none.
pub const DEFAULT_MTU: u32 = 1500;

/// What to plug: taken from a bound Neutron port.
#[derive(Clone, Debug, PartialEq)]
pub struct Vif {
    pub port_id: String,
    pub endpoint_id: String,
    pub network_id: String,
    pub project_id: String,
    /// The port MAC, e.g. "fa:16:3e:00:00:01"; any case (it is lowercased).
    pub mac: String,
    /// The network MTU; `None` means [`DEFAULT_MTU`], as in kuryr-lib.
    pub mtu: Option<u32>,
    /// The port's `binding:vif_type` ("ovs", "bridge", "tap", "unbound",
    /// "binding_failed", ...).
    pub vif_type: String,
    /// The port's `binding:vif_details`.
    pub vif_details: serde_json::Value,
    /// The segmentation id in VLAN nested mode (the port is a trunk subport).
    pub vlan: Option<u16>,
}

/// Host-wide settings of the binding, from `kuryr.conf`.
#[derive(Clone, Debug)]
pub struct BindingSettings {
    /// The OVS integration bridge (`[DEFAULT]`-level in kuryr, hard-coded
    /// `br-int` in its scripts).
    pub ovs_bridge: String,
    /// The OVSDB to talk to, e.g. "unix:/run/openvswitch/db.sock"; passed as
    /// `--db=` to ovs-vsctl when set, otherwise ovs-vsctl's default is used.
    pub ovsdb: Option<String>,
    /// kuryr-lib's binding scripts (`[DEFAULT] bindir`), used only for
    /// vif_types not handled natively.
    pub bindir: PathBuf,
}

/// `kuryr.conf`'s defaults (tests start from these; the daemon gets `config`'s).
impl Default for BindingSettings {
    fn default() -> Self {
        BindingSettings {
            ovs_bridge: crate::config::DEFAULT_OVS_BRIDGE.into(),
            ovsdb: None,
            bindir: crate::config::DEFAULT_BINDIR.into(),
        }
    }
}

/// The seam between the Neutron driver and the host; the real implementation
/// is [`HostBinder`], tests use [`RecordingBinder`].
#[async_trait::async_trait]
pub trait Binder: Send + Sync + 'static {
    /// Create the veth pair host=`tap…`/container=`t_c…` (host end up; the
    /// container end gets the MAC and MTU and stays down: dockerd moves it
    /// into the container and sets its addresses), then plug the host end by
    /// vif_type. Idempotent: an existing pair of those names is reused. On any
    /// failure, what this call made is removed before the error is returned.
    async fn bind(&self, vif: &Vif) -> Result<(), BindError>;
    /// Unplug by vif_type, then delete the veth. A missing veth or port is
    /// success. Every step is tried and all errors are reported together.
    async fn unbind(&self, vif: &Vif) -> Result<(), BindError>;
    /// The MAC of the link nested (VM) mode hangs containers on, lowercase, which
    /// finds the VM's own Neutron port; `None` for binders without one.
    async fn link_mac(&self) -> Result<Option<String>, BindError> {
        Ok(None)
    }
}

/// Refuses the vif_types that mean Neutron did not bind the port to this
/// host: no plugging can help, and the usual cause is a host name mismatch or
/// a missing agent, which the message says. Shared with [`RecordingBinder`]
/// so driver tests see the real message.
pub(crate) fn refuse_unbound(vif: &Vif) -> Result<(), BindError> {
    let reason = match vif.vif_type.as_str() {
        "binding_failed" => format!(
            "Neutron could not bind port {} to this host (check [DEFAULT] host / the agent)",
            vif.port_id
        ),
        "unbound" | "" => format!(
            "port {} is not bound to any host (check that its binding:host_id is this \
             host's [DEFAULT] host and that a Neutron agent runs here)",
            vif.port_id
        ),
        _ => return Ok(()),
    };
    Err(BindError::Unsupported {
        vif_type: vif_type_shown(&vif.vif_type).to_owned(),
        reason,
    })
}

/// kuryr-lib treats a port without a vif_type as "unbound".
fn vif_type_shown(vif_type: &str) -> &str {
    if vif_type.is_empty() {
        "unbound"
    } else {
        vif_type
    }
}
