//! Running a child program (ovs-vsctl, kuryr-lib scripts, nft) the one safe way:
//! argv without a shell, stdin only when given, the `OS_*` variables (Keystone
//! passwords, tokens and application-credential secrets) removed from its
//! environment, its own process group, a time limit after which the whole group
//! is killed (also when the caller's future is dropped), and captured output
//! capped so a chatty child cannot grow our memory.
//!
//! It knows nothing of what the children do; interpreting the exit status and
//! the output, and choosing the time limit, is the caller's job. It never
//! retries.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// At most this much of each of stdout and stderr is kept; the rest is read
/// and discarded, so the child never blocks on a full pipe.
pub const MAX_OUTPUT: u64 = 64 * 1024;

/// What a finished child left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    /// The first [`MAX_OUTPUT`] bytes of stdout.
    pub stdout: Vec<u8>,
    /// The first [`MAX_OUTPUT`] bytes of stderr.
    pub stderr: Vec<u8>,
    /// Whether either stream was longer than [`MAX_OUTPUT`].
    pub truncated: bool,
}

/// Why a child gave no [`Output`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It could not be started (e.g. the program does not exist: `NotFound`).
    #[error("{0}")]
    Spawn(#[source] std::io::Error),
    /// Feeding its stdin or reading its output failed.
    #[error("talking to it: {0}")]
    Io(#[source] std::io::Error),
    /// It ran past the limit; its process group was killed.
    #[error("did not finish within {} s and was killed", .0.as_secs_f64())]
    Timeout(Duration),
}

/// Kills the child's process group when dropped, unless already done. Declared
/// after the `Child` so that it runs first: the group id stays valid while the
/// leader is unreaped.
struct Group {
    pgid: Option<Pid>,
    done: AtomicBool,
}

impl Group {
    fn kill(&self) {
        if self.done.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(pgid) = self.pgid {
            // ESRCH (the group is already empty) is the usual outcome after a
            // clean exit; nothing else can be done about other failures.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `program args…` with `input` on stdin (else stdin is /dev/null) and
/// waits for it, at most `limit`. A non-zero exit is not an error here: the
/// status is in the `Output`.
pub async fn run<S: AsRef<OsStr>>(
    program: &OsStr,
    args: &[S],
    input: Option<&[u8]>,
    limit: Duration,
) -> Result<Output, RunError> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so a timeout kills what it forked too.
        .process_group(0)
        .kill_on_drop(true);
    for name in secret_names(std::env::vars_os().map(|(name, _)| name)) {
        command.env_remove(name);
    }
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let group = Group {
        pgid: child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
        done: AtomicBool::new(false),
    };
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let feed = async {
        if let (Some(mut pipe), Some(data)) = (stdin, input) {
            match pipe.write_all(data).await {
                // The child may exit without reading; its status says why.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let status = async {
        let status = child.wait().await;
        // Leftovers of a finished command (a forked sleeper holding our
        // pipes) are never wanted; killing them also ends the reads below.
        // The leader is reaped by now but its group id is still pinned by
        // any member left, so this cannot hit an unrelated group.
        group.kill();
        status
    };
    let work = async {
        let (fed, out, err, status) =
            tokio::join!(feed, read_capped(stdout), read_capped(stderr), status);
        fed.map_err(RunError::Io)?;
        let status = status.map_err(RunError::Io)?;
        let (stdout, cut_out) = out.map_err(RunError::Io)?;
        let (stderr, cut_err) = err.map_err(RunError::Io)?;
        Ok(Output {
            status,
            stdout,
            stderr,
            truncated: cut_out || cut_err,
        })
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        // Dropping `group` (then `child`) kills the whole group.
        Err(_) => Err(RunError::Timeout(limit)),
    }
}

/// Reads a pipe to its end, keeping the first [`MAX_OUTPUT`] bytes; the flag
/// says whether more came.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>) -> std::io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return Ok((kept, false));
    };
    (&mut pipe).take(MAX_OUTPUT).read_to_end(&mut kept).await?;
    let rest = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await?;
    Ok((kept, rest > 0))
}

/// The variables a child must not inherit: every `OS_*` (openstacksdk's and
/// keystoneauth's namespace, holding `OS_PASSWORD`, `OS_TOKEN` and
/// `OS_APPLICATION_CREDENTIAL_SECRET`). None of our children needs them.
fn secret_names(names: impl Iterator<Item = OsString>) -> Vec<OsString> {
    names
        .filter(|name| name.as_bytes().starts_with(b"OS_"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> [String; 2] {
        ["-c".to_owned(), script.to_owned()]
    }

    #[test]
    fn only_os_variables_are_secret() {
        let names = ["OS_PASSWORD", "PATH", "OS_TOKEN", "HOS_T", "os_lower"]
            .map(OsString::from)
            .into_iter();
        assert_eq!(secret_names(names), ["OS_PASSWORD", "OS_TOKEN"]);
    }

    /// Runs `env` through the real spawn path; only meaningful in the child
    /// test process started by `children_never_see_os_variables`, whose
    /// environment holds secrets.
    #[tokio::test]
    #[ignore = "run by children_never_see_os_variables in a process with OS_* set"]
    async fn probe_child_environment() {
        let out = run(
            OsStr::new("env"),
            &[] as &[&str],
            None,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let env = String::from_utf8_lossy(&out.stdout);
        assert!(env.contains("KURYR_PROBE=1"), "{env}");
        let leaked: Vec<&str> = env.lines().filter(|l| l.starts_with("OS_")).collect();
        assert!(leaked.is_empty(), "leaked to the child: {leaked:?}");
        eprintln!("probe: child environment clean");
    }

    #[test]
    fn children_never_see_os_variables() {
        // A separate process, so setting secrets does not race other tests.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "process::tests::probe_child_environment",
                "--ignored",
                "--nocapture",
            ])
            .env("OS_PASSWORD", "hunter2")
            .env("OS_APPLICATION_CREDENTIAL_SECRET", "s3cret")
            .env("OS_TOKEN", "gAAAA")
            .env("KURYR_PROBE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.contains("probe: child environment clean"),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    #[tokio::test]
    async fn stdin_is_fed_and_status_returned() {
        let out = run(
            OsStr::new("sh"),
            &sh("cat; echo err >&2; exit 3"),
            Some(b"hello"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
        assert!(!out.truncated);
    }

    #[tokio::test]
    async fn output_is_capped_and_the_rest_drained() {
        // 8 MiB on stdout: far past the cap; the child must not block.
        let out = run(
            OsStr::new("sh"),
            &sh("head -c 8388608 /dev/zero; echo done >&2"),
            None,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len() as u64, MAX_OUTPUT);
        assert!(out.truncated);
        assert_eq!(out.stderr, b"done\n");
    }

    fn alive(pid: i32) -> bool {
        // A zombie still answers kill(0); /proc's state tells them apart.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(false)
    }

    async fn gone(pid: i32) -> bool {
        for _ in 0..50 {
            if !alive(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("sleeper");
        // Forks a sleeper, then floods stdout forever.
        let script = format!(
            "sleep 1000 & echo $! > {}; while :; do head -c 65536 /dev/zero; done",
            pidfile.display()
        );
        let start = Instant::now();
        let err = run(
            OsStr::new("sh"),
            &sh(&script),
            None,
            Duration::from_millis(700),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, RunError::Timeout(_)), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "the forked sleeper {pid} survived");
    }

    #[tokio::test]
    async fn leftovers_of_a_finished_child_do_not_hold_it() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("sleeper");
        // The sleeper keeps stdout open; without the group kill the read
        // would wait for it.
        let script = format!("sleep 1000 & echo $! > {}; echo ok", pidfile.display());
        let start = Instant::now();
        let out = run(
            OsStr::new("sh"),
            &sh(&script),
            None,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"ok\n");
        assert!(start.elapsed() < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "the forked sleeper {pid} survived");
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("sleeper");
        let script = format!("sleep 1000 & echo $! > {}; wait", pidfile.display());
        let args = sh(&script);
        let call = run(OsStr::new("sh"), &args, None, Duration::from_secs(60));
        // Give it time to fork, then drop it.
        let _ = tokio::time::timeout(Duration::from_millis(500), call).await;
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "the forked sleeper {pid} survived");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let err = run(
            OsStr::new("/nonexistent/kuryr-x"),
            &[] as &[&str],
            None,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, RunError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
    }
}
