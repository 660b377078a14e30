//! `kuryr doctor`: why `docker network create -d kuryr` might fail on this node, as
//! one line per check with ok, warn or fail and how to fix it. Any fail exits non-zero.
//!
//! Checks, each in its own file: the configuration (with the Neutron client's own auth
//! checks, as `serve` runs them), Docker's discovery of the plugin (`docker.rs`), the
//! kernel's link types and nftables, probed in a throwaway network namespace, and
//! forwarding (`kernel.rs`), Neutron (`neutron.rs`) and OVS (`ovs.rs`). Nothing here
//! changes the host: files it writes to test a directory are removed, links live in a
//! namespace that dies with the probe.

mod docker;
mod kernel;
mod neutron;
mod ovs;

use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{BackendKind, Loaded};

pub use docker::Discovery;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: String,
    pub level: Level,
    pub detail: String,
    /// What to do about a warn or fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub fn ok(check: &str, detail: impl Into<String>) -> Finding {
        Finding {
            check: check.to_string(),
            level: Level::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn warn(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check: check.to_string(),
            level: Level::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            check: check.to_string(),
            level: Level::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Every check for a loaded configuration (or the reason it did not load).
pub async fn run(loaded: Result<Loaded, String>, discovery: &Discovery) -> Vec<Finding> {
    let mut findings = Vec::new();
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            findings.push(Finding::fail(
                "config",
                error,
                "fix the named options (kuryr check-config shows the same)",
            ));
            findings.extend(kernel::check(None));
            return findings;
        }
    };
    findings.push(config_finding(&loaded));
    let config = &loaded.config;
    findings.extend(docker::check(config, discovery).await);
    findings.extend(kernel::check(Some(config)));
    if config.backend == BackendKind::Neutron {
        findings.extend(neutron::check(config).await);
        if config.nesting.is_none() {
            findings.extend(ovs::check(config).await);
        }
    }
    findings
}

/// `loaded` passed `serve`'s own checks, the Neutron credentials included.
fn config_finding(loaded: &Loaded) -> Finding {
    let source = loaded.source.as_ref().map_or_else(
        || "built-in defaults and the environment".to_string(),
        |p| p.display().to_string(),
    );
    let backend = loaded.config.backend.kind().as_str();
    let warnings = loaded.warnings.len();
    if warnings > 0 {
        return Finding::warn(
            "config",
            format!("{source}: valid, backend {backend}, {warnings} warning(s)"),
            "kuryr check-config lists them",
        );
    }
    Finding::ok("config", format!("{source}: valid, backend {backend}"))
}

/// Whether any check failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Fail)
}

/// The text `kuryr doctor` prints: one line per check, the fix indented below.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let level = match f.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let _ = writeln!(out, "{level}  {}: {}", f.check, f.detail);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "        fix: {fix}");
        }
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let _ = writeln!(
        out,
        "{} ok, {} warn, {} fail",
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Fail)
    );
    out
}

/// Whether `dir` takes a new file: one is created and removed (as root, mode bits do
/// not stop a write, but a read-only mount or an immutable directory does).
pub(crate) fn writable(dir: &std::path::Path) -> Result<(), std::io::Error> {
    let probe = dir.join(format!(".kuryr-doctor-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)?;
    std::fs::remove_file(&probe)
}
