//! Where to look for `kuryr.conf` when no `--config-file` is given: oslo's
//! `find_config_files(project='kuryr')` order. The first existing file wins.

use std::path::PathBuf;

use super::env::Env;

pub const FILE_NAME: &str = "kuryr.conf";

/// `~/.kuryr/kuryr.conf`, `~/kuryr.conf`, `/etc/kuryr/kuryr.conf`,
/// `/etc/kuryr.conf`. The home entries need `HOME`, as Python's
/// `expanduser` does; without it they are skipped.
pub fn candidates(env: &dyn Env) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(home) = env.var("HOME").filter(|h| !h.is_empty()) {
        let home = PathBuf::from(home);
        dirs.push(home.join(".kuryr"));
        dirs.push(home);
    }
    dirs.push(PathBuf::from("/etc/kuryr"));
    dirs.push(PathBuf::from("/etc"));
    dirs.into_iter().map(|d| d.join(FILE_NAME)).collect()
}

/// The first candidate that exists. Like `os.path.exists`, a path we cannot
/// even stat counts as absent; one that exists but cannot be read is then a
/// read error, as in oslo.
pub fn first_existing(candidates: &[PathBuf]) -> Option<&PathBuf> {
    candidates.iter().find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn oslo_order_with_home() {
        let env = HashMap::from([("HOME".to_owned(), "/home/k".to_owned())]);
        let want: Vec<PathBuf> = [
            "/home/k/.kuryr/kuryr.conf",
            "/home/k/kuryr.conf",
            "/etc/kuryr/kuryr.conf",
            "/etc/kuryr.conf",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(candidates(&env), want);
    }

    #[test]
    fn without_home_only_etc() {
        let env = HashMap::from([("HOME".to_owned(), String::new())]);
        assert_eq!(
            candidates(&env),
            [
                PathBuf::from("/etc/kuryr/kuryr.conf"),
                PathBuf::from("/etc/kuryr.conf")
            ]
        );
        assert_eq!(candidates(&HashMap::new()).len(), 2);
    }
}
