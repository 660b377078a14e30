//! Isolation between kuryr networks when the host forwards packets.
//!
//! Each network's bridge holds its gateway address, so a host with forwarding on would
//! route between networks. One nftables table, `inet kuryr` (IPv4 and IPv6), drops
//! packets forwarded from one kuryr bridge to another; traffic inside a bridge is
//! switched, not forwarded, and traffic to or from other interfaces is left alone. The
//! whole table is rebuilt in one `nft -f` transaction from the list of bridges, so it
//! cannot drift from the networks that exist, and it is removed when none do.
//! `ruleset` is pure; `apply` runs `nft`.

use super::HostNetError;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The nftables table this plugin owns, in the `inet` family.
pub const TABLE: &str = "kuryr";

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

/// Run `script` through `nft -f -`. A host without `nft` gets one warning and no
/// isolation; any other failure is an error, because a network that should be isolated
/// but is not must not be reported as created.
pub(super) async fn apply(script: &str) -> Result<(), HostNetError> {
    let spawned = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if !NFT_MISSING_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "nft not found: kuryr networks are not isolated from each other when the \
                     host forwards packets (install nftables)"
                );
            }
            return Ok(());
        }
        Err(error) => return Err(firewall(format!("cannot run nft: {error}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(|error| firewall(format!("write to nft: {error}")))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|error| firewall(format!("wait for nft: {error}")))?;
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

fn firewall(message: String) -> HostNetError {
    HostNetError::Firewall(message)
}

#[cfg(test)]
mod tests {
    use super::*;

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
