//! [`RecordingBinder`], an in-memory [`Binder`] for testing the Neutron
//! driver without root: it records every call with its `Vif`, tracks which
//! ports are bound, and fails the next bind or unbind on request. Like the
//! real binder it refuses "unbound" and "binding_failed" ports (with the real
//! message) and treats unbinding an unknown port as success; it accepts every
//! other vif_type, as it has no scripts to look for. It touches no kernel.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{BindError, Binder, Vif, refuse_unbound};

/// Which method a recorded call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindOp {
    Bind,
    Unbind,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<(BindOp, Vif)>,
    bound: BTreeSet<String>,
    fail_next_bind: bool,
    fail_next_unbind: bool,
    /// Set by [`RecordingBinder::nested`]: the VM NIC's MAC.
    link_mac: Option<String>,
}

#[derive(Debug, Default)]
pub struct RecordingBinder {
    state: Mutex<State>,
}

impl RecordingBinder {
    pub fn new() -> RecordingBinder {
        RecordingBinder::default()
    }

    /// A test that panicked while holding the lock must not hide the state
    /// from the assertions that follow.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A binder for nested (VM) mode, whose link has MAC `link_mac`: like the real
    /// one it binds ports Neutron left unbound.
    pub fn nested(link_mac: &str) -> RecordingBinder {
        let b = RecordingBinder::default();
        b.state().link_mac = Some(link_mac.to_ascii_lowercase());
        b
    }

    /// The next `bind` fails (and binds nothing); later ones succeed again.
    pub fn fail_next_bind(&self) {
        self.state().fail_next_bind = true;
    }

    /// The next `unbind` fails (and the port stays bound).
    pub fn fail_next_unbind(&self) {
        self.state().fail_next_unbind = true;
    }

    /// Every call so far, in order, failed ones included.
    pub fn calls(&self) -> Vec<(BindOp, Vif)> {
        self.state().calls.clone()
    }

    /// Port ids currently bound.
    pub fn bound(&self) -> BTreeSet<String> {
        self.state().bound.clone()
    }
}

#[async_trait::async_trait]
impl Binder for RecordingBinder {
    async fn bind(&self, vif: &Vif) -> Result<(), BindError> {
        let mut state = self.state();
        state.calls.push((BindOp::Bind, vif.clone()));
        if std::mem::take(&mut state.fail_next_bind) {
            return Err(BindError::Injected("bind", vif.port_id.clone()));
        }
        if state.link_mac.is_none() {
            refuse_unbound(vif)?;
        }
        state.bound.insert(vif.port_id.clone());
        Ok(())
    }

    async fn unbind(&self, vif: &Vif) -> Result<(), BindError> {
        let mut state = self.state();
        state.calls.push((BindOp::Unbind, vif.clone()));
        if std::mem::take(&mut state.fail_next_unbind) {
            return Err(BindError::Injected("unbind", vif.port_id.clone()));
        }
        state.bound.remove(&vif.port_id);
        Ok(())
    }

    async fn link_mac(&self) -> Result<Option<String>, BindError> {
        Ok(self.state().link_mac.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vif(port: &str, vif_type: &str) -> Vif {
        Vif {
            port_id: port.into(),
            endpoint_id: format!("ep-{port}"),
            network_id: "net".into(),
            project_id: "proj".into(),
            mac: "fa:16:3e:00:00:01".into(),
            mtu: Some(1450),
            vif_type: vif_type.into(),
            vif_details: serde_json::json!({"port_filter": true}),
            vlan: None,
        }
    }

    #[tokio::test]
    async fn records_calls_and_tracks_bound_ports() {
        let b = RecordingBinder::new();
        b.bind(&vif("p1", "ovs")).await.unwrap();
        b.bind(&vif("p2", "bridge")).await.unwrap();
        b.bind(&vif("p1", "ovs")).await.unwrap(); // idempotent
        assert_eq!(b.bound(), BTreeSet::from(["p1".into(), "p2".into()]));
        b.unbind(&vif("p1", "ovs")).await.unwrap();
        b.unbind(&vif("p9", "ovs")).await.unwrap(); // unknown: fine
        assert_eq!(b.bound(), BTreeSet::from(["p2".into()]));
        let calls: Vec<(BindOp, String)> = b
            .calls()
            .into_iter()
            .map(|(op, v)| (op, v.port_id))
            .collect();
        assert_eq!(
            calls,
            [
                (BindOp::Bind, "p1".into()),
                (BindOp::Bind, "p2".into()),
                (BindOp::Bind, "p1".into()),
                (BindOp::Unbind, "p1".into()),
                (BindOp::Unbind, "p9".into()),
            ]
        );
        assert_eq!(b.calls()[1].1, vif("p2", "bridge"), "the whole Vif is kept");
    }

    #[tokio::test]
    async fn injected_failures_hit_once() {
        let b = RecordingBinder::new();
        b.fail_next_bind();
        let err = b.bind(&vif("p1", "ovs")).await.unwrap_err();
        assert_eq!(err.to_string(), "injected failure (bind of port p1)");
        assert!(b.bound().is_empty());
        b.bind(&vif("p1", "ovs")).await.unwrap();

        b.fail_next_unbind();
        assert!(b.unbind(&vif("p1", "ovs")).await.is_err());
        assert_eq!(b.bound().len(), 1, "a failed unbind leaves the port bound");
        b.unbind(&vif("p1", "ovs")).await.unwrap();
        assert!(b.bound().is_empty());
        assert_eq!(b.calls().len(), 4, "failed calls are recorded too");
    }

    #[tokio::test]
    async fn unbound_ports_are_refused_like_the_real_binder() {
        let b = RecordingBinder::new();
        let err = b.bind(&vif("p1", "binding_failed")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "vif_type binding_failed is not supported: Neutron could not bind port p1 \
             to this host (check [DEFAULT] host / the agent)"
        );
        let err = b.bind(&vif("p2", "unbound")).await.unwrap_err();
        assert!(err.to_string().contains("[DEFAULT] host"), "{err}");
        let err = b.bind(&vif("p3", "")).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("vif_type unbound is not supported"),
            "{err}"
        );
        assert!(b.bound().is_empty());
    }
}
