//! [`HostBinder`], the real [`Binder`]: validates the `Vif`, creates the veth
//! pair over rtnetlink and plugs its host end by vif_type (natively for
//! "ovs", "bridge" and "tap", otherwise through a kuryr-lib script). It
//! manages the kernel of the network namespace it was created in, never
//! enters a container's, and keeps no state: everything it needs to undo a
//! binding is derived from the `Vif` again.

use std::path::PathBuf;

use crate::hostnet::{LinkOutcome, Netlink};

use super::names::{check_names, container_ifname, host_ifname, mac_string, parse_mac};
use super::{
    BindError, Binder, BindingSettings, Vif, linuxbridge, ovs, refuse_unbound, script, veth,
};

/// The vif_types plugged without a script, for messages.
const NATIVE: &str = "ovs, bridge, tap";

pub struct HostBinder {
    nl: Netlink,
    settings: BindingSettings,
}

/// How one vif_type is plugged, decided before anything is created so that
/// an unpluggable port leaves no trace.
enum Plug {
    Ovs { hybrid: bool },
    LinuxBridge,
    Tap,
    Script(PathBuf),
}

impl HostBinder {
    /// Connects to rtnetlink in the calling thread's network namespace; must
    /// be called inside a tokio runtime (the connection task is spawned on
    /// it).
    pub fn new(settings: BindingSettings) -> Result<HostBinder, BindError> {
        let nl = Netlink::connect().map_err(BindError::host("binding: rtnetlink"))?;
        Ok(HostBinder { nl, settings })
    }

    pub fn settings(&self) -> &BindingSettings {
        &self.settings
    }

    async fn plan(&self, vif: &Vif) -> Result<Plug, BindError> {
        refuse_unbound(vif)?;
        Ok(match vif.vif_type.as_str() {
            "ovs" => Plug::Ovs {
                hybrid: ovs::is_hybrid(vif),
            },
            "bridge" => Plug::LinuxBridge,
            "tap" => Plug::Tap,
            other => {
                let script = script::find(&self.settings.bindir, other).await;
                let path = script.map_err(|reason| BindError::Unsupported {
                    vif_type: other.to_owned(),
                    reason: format!("{reason} (handled without one: {NATIVE})"),
                })?;
                // Refused before the veth exists, so nothing is left behind.
                script::check_args(vif)?;
                Plug::Script(path)
            }
        })
    }

    async fn plug(&self, plan: &Plug, vif: &Vif, tap: &str, mac: &str) -> Result<(), BindError> {
        match plan {
            Plug::Ovs { hybrid: false } => ovs::plug(&self.settings, vif, tap, mac).await,
            Plug::Ovs { hybrid: true } => {
                ovs::plug_hybrid(&self.nl, &self.settings, vif, tap, mac).await
            }
            Plug::LinuxBridge => linuxbridge::plug(&self.nl, vif, tap).await,
            Plug::Tap => Ok(()),
            Plug::Script(path) => script::run(path, &script::bind_args(vif, tap, mac)?).await,
        }
    }
}

#[async_trait::async_trait]
impl Binder for HostBinder {
    async fn bind(&self, vif: &Vif) -> Result<(), BindError> {
        let plan = self.plan(vif).await?;
        let mac_bytes = parse_mac(vif)?;
        let mac = mac_string(mac_bytes);
        check_names(
            vif,
            &[host_ifname(&vif.port_id), container_ifname(&vif.port_id)],
        )?;
        let tap = host_ifname(&vif.port_id);

        let outcome = veth::create(&self.nl, vif, mac_bytes).await?;
        let Err(error) = self.plug(&plan, vif, &tap, &mac).await else {
            tracing::debug!(port = %vif.port_id, vif_type = %vif.vif_type, %tap, "bound");
            return Ok(());
        };
        // A reused pair belongs to an earlier bind that the driver may still
        // count on; only a pair made here is ours to remove.
        if outcome == LinkOutcome::Created {
            return Err(error.with_cleanup(veth::delete(&self.nl, vif).await));
        }
        Err(error)
    }

    async fn unbind(&self, vif: &Vif) -> Result<(), BindError> {
        let tap = host_ifname(&vif.port_id);
        // Unbind must work even for a Vif that bind would refuse (it may be
        // cleaning up after such a bind), so nothing is validated up front.
        let mac = vif.mac.to_ascii_lowercase();
        let mut errors = Vec::new();
        match vif.vif_type.as_str() {
            "ovs" => ovs::unplug(&self.nl, &self.settings, vif, &tap, &mut errors).await,
            // The bridge (kept, as kuryr does) releases the tap when the veth
            // goes; "tap" and unbound ports were never plugged anywhere.
            "bridge" | "tap" | "unbound" | "binding_failed" | "" => {}
            other => match script::find(&self.settings.bindir, other).await {
                Ok(path) => {
                    let ran = match script::unbind_args(vif, &tap, &mac) {
                        Ok(args) => script::run(&path, &args).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = ran {
                        errors.push(e);
                    }
                }
                // bind refuses such a port, so nothing was plugged unless
                // the script was removed since; deleting the veth is all
                // that can be done either way.
                Err(reason) => tracing::warn!(
                    port = %vif.port_id,
                    vif_type = other,
                    bindir = %self.settings.bindir.display(),
                    %reason,
                    "no binding script to unbind with; only deleting the veth"
                ),
            },
        }
        if let Err(e) = veth::delete(&self.nl, vif).await {
            errors.push(e);
        }
        BindError::unbind_result(&vif.port_id, errors)
    }
}
