//! Isolation between kuryr networks when the host forwards packets.
//!
//! Each network's bridge holds its gateway address, so a host with forwarding on would
//! route between networks. One nftables table, `inet kuryr` (IPv4 and IPv6), drops
//! packets forwarded from one kuryr bridge to another; traffic inside a bridge is
//! switched, not forwarded, and traffic to or from other interfaces is left alone. The
//! whole table is rebuilt in one `nft -f` transaction from the list of bridges, so it
//! cannot drift from the networks that exist, and it is removed when none do.
//! `ruleset` is pure; `apply` runs `nft`.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::HostNetError;
use crate::process::{self, RunError};

/// The nftables table this plugin owns, in the `inet` family.
pub const TABLE: &str = "kuryr";

/// How long one `nft -f` may take. A rebuild runs under the backend's firewall
/// lock, so a hung nft must not block every CreateNetwork and DeleteNetwork.
pub const NFT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `nft -f` script that makes the table match `bridges` (interface names already
/// validated, so they need no quoting beyond the double quotes).
pub fn ruleset(bridges: &[String]) -> String {
    // Creating the table first makes the delete valid when it does not exist yet; both
    // run in the same transaction as the new table, so there is no unprotected gap.
    let mut script = format!("table inet {TABLE} {{}}\ndelete table inet {TABLE}\n");
    if bridges.len() < 2 {
        return script;
    }
    script.push_str(&format!(
        "table inet {TABLE} {{\n\tchain isolate {{\n\t\ttype filter hook forward priority filter - 10; policy accept;\n"
    ));
    for from in bridges {
        let others: Vec<String> = bridges
            .iter()
            .filter(|to| *to != from)
            .map(|to| format!("\"{to}\""))
            .collect();
        script.push_str(&format!(
            "\t\tiifname \"{from}\" oifname {{ {} }} drop\n",
            others.join(", ")
        ));
    }
    script.push_str("\t}\n}\n");
    script
}

/// Warn only once on hosts without the `nft` tool.
static NFT_MISSING_WARNED: AtomicBool = AtomicBool::new(false);

/// Which `nft` to run and for how long; `Nft::default()` is the host's `nft`
/// with [`NFT_TIMEOUT`]. Tests point it at a stub.
#[derive(Clone, Debug)]
pub struct Nft {
    pub program: OsString,
    pub timeout: Duration,
}

impl Default for Nft {
    fn default() -> Nft {
        Nft {
            program: "nft".into(),
            timeout: NFT_TIMEOUT,
        }
    }
}

impl Nft {
    /// Runs `script` through `nft -f -`. A host without `nft` gets one warning and no
    /// isolation; any other failure (including the time limit, after which nft's
    /// process group is killed) is an error, because a network that should be
    /// isolated but is not must not be reported as created.
    pub async fn apply(&self, script: &str) -> Result<(), HostNetError> {
        let output = match process::run(
            &self.program,
            &["-f", "-"],
            Some(script.as_bytes()),
            self.timeout,
        )
        .await
        {
            Ok(output) => output,
            Err(RunError::Spawn(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                if !NFT_MISSING_WARNED.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "nft not found: kuryr networks are not isolated from each other when \
                         the host forwards packets (install nftables)"
                    );
                }
                return Ok(());
            }
            Err(error @ RunError::Spawn(_)) => {
                return Err(firewall(format!("cannot run nft: {error}")));
            }
            Err(error) => return Err(firewall(format!("nft: {error}"))),
        };
        if output.status.success() {
            Ok(())
        } else {
            Err(firewall(format!(
                "nft failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            )))
        }
    }
}

/// Runs `script` through the host's `nft` (see [`Nft::apply`]).
pub(super) async fn apply(script: &str) -> Result<(), HostNetError> {
    Nft::default().apply(script).await
}

fn firewall(message: String) -> HostNetError {
    HostNetError::Firewall(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An executable stub standing in for `nft`.
    fn stub(dir: &std::path::Path, body: &str) -> Nft {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("nft");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Nft {
            program: path.into(),
            timeout: std::time::Duration::from_millis(800),
        }
    }

    #[tokio::test]
    async fn a_hung_nft_fails_the_rebuild_within_the_limit_and_the_next_one_works() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("hung-once");
        // The first run hangs (and forks a sleeper); later runs read the script
        // like nft would and succeed.
        let nft = stub(
            dir.path(),
            &format!(
                "if [ ! -e {m} ]; then touch {m}; sleep 1000 & sleep 1000; fi\ncat > {d}/got",
                m = marker.display(),
                d = dir.path().display()
            ),
        );
        let script = ruleset(&["kbra".into(), "kbrb".into()]);
        let start = std::time::Instant::now();
        let err = nft.apply(&script).await.unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        assert!(
            matches!(&err, HostNetError::Firewall(m) if m.contains("did not finish")),
            "{err}"
        );
        nft.apply(&script).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got")).unwrap(),
            script
        );
    }

    #[tokio::test]
    async fn a_failing_nft_reports_its_stderr_and_a_missing_one_is_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let nft = stub(dir.path(), "echo 'syntax error' >&2; exit 1");
        let err = nft.apply("x").await.unwrap_err();
        assert!(err.to_string().contains("syntax error"), "{err}");
        let missing = Nft {
            program: dir.path().join("none").into(),
            ..Nft::default()
        };
        missing.apply("x").await.unwrap();
    }

    #[test]
    fn fewer_than_two_bridges_removes_the_table() {
        for bridges in [vec![], vec!["kbr1".to_string()]] {
            let script = ruleset(&bridges);
            assert_eq!(script, "table inet kuryr {}\ndelete table inet kuryr\n");
        }
    }

    #[test]
    fn each_bridge_drops_forwarding_to_every_other() {
        let bridges: Vec<String> = ["kbra", "kbrb", "br-lab"].map(String::from).to_vec();
        let script = ruleset(&bridges);
        assert!(script.contains("hook forward"), "{script}");
        assert!(
            script.contains("iifname \"kbra\" oifname { \"kbrb\", \"br-lab\" } drop"),
            "{script}"
        );
        assert!(
            script.contains("iifname \"kbrb\" oifname { \"kbra\", \"br-lab\" } drop"),
            "{script}"
        );
        assert!(
            script.contains("iifname \"br-lab\" oifname { \"kbra\", \"kbrb\" } drop"),
            "{script}"
        );
        assert!(!script.contains("oifname { \"kbra\", \"kbra\""), "{script}");
    }
}
