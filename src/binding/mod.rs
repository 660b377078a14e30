//! Host side of the Neutron backend (placeholder API until the full module lands):
//! veth pairs named like kuryr-libnetwork's and plugging by `binding:vif_type`.
//! It never talks to Neutron or reads Docker's JSON.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// What to plug: taken from a bound Neutron port.
#[derive(Clone, Debug, PartialEq)]
pub struct Vif {
    pub port_id: String,
    pub endpoint_id: String,
    pub network_id: String,
    pub project_id: String,
    pub mac: String,
    pub mtu: Option<u32>,
    pub vif_type: String,
    pub vif_details: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct BindingSettings {
    pub ovs_bridge: String,
    pub ovsdb: Option<String>,
    pub bindir: std::path::PathBuf,
}

impl Default for BindingSettings {
    fn default() -> Self {
        BindingSettings {
            ovs_bridge: "br-int".into(),
            ovsdb: None,
            bindir: "/usr/libexec/kuryr".into(),
        }
    }
}

fn truncate(prefix: &str, port_id: &str) -> String {
    format!("{prefix}{port_id}").chars().take(14).collect()
}

pub fn host_ifname(port_id: &str) -> String {
    truncate("tap", port_id)
}

pub fn container_ifname(port_id: &str) -> String {
    truncate("t_c", port_id)
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("{0}")]
    Failed(String),
}

#[async_trait::async_trait]
pub trait Binder: Send + Sync + 'static {
    async fn bind(&self, vif: &Vif) -> Result<(), BindError>;
    async fn unbind(&self, vif: &Vif) -> Result<(), BindError>;
}

/// In-memory binder for driver tests.
#[derive(Default)]
pub struct RecordingBinder {
    bound: Mutex<BTreeSet<String>>,
    fail_next: Mutex<bool>,
}

impl RecordingBinder {
    pub fn new() -> RecordingBinder {
        RecordingBinder::default()
    }
    pub fn fail_next_bind(&self) {
        *self.fail_next.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }
    pub fn bound(&self) -> BTreeSet<String> {
        self.bound.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait::async_trait]
impl Binder for RecordingBinder {
    async fn bind(&self, vif: &Vif) -> Result<(), BindError> {
        if std::mem::take(&mut *self.fail_next.lock().unwrap_or_else(|e| e.into_inner())) {
            return Err(BindError::Failed("injected failure".into()));
        }
        self.bound
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(vif.port_id.clone());
        Ok(())
    }
    async fn unbind(&self, vif: &Vif) -> Result<(), BindError> {
        self.bound
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&vif.port_id);
        Ok(())
    }
}

/// Placeholder until the real binder lands.
pub struct HostBinder;

impl HostBinder {
    pub fn new(_settings: BindingSettings) -> Result<HostBinder, BindError> {
        Ok(HostBinder)
    }
}

#[async_trait::async_trait]
impl Binder for HostBinder {
    async fn bind(&self, _vif: &Vif) -> Result<(), BindError> {
        Err(BindError::Failed("not implemented".into()))
    }
    async fn unbind(&self, _vif: &Vif) -> Result<(), BindError> {
        Ok(())
    }
}
