//! `kuryr gc [--apply]`: what kuryr made in Neutron that nothing owns any more, listed
//! (a dry run) or deleted. What is in use comes from the local dockerd (its API socket:
//! `DOCKER_HOST` or /var/run/docker.sock): its networks and their endpoints. Without
//! an answer from dockerd nothing is judged, since anything could be in use.
//! The judgement itself is `neutron_driver::leftovers`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, Env, Listen};
use crate::control::{self, ControlError};
use crate::neutron::{Client, NeutronError};
use crate::neutron_driver::{InUse, Leftover, Scan, Settings};

#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("kuryr gc looks for Neutron objects; this configuration uses the embedded backend")]
    Embedded,
    #[error("DOCKER_HOST {0:?}: kuryr gc asks dockerd over its unix socket (unix:///PATH)")]
    DockerHost(String),
    #[error("cannot ask dockerd what is in use ({0}); nothing is judged without it")]
    Docker(String),
    #[error("Neutron: {0}")]
    Neutron(#[from] NeutronError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub applied: bool,
    pub leftovers: Vec<Leftover>,
    /// With `--apply`: each leftover's outcome, `None` when deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<(String, String)>,
}

/// dockerd's API socket: `DOCKER_HOST` (unix only) or the default.
pub fn docker_socket(env: &dyn Env) -> Result<Listen, GcError> {
    match env.var("DOCKER_HOST").filter(|v| !v.is_empty()) {
        None => Ok(Listen::Unix(PathBuf::from("/var/run/docker.sock"))),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) => Ok(Listen::Unix(PathBuf::from(path))),
            None => Err(GcError::DockerHost(host)),
        },
    }
}

/// The Docker networks and endpoints the local dockerd has.
pub async fn in_use(docker: &Listen) -> Result<InUse, GcError> {
    #[derive(serde::Deserialize)]
    struct Net {
        #[serde(rename = "Id")]
        id: String,
    }
    #[derive(serde::Deserialize)]
    struct Detail {
        #[serde(rename = "Containers", default)]
        containers: Option<std::collections::HashMap<String, Endpoint>>,
    }
    #[derive(serde::Deserialize)]
    struct Endpoint {
        #[serde(rename = "EndpointID", default)]
        endpoint_id: String,
    }
    let get = |path: String| async move {
        match control::request(
            docker,
            hyper::Method::GET,
            &path,
            "",
            Duration::from_secs(30),
        )
        .await
        {
            Ok((200, body)) => Ok(body),
            Ok((code, body)) => Err(GcError::Docker(format!(
                "GET {path}: HTTP {code} {}",
                String::from_utf8_lossy(&body)
            ))),
            Err(
                e @ (ControlError::Unreachable(..)
                | ControlError::Timeout(..)
                | ControlError::Http(..)),
            ) => Err(GcError::Docker(e.to_string())),
        }
    };
    let nets: Vec<Net> = serde_json::from_slice(&get("/networks".into()).await?)
        .map_err(|e| GcError::Docker(format!("GET /networks: {e}")))?;
    let mut used = InUse::default();
    for net in nets {
        let detail: Detail =
            serde_json::from_slice(&get(format!("/networks/{}", net.id)).await?)
                .map_err(|e| GcError::Docker(format!("GET /networks/{}: {e}", net.id)))?;
        for endpoint in detail.containers.unwrap_or_default().into_values() {
            used.endpoints.insert(endpoint.endpoint_id);
        }
        used.networks.insert(net.id);
    }
    Ok(used)
}

/// Lists the leftovers and, with `apply`, deletes them.
pub async fn run(
    config: &Config,
    env: &dyn Env,
    apply: bool,
    min_age: Duration,
) -> Result<Report, GcError> {
    let Some(options) = config.backend.neutron_client() else {
        return Err(GcError::Embedded);
    };
    let used = in_use(&docker_socket(env)?).await?;
    let client = Client::new(options.clone())?;
    let settings = Settings::from_config(config);
    let scan = Scan {
        client: &client,
        host: &settings.host,
        pool_prefix: &settings.pool_prefix,
        min_age,
        in_use: &used,
    };
    let terminal = std::io::stderr().is_terminal();
    let progress = |what: &str| {
        if terminal {
            eprintln!("kuryr gc: listing {what}...");
        }
    };
    let leftovers = scan.leftovers(&progress).await?;
    let mut errors = Vec::new();
    if apply {
        for (l, result) in scan.remove(&leftovers).await {
            if terminal {
                eprintln!(
                    "kuryr gc: {} {} {}",
                    l.kind,
                    l.id,
                    if result.is_ok() { "deleted" } else { "FAILED" }
                );
            }
            if let Err(e) = result {
                errors.push((l.id.clone(), e.to_string()));
            }
        }
    }
    Ok(Report {
        applied: apply,
        leftovers,
        errors,
    })
}

/// The text `kuryr gc` prints.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let verb = if report.applied {
        "deleted"
    } else {
        "would delete"
    };
    for l in &report.leftovers {
        let failed = report.errors.iter().find(|(id, _)| *id == l.id);
        let what = match failed {
            Some((_, error)) => format!("FAILED to delete: {error}"),
            None => verb.to_string(),
        };
        out.push_str(&format!(
            "{what}  {} {} ({}): {}\n",
            l.kind, l.id, l.name, l.why
        ));
    }
    out.push_str(&format!(
        "{} leftover(s){}\n",
        report.leftovers.len(),
        if report.applied {
            ""
        } else {
            "; kuryr gc --apply deletes them"
        }
    ));
    out
}
