//! Docker's discovery of the plugin: dockerd finds a legacy plugin by name, first as a
//! socket `<name>.sock` in /run/docker/plugins, then as `<name>.spec` or `<name>.json`
//! in /etc/docker/plugins and /usr/lib/docker/plugins (moby `pkg/plugins/discovery.go`).
//! So the socket or spec file must be there, must be the only file for its name, and
//! must answer; and the plugin must be able to make its socket and keep its state.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, Listen};

use super::{Finding, writable};

/// Where dockerd looks, in its order.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub socket_dir: PathBuf,
    pub spec_dirs: Vec<PathBuf>,
}

impl Default for Discovery {
    fn default() -> Discovery {
        Discovery {
            socket_dir: PathBuf::from("/run/docker/plugins"),
            spec_dirs: vec![
                PathBuf::from("/etc/docker/plugins"),
                PathBuf::from("/usr/lib/docker/plugins"),
            ],
        }
    }
}

pub(super) async fn check(config: &Config, discovery: &Discovery) -> Vec<Finding> {
    let mut out = Vec::new();
    let (name, ours) = match &config.listen {
        Listen::Unix(path) => {
            let name = stem(path);
            let dir = path.parent().unwrap_or(Path::new("/"));
            out.push(if in_dir(dir, &discovery.socket_dir) {
                Finding::ok(
                    "discovery",
                    format!(
                        "socket {} is where dockerd looks (driver name {name:?})",
                        path.display()
                    ),
                )
            } else {
                Finding::fail(
                    "discovery",
                    format!(
                        "dockerd does not look for sockets in {}; it finds legacy plugins in {}",
                        dir.display(),
                        discovery.socket_dir.display()
                    ),
                    format!(
                        "set [DEFAULT] kuryr_uri = unix://{}/{name}.sock",
                        discovery.socket_dir.display()
                    ),
                )
            });
            out.push(socket_dir_writable(dir));
            (name, path.clone())
        }
        Listen::Tcp(address) => {
            let spec = config.spec_dir.join("kuryr.spec");
            out.push(
                if discovery.spec_dirs.iter().any(|d| d == &config.spec_dir) {
                    Finding::ok(
                        "discovery",
                        format!("spec file {} names http://{address}", spec.display()),
                    )
                } else {
                    Finding::fail(
                        "discovery",
                        format!(
                            "spec_dir {} is not where dockerd looks ({})",
                            config.spec_dir.display(),
                            shown(&discovery.spec_dirs)
                        ),
                        "set [DEFAULT] spec_dir = /etc/docker/plugins",
                    )
                },
            );
            ("kuryr".to_string(), spec)
        }
    };
    out.push(conflicts(&name, &ours, discovery));
    out.push(answers(config).await);
    out.push(match writable(&config.state_dir) {
        Ok(()) => Finding::ok(
            "state_dir",
            format!("{} is writable", config.state_dir.display()),
        ),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound && parent_writable(&config.state_dir) =>
        {
            Finding::ok(
                "state_dir",
                format!("{} will be created at start", config.state_dir.display()),
            )
        }
        Err(e) => Finding::fail(
            "state_dir",
            format!("{} is not writable: {e}", config.state_dir.display()),
            "make it writable by the plugin's user, or set [DEFAULT] state_dir",
        ),
    });
    out
}

fn socket_dir_writable(dir: &Path) -> Finding {
    match writable(dir) {
        Ok(()) => Finding::ok("socket directory", format!("{} is writable", dir.display())),
        Err(e) => Finding::fail(
            "socket directory",
            format!(
                "{} is not writable: {e}; the plugin cannot create its socket there",
                dir.display()
            ),
            format!(
                "run the plugin as root (or a user who may write {}), and check it is not a read-only mount",
                dir.display()
            ),
        ),
    }
}

/// Other files dockerd would take for the same driver name.
fn conflicts(name: &str, ours: &Path, discovery: &Discovery) -> Finding {
    let mut candidates = vec![discovery.socket_dir.join(format!("{name}.sock"))];
    for dir in &discovery.spec_dirs {
        candidates.push(dir.join(format!("{name}.spec")));
        candidates.push(dir.join(format!("{name}.json")));
    }
    let others: Vec<String> = candidates
        .iter()
        .filter(|c| c.as_path() != ours && std::fs::symlink_metadata(c).is_ok())
        .map(|c| c.display().to_string())
        .collect();
    if others.is_empty() {
        return Finding::ok(
            "name conflicts",
            format!("no other socket or spec file for {name:?}"),
        );
    }
    Finding::fail(
        "name conflicts",
        format!(
            "dockerd also finds {} for driver {name:?}, and takes the first in its order (sockets, then /etc, then /usr/lib)",
            others.join(", ")
        ),
        "remove the files of the other plugin (a kuryr-libnetwork leftover?), or give this one another name",
    )
}

async fn answers(config: &Config) -> Finding {
    let mode = match &config.listen {
        Listen::Unix(path) => std::fs::metadata(path)
            .map(|m| {
                format!(
                    ", socket mode {:o} owner {}:{}",
                    m.permissions().mode() & 0o777,
                    m.uid(),
                    m.gid()
                )
            })
            .unwrap_or_default(),
        Listen::Tcp(_) => String::new(),
    };
    let answer = crate::control::call(
        &config.listen,
        "/Plugin.Activate",
        "",
        Duration::from_secs(5),
    )
    .await;
    match answer {
        Ok((200, body)) => {
            let body = String::from_utf8_lossy(&body);
            if body.contains("NetworkDriver") && body.contains("IpamDriver") {
                Finding::ok(
                    "plugin",
                    format!(
                        "{} answers Plugin.Activate as NetworkDriver and IpamDriver{mode}",
                        config.listen
                    ),
                )
            } else {
                Finding::fail(
                    "plugin",
                    format!("{} answers Plugin.Activate with {body}", config.listen),
                    "something else listens there: stop it, or move kuryr_uri",
                )
            }
        }
        Ok((code, _)) => Finding::fail(
            "plugin",
            format!("{} answers Plugin.Activate with HTTP {code}", config.listen),
            "something else listens there: stop it, or move kuryr_uri",
        ),
        Err(error) => Finding::fail(
            "plugin",
            error.to_string(),
            "start the plugin (kuryr serve, systemctl start kuryr, or docker plugin enable)",
        ),
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `dir` is `base` or a directory below it (a managed plugin's socket is in
/// /run/docker/plugins/<id>/).
fn in_dir(dir: &Path, base: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(dir).starts_with(canon(base))
}

fn parent_writable(dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .find(|p| p.exists())
        .is_some_and(|p| writable(p).is_ok())
}

fn shown(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
