//! `clouds.yaml` (`OS_CLOUD`): openstacksdk's client configuration file, read as an
//! alternative to the `[neutron]` options. It only maps one cloud's entry onto the
//! option names `options.rs` already understands; it sends nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml::Value;

use super::NeutronError;

/// Where openstacksdk looks, in order: `OS_CLIENT_CONFIG_FILE`, the working
/// directory, the user's config directory, then `/etc/openstack`.
fn candidates(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(file) = env("OS_CLIENT_CONFIG_FILE") {
        paths.push(PathBuf::from(file));
    }
    paths.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = env("HOME") {
        paths.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    paths.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    paths
}

/// The options of cloud `name` from the first `clouds.yaml` found, under the
/// `[neutron]` option names. A named cloud that cannot be found is an error: the
/// operator asked for it.
pub fn cloud_options(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, NeutronError> {
    for path in candidates(env) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let doc: Value = serde_yaml::from_str(&text)
            .map_err(|e| NeutronError::Config(format!("{}: {e}", path.display())))?;
        let Some(cloud) = doc.get("clouds").and_then(|c| c.get(name)) else {
            continue;
        };
        return Ok(flatten(cloud));
    }
    Err(NeutronError::Config(format!(
        "OS_CLOUD={name}: no clouds.yaml defines that cloud"
    )))
}

/// Maps one cloud entry onto `[neutron]` names.
pub fn flatten(cloud: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(auth) = cloud.get("auth").and_then(Value::as_mapping) {
        for (k, v) in auth {
            if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                out.insert(k.to_string(), v);
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
            out.insert(to.to_string(), v);
        }
    }
    if cloud.get("verify").and_then(Value::as_bool) == Some(false) {
        out.insert("insecure".to_string(), "true".to_string());
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
    use super::*;

    const FILE: &str = "clouds:\n  devstack-admin:\n    auth:\n      auth_url: http://k:5000/v3\n      username: admin\n      password: secret\n      project_name: admin\n      user_domain_id: default\n      project_domain_id: default\n    region_name: RegionOne\n    interface: internal\n    verify: false\n";

    #[test]
    fn a_cloud_maps_onto_neutron_option_names() {
        let doc: Value = serde_yaml::from_str(FILE).unwrap();
        let o = flatten(doc.get("clouds").unwrap().get("devstack-admin").unwrap());
        assert_eq!(o["auth_url"], "http://k:5000/v3");
        assert_eq!(o["username"], "admin");
        assert_eq!(o["endpoint_type"], "internal");
        assert_eq!(o["region_name"], "RegionOne");
        assert_eq!(o["insecure"], "true");
    }

    #[test]
    fn the_file_is_found_by_os_client_config_file_and_a_missing_cloud_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, FILE).unwrap();
        let p = path.display().to_string();
        let env = move |k: &str| (k == "OS_CLIENT_CONFIG_FILE").then(|| p.clone());
        let o = cloud_options("devstack-admin", &env).unwrap();
        assert_eq!(o["password"], "secret");
        let e = cloud_options("other", &env).unwrap_err();
        assert!(e.to_string().contains("OS_CLOUD=other"), "{e}");
    }
}
