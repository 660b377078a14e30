//! `[neutron]` as `config` owns it: the client's options from the file, `clouds.yaml`
//! and `OS_*`, backend detection from the environment, every auth mistake reported
//! at once (what `check-config` prints and `serve` refuses), and no secret in any
//! message. The environment, the host name and `clouds.yaml` are injected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::neutron::{
    AppCredentialRef, AuthMethod, Client, ClientOptions, Interface, NameOrId, ProjectScope, UserRef,
};

/// Variables, a host name and files, all made up.
#[derive(Default)]
struct TestEnv {
    vars: HashMap<String, String>,
    hostname: Option<String>,
    files: HashMap<PathBuf, String>,
}

impl TestEnv {
    fn vars(pairs: &[(&str, &str)]) -> TestEnv {
        TestEnv {
            vars: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..TestEnv::default()
        }
    }

    /// `clouds.yaml` at the path `OS_CLIENT_CONFIG_FILE` names.
    fn with_clouds(mut self, text: &str) -> TestEnv {
        let path = "/virtual/clouds.yaml";
        self.vars
            .insert("OS_CLIENT_CONFIG_FILE".into(), path.into());
        self.files.insert(path.into(), text.into());
        self
    }
}

impl Env for TestEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.vars.get(key).cloned()
    }

    fn hostname(&self) -> Option<String> {
        self.hostname.clone()
    }

    fn read_file(&self, path: &Path) -> Option<String> {
        self.files.get(path).cloned()
    }
}

