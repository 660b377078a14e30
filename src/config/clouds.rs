//! `clouds.yaml` (`OS_CLOUD`): openstacksdk's client configuration file, read as an
//! alternative to the `[neutron]` client options. It only finds one cloud's entry
//! and maps it onto `[neutron]` option names; `auth.rs` decides what they mean.
//! Files and variables are read through [`Env`].

use std::path::PathBuf;

use serde_yaml::Value;

use super::env::Env;

/// One cloud's entry, under `[neutron]` option names (deprecated ones included).
pub struct Cloud {
    /// The file it came from.
    pub path: PathBuf,
    pub values: Vec<(String, String)>,
}

/// Where openstacksdk looks, in order: `OS_CLIENT_CONFIG_FILE`, the working
/// directory, the user's config directory, then `/etc/openstack`.
fn candidates(env: &dyn Env) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(file) = env.var("OS_CLIENT_CONFIG_FILE").filter(|f| !f.is_empty()) {
        paths.push(PathBuf::from(file));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = env.var("HOME").filter(|h| !h.is_empty()) {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// Cloud `name` from the first `clouds.yaml` that defines it. A named cloud that
/// cannot be found is an error: the operator asked for it. Errors never quote the
/// file's content (it holds passwords).
pub fn find(name: &str, env: &dyn Env) -> Result<Cloud, String> {
    let paths = candidates(env);
    for path in &paths {
        let Some(text) = env.read_file(path) else {
            continue;
        };
        let doc: Value = serde_yaml::from_str(&text)
            .map_err(|e| format!("{}: not YAML: {e}", path.display()))?;
        let Some(cloud) = doc.get("clouds").and_then(|c| c.get(name)) else {
            continue;
        };
        return Ok(Cloud {
            path: path.clone(),
            values: flatten(cloud),
        });
    }
    let looked: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "no clouds.yaml defines that cloud (looked in {})",
        looked.join(", ")
    ))
}

/// Maps one cloud entry onto `[neutron]` names: its `auth:` keys as they are, and
/// the few top-level keys kuryr uses.
fn flatten(cloud: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(auth) = cloud.get("auth").and_then(Value::as_mapping) {
        for (k, v) in auth {
            if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                out.push((k.to_owned(), v));
            }
        }
    }
    for (from, to) in [
        ("auth_type", "auth_type"),
        ("region_name", "region_name"),
        ("interface", "endpoint_type"),
        ("cacert", "cafile"),
    ] {
        if let Some(v) = cloud.get(from).and_then(scalar) {
            out.push((to.to_owned(), v));
        }
    }
    if cloud.get("verify").and_then(Value::as_bool) == Some(false) {
        out.push(("insecure".to_owned(), "true".to_owned()));
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const FILE: &str = "clouds:\n  devstack-admin:\n    auth:\n      auth_url: http://k:5000/v3\n      username: admin\n      password: secret\n      project_name: admin\n      user_domain_id: default\n      project_domain_id: default\n    region_name: RegionOne\n    interface: internal\n    verify: false\n";

    fn get<'a>(cloud: &'a Cloud, key: &str) -> Option<&'a str> {
        cloud
            .values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_cloud_maps_onto_neutron_option_names_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, FILE).unwrap();
        let env = HashMap::from([(
            "OS_CLIENT_CONFIG_FILE".to_owned(),
            path.display().to_string(),
        )]);
        let cloud = find("devstack-admin", &env).unwrap();
        assert_eq!(cloud.path, path);
        assert_eq!(get(&cloud, "auth_url"), Some("http://k:5000/v3"));
        assert_eq!(get(&cloud, "username"), Some("admin"));
        assert_eq!(get(&cloud, "password"), Some("secret"));
        assert_eq!(get(&cloud, "endpoint_type"), Some("internal"));
        assert_eq!(get(&cloud, "region_name"), Some("RegionOne"));
        assert_eq!(get(&cloud, "insecure"), Some("true"));
        let e = find("other", &env).err().unwrap();
        assert!(e.contains(&path.display().to_string()), "{e}");

        std::fs::write(&path, "clouds: [\n  password: hunter2\n").unwrap();
        let e = find("devstack-admin", &env).err().unwrap();
        assert!(e.contains("not YAML") && !e.contains("hunter2"), "{e}");
    }
}
