//! Running the binding's external commands (ovs-vsctl, kuryr-lib scripts)
//! through `crate::process` (no shell, no stdin, no `OS_*` secrets, its own
//! process group killed on timeout, output capped), and on failure an error
//! that carries the command line and what the command printed. It never
//! retries; whether a failure is fatal is the caller's decision.

use std::ffi::OsStr;
use std::time::Duration;

use crate::process::{self, RunError};

use super::BindError;

/// At most this much of a failing command's output goes into the error, so a
/// chatty script cannot make the docker CLI print pages.
const MAX_OUTPUT: usize = 2000;

/// Runs `program args…` and returns its stdout. Fails with the command's
/// stderr on a non-zero exit, and kills its process group after `limit` (or
/// when the future is dropped).
pub(super) async fn run(
    program: &OsStr,
    args: &[String],
    limit: Duration,
) -> Result<String, BindError> {
    let output = match process::run(program, args, None, limit).await {
        Ok(output) => output,
        Err(RunError::Timeout(_)) => {
            return Err(BindError::Timeout {
                command: display(program, args),
                secs: limit.as_secs(),
            });
        }
        Err(RunError::Spawn(source) | RunError::Io(source)) => {
            return Err(BindError::Spawn {
                command: display(program, args),
                source,
            });
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    // kuryr's scripts report some failures on stdout only ("binding:vif_type
    // is invalid."), so fall back to it rather than say nothing.
    let said = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    let said = if said.is_empty() {
        "no output".to_owned()
    } else {
        clip(said)
    };
    Err(BindError::Command {
        command: display(program, args),
        status: output.status.to_string(),
        output: said,
    })
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_OUTPUT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The command line for messages, arguments with spaces or quotes in single
/// quotes so it can be pasted into a shell.
pub(super) fn display(program: &OsStr, args: &[String]) -> String {
    let mut line = program.to_string_lossy().into_owned();
    for arg in args {
        line.push(' ');
        if !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c))
        {
            line.push_str(arg);
        } else {
            line.push('\'');
            line.push_str(&arg.replace('\'', r"'\''"));
            line.push('\'');
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn display_quotes_only_what_needs_it() {
        let args = strings(&["bind", "p", "\"{'a': True}\"", "", "x=y:z"]);
        assert_eq!(
            display(OsStr::new("/bin/s"), &args),
            r#"/bin/s bind p '"{'\''a'\'': True}"' '' x=y:z"#
        );
    }

    #[tokio::test]
    async fn success_returns_stdout() {
        let out = run(
            OsStr::new("sh"),
            &strings(&["-c", "echo hello; echo ignored >&2"]),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out, "hello\n");
    }

    #[tokio::test]
    async fn failure_carries_stderr_else_stdout() {
        let err = run(
            OsStr::new("sh"),
            &strings(&["-c", "echo out; echo 'it broke' >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, BindError::Command { output, .. } if output == "it broke"),
            "{err:?}"
        );
        assert!(err.to_string().contains("exit status: 3"), "{err}");

        let err = run(
            OsStr::new("sh"),
            &strings(&["-c", "echo 'only here'; exit 1"]),
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().ends_with(": only here"), "{err}");
    }

    #[tokio::test]
    async fn missing_program_and_timeout() {
        let err = run(
            OsStr::new("/nonexistent/kuryr-x"),
            &[],
            Duration::from_secs(10),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, BindError::Spawn { .. }), "{err:?}");
        let err = run(
            OsStr::new("sleep"),
            &strings(&["5"]),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, BindError::Timeout { .. }), "{err:?}");
    }

    #[test]
    fn long_output_is_clipped() {
        let long = "x".repeat(MAX_OUTPUT + 10);
        assert_eq!(clip(&long).chars().count(), MAX_OUTPUT + 1);
        assert_eq!(clip("short"), "short");
    }
}
