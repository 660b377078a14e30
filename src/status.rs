//! `kuryr status`: what the plugin holds, asked of the running plugin over its own
//! listener (`/Kuryr.Status`), or, when none answers, read from its state dir as
//! `kuryr state` does, and said so.

use std::fmt::Write as _;
use std::time::Duration;

use crate::api::status::StatusResponse;
use crate::config::{BackendKind, Config};
use crate::control::{self, ControlError};
use crate::model::{Backlog, Status};

/// How long `kuryr status` waits for the plugin.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("the plugin answered /Kuryr.Status with HTTP {0}: {1}")]
    Refused(u16, String),
    #[error("the plugin's /Kuryr.Status answer is not understood: {0}")]
    Garbled(serde_json::Error),
    #[error("no plugin answers ({0}), and its state dir cannot be read: {1}")]
    Unreadable(ControlError, crate::store::StoreError),
}

/// The running plugin's answer, or what its state dir holds.
pub async fn status(config: &Config) -> Result<StatusResponse, StatusError> {
    let mut answer = match control::call(&config.listen, "/Kuryr.Status", "{}", ASK_TIMEOUT).await {
        Ok((200, body)) => serde_json::from_slice(&body).map_err(StatusError::Garbled)?,
        Ok((code, body)) => {
            return Err(StatusError::Refused(
                code,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
        Err(unreachable @ (ControlError::Unreachable(..) | ControlError::Timeout(..))) => {
            from_state_dir(config).map_err(|e| StatusError::Unreadable(unreachable, e))?
        }
        Err(other) => from_state_dir(config).map_err(|e| StatusError::Unreadable(other, e))?,
    };
    answer.listener = Some(config.listen.to_string());
    Ok(answer)
}

fn from_state_dir(config: &Config) -> Result<StatusResponse, crate::store::StoreError> {
    let status = match config.backend.kind() {
        BackendKind::Embedded => {
            crate::embedded::status_from_snapshot(crate::store::read_snapshot(&config.state_dir)?)
        }
        // Neutron holds the networks; what is local is the deletes still owed to it.
        BackendKind::Neutron => Status {
            backend: "neutron",
            backlog: Backlog {
                pending: crate::neutron_driver::pending_deletes(&config.state_dir)?.len(),
                errors: Vec::new(),
            },
            ..Status::default()
        },
    };
    Ok(StatusResponse::new(status, "state_dir", None))
}

/// The text `kuryr status` prints.
pub fn render(s: &StatusResponse) -> String {
    let mut out = String::new();
    let origin = match s.uptime_secs {
        Some(up) => format!("running for {}", duration(up)),
        None => "NOT RUNNING: read from its state dir".to_string(),
    };
    let _ = writeln!(
        out,
        "kuryr {} ({} backend) on {}: {origin}",
        s.version,
        s.backend,
        s.listener.as_deref().unwrap_or("?")
    );
    let _ = writeln!(out, "networks: {}", s.networks.len());
    for n in &s.networks {
        let subnets: Vec<String> = n.subnets.iter().map(ToString::to_string).collect();
        let ready = n
            .ready_ports
            .map(|r| format!(", {r} pool ports ready"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}  {}{ready}",
            short(&n.network_id),
            n.backing,
            subnets.join(" ")
        );
    }
    let _ = writeln!(out, "pools: {}", s.pools.len());
    for p in &s.pools {
        let free = p.free.map(|f| format!(", {f} free")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}  {} of {} used{free}  ({})",
            p.pool_id, p.cidr, p.used, p.size, p.address_space
        );
    }
    let _ = writeln!(out, "endpoints: {}", s.endpoints.len());
    for e in &s.endpoints {
        let addresses: Vec<String> = e.addresses.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  {}  network {}  {}  {}",
            short(&e.endpoint_id),
            short(&e.network_id),
            addresses.join(" "),
            e.interface
        );
    }
    if s.backend == "neutron" {
        let _ = writeln!(out, "pending Neutron deletes: {}", s.pending_deletes);
        for error in &s.delete_errors {
            let _ = writeln!(out, "  last error: {error}");
        }
    }
    out
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}