fn load(text: &str, env: &TestEnv) -> Loaded {
    from_ini_str(text, "test.conf", env).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(text: &str, env: &TestEnv) -> Vec<Invalid> {
    match from_ini_str(text, "test.conf", env) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn client(loaded: &Loaded) -> &ClientOptions {
    match &loaded.config.backend {
        Backend::Neutron(options) => options,
        Backend::Embedded => panic!("the embedded backend"),
    }
}

/// The `(section, key)` of each refusal.
fn keys(list: &[Invalid]) -> Vec<(&str, &str)> {
    list.iter()
        .map(|i| (i.section.as_str(), i.key.as_str()))
        .collect()
}

/// A devstack-style openrc: what a managed plugin gets with `docker plugin set`.
const OPENRC: &[(&str, &str)] = &[
    ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
    ("OS_USERNAME", "kuryr"),
    ("OS_PASSWORD", "env-secret-pw"),
    ("OS_PROJECT_NAME", "service"),
    ("OS_USER_DOMAIN_NAME", "Default"),
    ("OS_PROJECT_DOMAIN_NAME", "Default"),
];

fn openrc_auth() -> AuthMethod {
    AuthMethod::Password {
        auth_url: "http://127.0.0.1:5000/v3".parse().unwrap(),
        user: UserRef::Name {
            name: "kuryr".into(),
            domain: NameOrId::Name("Default".into()),
        },
        password: "env-secret-pw".into(),
        project: Some(ProjectScope::Name {
            name: "service".into(),
            domain: NameOrId::Name("Default".into()),
        }),
    }
}

/// Issue 12's regression: with only `OS_*` set, `serve` picked the embedded
/// backend, and with `backend = neutron` it refused to start.
#[test]
fn the_os_environment_alone_selects_and_configures_neutron() {
    let env = TestEnv::vars(OPENRC);
    for text in [
        "",
        "[DEFAULT]\nbackend = neutron\n",
        // A [neutron] section that says nothing of where Neutron is.
        "[DEFAULT]\nbackend = neutron\n[neutron]\nenable_dhcp = False\nauth_url =\n",
    ] {
        let loaded = load(text, &env);
        assert_eq!(loaded.config.backend, BackendKind::Neutron, "{text:?}");
        assert_eq!(client(&loaded).auth, openrc_auth(), "{text:?}");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }
    // Without a location, the rest of an openrc selects nothing.
    let partial = TestEnv::vars(&OPENRC[1..]);
    assert_eq!(load("", &partial).config.backend, BackendKind::Embedded);
    let list = refused("[DEFAULT]\nbackend = neutron\n", &partial);
    assert_eq!(keys(&list), [("DEFAULT", "backend")]);
}

#[test]
fn os_endpoint_and_os_network_endpoint_mean_no_auth() {
    for var in ["OS_ENDPOINT", "OS_NETWORK_ENDPOINT"] {
        let env = TestEnv::vars(&[(var, "http://127.0.0.1:9696"), ("OS_AUTH_TYPE", "none")]);
        let loaded = load("", &env);
        assert_eq!(
            client(&loaded).auth,
            AuthMethod::None {
                endpoint: "http://127.0.0.1:9696".parse().unwrap()
            },
            "{var}"
        );
    }
}

/// The environment fills only a section that does not say where Neutron is, and a
/// managed plugin's unset settings are empty variables.
#[test]
fn a_section_with_a_location_ignores_the_environment() {
    let env =
        TestEnv::vars(&[OPENRC, &[("OS_INTERFACE", "admin"), ("OS_REGION_NAME", "")]].concat());
    let loaded = load(
        "[neutron]\nauth_url = http://other:5000/v3\nusername = u\npassword = p\n",
        &env,
    );
    let options = client(&loaded);
    assert!(
        matches!(&options.auth, AuthMethod::Password { password, project: None, .. } if password == "p")
    );
    assert_eq!(options.interface, Interface::Public);

    let loaded = load("[neutron]\nregion_name = R1\n", &env);
    let options = client(&loaded);
    assert_eq!(options.auth, openrc_auth());
    assert_eq!(options.interface, Interface::Admin);
    assert_eq!(options.region.as_deref(), Some("R1"), "the file wins");
}

#[test]
fn every_auth_mistake_is_reported_at_once() {
    let text = "\
[DEFAULT]
backend = neutron
[neutron]
auth_type = password
auth_url = keystone:5000/v3
project_id = p1
domain_name = Default
timeout = 1e20
insecure = maybe
endpoint_type = private
cafile = /nonexistent/ca.pem
";
    let list = refused(text, &TestEnv::default());
    let got = keys(&list);
    for key in [
        "auth_url",
        "username",
        "password",
        "domain_name",
        "timeout",
        "insecure",
        "endpoint_type",
    ] {
        assert!(
            got.contains(&("neutron", key)),
            "{key} missing from {got:?}"
        );
    }
    let shown = ConfigError::Invalid(list).to_string();
    assert!(
        shown.contains("[neutron] password: required with auth_type password"),
        "{shown}"
    );
    assert!(shown.contains("http:// or https://"), "{shown}");
    // The file names a location, so no variable is suggested.
    assert!(!shown.contains("OS_PASSWORD"), "{shown}");

    // The cafile is checked once the rest is right.
    let text =
        "[neutron]\nauth_type = none\nendpoint = http://n:9696\ncafile = /nonexistent/ca.pem\n";
    let list = refused(text, &TestEnv::default());
    assert_eq!(keys(&list), [("neutron", "cafile")]);
}

#[test]
fn a_missing_credential_names_its_variable_when_the_environment_was_read() {
    let env = TestEnv::vars(&[("OS_AUTH_URL", "http://k:5000/v3"), ("OS_USERNAME", "u")]);
    let list = refused("", &env);
    assert_eq!(keys(&list), [("neutron", "password")]);
    assert_eq!(
        list[0].to_string(),
        "[neutron] password: required with auth_type password (the default with auth_url) \
         (or environment variable OS_PASSWORD)"
    );
    // An application credential without its auth_type: the message says so.
    let env = TestEnv::vars(&[
        ("OS_AUTH_URL", "http://k:5000/v3"),
        ("OS_APPLICATION_CREDENTIAL_ID", "ac1"),
        ("OS_APPLICATION_CREDENTIAL_SECRET", "acs"),
    ]);
    let list = refused("", &env);
    assert!(
        list.iter()
            .any(|i| i.key == "username" && i.message.contains("v3applicationcredential")),
        "{list:?}"
    );
}

#[test]
fn unknown_auth_types_are_refused_with_their_origin() {
    let list = refused(
        "[neutron]\nauth_type = kerberos\nauth_url = http://k/\n",
        &TestEnv::default(),
    );
    assert_eq!(keys(&list), [("neutron", "auth_type")]);
    assert!(
        list[0].message.contains("v3applicationcredential"),
        "{}",
        list[0]
    );
    let env = TestEnv::vars(&[("OS_AUTH_URL", "http://k/"), ("OS_AUTH_TYPE", "Kerberos")]);
    let list = refused("", &env);
    assert!(list[0].message.contains("OS_AUTH_TYPE"), "{}", list[0]);
}

#[test]
fn token_application_credential_and_none() {
    let env = TestEnv::default();
    let loaded = load(
        "[neutron]\nauth_type = v3token\nauth_url = http://ks/\ntoken = tok-9\nproject_id = p1\n",
        &env,
    );
    assert!(
        matches!(&client(&loaded).auth, AuthMethod::Token { token, project: Some(ProjectScope::Id(p)), .. } if token == "tok-9" && p == "p1")
    );
    let loaded = load(
        "[neutron]\nauth_type = V3ApplicationCredential\nauth_url = http://ks/\n\
         application_credential_id = ac1\napplication_credential_secret = sec-7\n",
        &env,
    );
    assert!(
        matches!(&client(&loaded).auth, AuthMethod::ApplicationCredential { credential: AppCredentialRef::Id(id), .. } if id == "ac1")
    );
    // By name it needs its user.
    let by_name = "[neutron]\nauth_type = v3applicationcredential\nauth_url = http://ks/\n\
                   application_credential_name = ac\napplication_credential_secret = s\n";
    assert_eq!(keys(&refused(by_name, &env)), [("neutron", "username")]);
    let loaded = load(&format!("{by_name}user_id = u1\n"), &env);
    assert!(matches!(
        &client(&loaded).auth,
        AuthMethod::ApplicationCredential { credential: AppCredentialRef::Name { user: UserRef::Id(u), .. }, .. } if u == "u1"
    ));
    let list = refused(
        "[neutron]\nauth_type = v3applicationcredential\nauth_url = http://ks/\n",
        &env,
    );
    assert_eq!(
        keys(&list),
        [
            ("neutron", "application_credential_id"),
            ("neutron", "application_credential_secret")
        ]
    );
    // noauth needs the endpoint.
    let list = refused(
        "[DEFAULT]\nbackend = neutron\n[neutron]\nauth_type = none\n",
        &env,
    );
    assert_eq!(keys(&list), [("DEFAULT", "backend")]);
    let list = refused("[neutron]\nauth_type = none\nauth_url = http://ks/\n", &env);
    assert_eq!(keys(&list), [("neutron", "endpoint")]);
}

/// keystoneauth scopes a token to one target; an id and a name of the same thing
/// are allowed (openrc files set both) and the id wins, with a warning.
#[test]
fn scope_conflicts_and_ids_beside_names() {
    let base = "[neutron]\nauth_url = http://k/v3\nusername = u\npassword = p\n";
    for key in ["domain_id", "domain_name", "trust_id", "system_scope"] {
        let list = refused(
            &format!("{base}project_name = s\n{key} = x\n"),
            &TestEnv::default(),
        );
        assert_eq!(keys(&list), [("neutron", key)]);
        assert!(list[0].message.contains("project"), "{}", list[0]);
    }
    let loaded = load(
        &format!("{base}project_id = p1\nproject_name = service\nuser_id = u1\n"),
        &TestEnv::default(),
    );
    assert!(matches!(
        &client(&loaded).auth,
        AuthMethod::Password { user: UserRef::Id(u), project: Some(ProjectScope::Id(p)), .. } if u == "u1" && p == "p1"
    ));
    let warned: Vec<String> = loaded.warnings.iter().map(Warning::to_string).collect();
    assert_eq!(
        warned,
        [
            "[neutron] username: ignored: user_id is used",
            "[neutron] project_name: ignored: project_id is used"
        ]
    );
    // An openrc sets both too; the warning says where the name came from.
    let env = TestEnv::vars(&[OPENRC, &[("OS_PROJECT_ID", "p1")]].concat());
    let loaded = load("", &env);
    assert_eq!(
        loaded.warnings[0].to_string(),
        "[neutron] project_name: ignored: project_id is used (from environment variable \
         OS_PROJECT_NAME)"
    );
    // keystoneauth's default domain stands in for the user's and the project's.
    let loaded = load(
        &format!("{base}project_name = s\ndefault_domain_name = Corp\n"),
        &TestEnv::default(),
    );
    let corp = NameOrId::Name("Corp".into());
    assert!(matches!(
        &client(&loaded).auth,
        AuthMethod::Password { user: UserRef::Name { domain: d1, .. }, project: Some(ProjectScope::Name { domain: d2, .. }), .. } if *d1 == corp && *d2 == corp
    ));
}

const CLOUDS: &str = "\
clouds:
  rig:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: kuryr
      password: cloud-secret-pw
      tenant_name: service
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: internalURL
  noauth:
    auth_type: none
    auth:
      endpoint: http://127.0.0.1:9696
      timeout: 1e20
  partial:
    auth:
      username: kuryr
";

#[test]
fn clouds_yaml_through_os_cloud() {
    let env = TestEnv::vars(&[("OS_CLOUD", "rig")]).with_clouds(CLOUDS);
    let loaded = load("", &env);
    let options = client(&loaded);
    assert!(matches!(
        &options.auth,
        AuthMethod::Password { password, project: Some(ProjectScope::Name { name, .. }), .. }
            if password == "cloud-secret-pw" && name == "service"
    ));
    assert_eq!(options.interface, Interface::Internal);
    assert_eq!(options.region.as_deref(), Some("RegionOne"));

    // A bad value names the cloud and the file; a missing cloud is an error.
    let env = TestEnv::vars(&[("OS_CLOUD", "noauth")]).with_clouds(CLOUDS);
    let list = refused("", &env);
    assert_eq!(keys(&list), [("neutron", "timeout")]);
    assert!(
        list[0]
            .message
            .contains("cloud noauth in /virtual/clouds.yaml"),
        "{}",
        list[0]
    );
    let env = TestEnv::vars(&[("OS_CLOUD", "nowhere")]).with_clouds(CLOUDS);
    let list = refused("", &env);
    assert_eq!(keys(&list), [("environment", "OS_CLOUD")]);
    assert!(
        list[0].message.contains("/virtual/clouds.yaml"),
        "{}",
        list[0]
    );

    // A file that says where Neutron is never reads clouds.yaml.
    let loaded = load("[neutron]\nendpoint = http://n:9696\n", &env);
    assert!(matches!(client(&loaded).auth, AuthMethod::None { .. }));

    // A cloud without a location leaves the rest to OS_*.
    let env = TestEnv::vars(&[
        ("OS_CLOUD", "partial"),
        ("OS_AUTH_URL", "http://k/v3"),
        ("OS_USERNAME", "other"),
        ("OS_PASSWORD", "pw"),
    ])
    .with_clouds(CLOUDS);
    let loaded = load("", &env);
    assert!(matches!(
        &client(&loaded).auth,
        AuthMethod::Password { user: UserRef::Name { name, .. }, .. } if name == "kuryr"
    ));
}

/// Nothing the operator typed as a secret, nor URL userinfo, reaches an error, a
/// warning or a `Debug` of the configuration.
#[test]
fn no_secret_in_any_message() {
    let env = TestEnv::vars(OPENRC);
    let loaded = load("[DEFAULT]\nbackend = neutron\n", &env);
    let shown = format!("{loaded:?}");
    assert!(!shown.contains("env-secret-pw"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");

    let text = "[neutron]\nauth_url = http://alice:pw-in-url@keystone:99999/v3\n\
                password = hunter2\ntoken = tok-1\napplication_credential_secret = acs-1\n";
    let list = refused(text, &TestEnv::default());
    let shown = format!("{} {list:?}", ConfigError::Invalid(list.clone()));
    for secret in ["pw-in-url", "alice", "hunter2", "tok-1", "acs-1"] {
        assert!(!shown.contains(secret), "{secret}: {shown}");
    }
    assert!(shown.contains("http://***@keystone:99999/v3"), "{shown}");

    let env = TestEnv::vars(&[("OS_CLOUD", "rig")]).with_clouds(CLOUDS);
    let loaded = load("", &env);
    assert!(!format!("{loaded:?}").contains("cloud-secret-pw"));
}

#[test]
fn the_backends_own_options() {
    let env = TestEnv {
        hostname: Some("node-7".into()),
        ..TestEnv::default()
    };
    let n = load("", &env).config.neutron;
    assert_eq!(n.binding_host, "node-7");
    let n = load(
        "[neutron]\nenable_dhcp = f\nvif_plugging_is_fatal = True\nvif_plugging_timeout = 5\n\
         default_subnetpool_v4 = p4\ndefault_subnetpool_v6 =\novs_bridge = br-x\n",
        &env,
    )
    .config
    .neutron;
    assert_eq!(
        n,
        NeutronConfig {
            enable_dhcp: false,
            default_subnetpool_v4: "p4".into(),
            default_subnetpool_v6: "kuryr6".into(),
            vif_plugging_is_fatal: true,
            vif_plugging_timeout: Some(Duration::from_secs(5)),
            binding_host: "node-7".into(),
            ovs_bridge: "br-x".into(),
        }
    );
    let env = TestEnv {
        hostname: Some("node-7".into()),
        ..TestEnv::vars(&[("KURYR_BINDING_HOST", " node-env ")])
    };
    assert_eq!(load("", &env).config.neutron.binding_host, "node-env");
    let filed = load("[neutron]\nbinding_host = node-file\n", &env);
    assert_eq!(filed.config.neutron.binding_host, "node-file");

    let list = refused(
        "[neutron]\nenable_dhcp = maybe\nvif_plugging_is_fatal = t\nvif_plugging_timeout = -1\n",
        &env,
    );
    assert_eq!(
        keys(&list),
        [
            ("neutron", "enable_dhcp"),
            ("neutron", "vif_plugging_is_fatal"),
            ("neutron", "vif_plugging_timeout")
        ]
    );
}

/// The embedded backend needs no credentials, but the file's client values are
/// still checked.
#[test]
fn the_embedded_backend_checks_values_not_credentials() {
    let env = TestEnv::vars(OPENRC);
    let loaded = load(
        "[DEFAULT]\nbackend = embedded\n[neutron]\nauth_url = http://k/v3\n",
        &env,
    );
    assert_eq!(loaded.config.backend, Backend::Embedded);
    let list = refused(
        "[DEFAULT]\nbackend = embedded\n[neutron]\ntimeout = 0\nendpoint_type = publicURL\n",
        &env,
    );
    assert_eq!(
        keys(&list),
        [("neutron", "timeout"), ("neutron", "endpoint_type")]
    );
}

/// `check-config` is `load`; `serve` then builds the client from what it gave. Every
/// configuration `load` accepts for the Neutron backend, the client accepts too.
#[test]
fn what_check_config_accepts_the_client_accepts() {
    let ca = std::fs::read_dir("/etc/ssl/certs")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"));
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut files = vec![empty, garbage, "/nonexistent/ca.pem".into()];
    files.extend(ca);
    let mut texts: Vec<String> = vec![
        String::new(),
        "[neutron]\nendpoint = http://n:9696\n".into(),
        "[neutron]\nendpoint = https://n:9696\ninsecure = true\ntimeout = 0.5\n".into(),
        "[neutron]\nauth_url = http://k/v3\nusername = u\npassword = p\nendpoint_type = admin\n"
            .into(),
        "[neutron]\nauth_type = token\nauth_url = http://k/v3\ntoken = t\n".into(),
        "[DEFAULT]\nbackend = neutron\n".into(),
    ];
    for file in &files {
        texts.push(format!(
            "[neutron]\nendpoint = https://n:9696\ncafile = {}\n",
            file.display()
        ));
    }
    let envs = [
        TestEnv::default(),
        TestEnv::vars(OPENRC),
        TestEnv::vars(&[("OS_CLOUD", "rig")]).with_clouds(CLOUDS),
        TestEnv::vars(&[("OS_CLOUD", "noauth")]).with_clouds(CLOUDS),
    ];
    let (mut accepted, mut refused) = (0, 0);
    for text in &texts {
        for env in &envs {
            match from_ini_str(text, "t", env) {
                Ok(loaded) => {
                    if let Some(options) = loaded.config.backend.neutron_client() {
                        Client::new(options.clone())
                            .unwrap_or_else(|e| panic!("{text:?}: serve refuses: {e}"));
                        accepted += 1;
                    }
                }
                Err(_) => refused += 1,
            }
        }
    }
    assert!(accepted >= 10 && refused >= 6, "{accepted} {refused}");
}
