//! Whole-file tests of `crate::config`: INI text in, `Config` or errors out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::*;
use crate::ipam::DefaultPool;
use crate::neutron::{AuthMethod, NameOrId, ProjectScope, UserRef};

pub(super) fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn load_str(text: &str) -> Loaded {
    match from_ini_str(text, "test.conf", &no_env()) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{e}"),
    }
}

pub(super) fn invalid(text: &str, env: &HashMap<String, String>) -> Vec<Invalid> {
    match from_ini_str(text, "test.conf", env) {
        Err(ConfigError::Invalid(list)) => list,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn tcp(s: &str) -> Listen {
    Listen::Tcp(s.parse::<SocketAddr>().unwrap())
}

pub(super) fn warning_keys(loaded: &Loaded) -> Vec<(String, String)> {
    loaded
        .warnings
        .iter()
        .map(|w| (w.section.clone(), w.key.clone()))
        .collect()
}

#[test]
fn empty_file_gives_defaults() {
    let loaded = load_str("");
    let c = &loaded.config;
    assert_eq!(
        c.listen,
        Listen::Unix("/run/docker/plugins/kuryr.sock".into())
    );
    assert_eq!(c.capability_scope, Scope::Local);
    assert_eq!(c.local_default_address_space, "no_address_space");
    assert_eq!(c.global_default_address_space, "no_address_space");
    assert_eq!(c.backend, BackendKind::Embedded);
    assert_eq!(c.state_dir, Path::new("/var/lib/kuryr"));
    assert_eq!(c.spec_dir, Path::new("/etc/docker/plugins"));
    assert_eq!(
        c.default_address_pools,
        vec![
            DefaultPool {
                base: "10.200.0.0/14".parse().unwrap(),
                size: 24
            },
            DefaultPool {
                base: "fd6b:7572:7972::/48".parse().unwrap(),
                size: 64
            },
        ]
    );
    assert_eq!(c.log_level, LogLevel::Info);
    assert_eq!(c.veth_dst_prefix, "eth");
    assert!(c.process_external_connectivity);
    assert_eq!(
        c.neutron,
        NeutronConfig {
            enable_dhcp: true,
            default_subnetpool_v4: "kuryr".into(),
            default_subnetpool_v6: "kuryr6".into(),
            vif_plugging_is_fatal: false,
            vif_plugging_timeout: None,
            // The test environment knows no host name.
            binding_host: "localhost".into(),
            ovs_bridge: "br-int".into(),
        }
    );
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.source, None);
}

/// What devstack and the install guide write.
const TYPICAL: &str = "\
[DEFAULT]
bindir = /usr/local/libexec/kuryr
capability_scope = global
kuryr_uri = http://127.0.0.1:23750
debug = True
process_external_connectivity = False

[neutron]
auth_url = http://192.0.2.10/identity
username = kuryr
user_domain_name = Default
password = s3cr3t-pa55
project_name = service
project_domain_name = Default
auth_type = password

[binding]
";

#[test]
fn typical_kuryr_libnetwork_conf() {
    let loaded = load_str(TYPICAL);
    let c = &loaded.config;
    assert_eq!(c.backend, BackendKind::Neutron);
    assert_eq!(c.listen, tcp("127.0.0.1:23750"));
    assert_eq!(c.log_level, LogLevel::Debug);
    assert_eq!(c.capability_scope, Scope::Global);
    assert!(!c.process_external_connectivity);
    let client = c.backend.neutron_client().unwrap();
    let default = || NameOrId::Name("Default".into());
    assert_eq!(
        client.auth,
        AuthMethod::Password {
            auth_url: "http://192.0.2.10/identity".parse().unwrap(),
            user: UserRef::Name {
                name: "kuryr".into(),
                domain: default()
            },
            password: "s3cr3t-pa55".into(),
            project: Some(ProjectScope::Name {
                name: "service".into(),
                domain: default()
            }),
        }
    );
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

/// A trimmed `oslo-config-generator` sample: everything commented out.
#[test]
fn generated_sample_is_all_defaults() {
    let text = "\
[DEFAULT]

#
# From kuryr_libnetwork
#

# Directory for Kuryr vif binding executables. (string value)
#bindir = /usr/libexec/kuryr

# The default value for capability_scope (string value)
# Possible values:
# local - <No description provided>
# global - <No description provided>
#capability_scope = local


[binding]

#veth_dst_prefix = eth

[neutron]

# Authentication type to load (string value)
# Deprecated group/name - [neutron]/auth_plugin
#auth_type = <None>
";
    let loaded = load_str(text);
    assert_eq!(loaded.config, load_str("").config);
    assert!(loaded.warnings.is_empty());
}

#[test]
fn noauth_endpoint_selects_neutron() {
    let c = load_str("[neutron]\nauth_type = none\nendpoint = http://127.0.0.1:9696\n").config;
    assert_eq!(
        c.backend.neutron_client().unwrap().auth,
        AuthMethod::None {
            endpoint: "http://127.0.0.1:9696".parse().unwrap()
        }
    );
}

#[test]
fn empty_auth_url_does_not_select_neutron() {
    let c = load_str("[neutron]\nauth_url =\nauth_type = password\n").config;
    assert_eq!(c.backend, BackendKind::Embedded);
}

#[test]
fn explicit_backend_wins() {
    let text = "[DEFAULT]\nbackend = embedded\n[neutron]\nauth_url = http://192.0.2.10/identity\n";
    assert_eq!(load_str(text).config.backend, BackendKind::Embedded);
    let text = "[DEFAULT]\nbackend = neutron\n[neutron]\nendpoint = http://127.0.0.1:9696\n";
    assert_eq!(load_str(text).config.backend, BackendKind::Neutron);
}

#[test]
fn neutron_backend_needs_a_location() {
    let list = invalid("[DEFAULT]\nbackend = neutron\n", &no_env());
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].key, "backend");
    assert!(list[0].message.contains("auth_url"));
}

#[test]
fn all_invalid_values_reported_at_once() {
    let text = "\
[DEFAULT]
capability_scope = planet
kuryr_uri = https://127.0.0.1:23750
state_dir = relative/dir
debug = maybe
backend = Neutron
default_address_pools = 10.0.0.1/8:24, fd00::/48

[binding]
veth_dst_prefix = Eth0

[neutron]
vif_plugging_timeout = soon
endpoint_type = private
";
    let list = invalid(text, &no_env());
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|i| (i.section.as_str(), i.key.as_str()))
        .collect();
    for want in [
        ("DEFAULT", "capability_scope"),
        ("DEFAULT", "kuryr_uri"),
        ("DEFAULT", "state_dir"),
        ("DEFAULT", "debug"),
        ("DEFAULT", "backend"),
        ("binding", "veth_dst_prefix"),
        ("neutron", "vif_plugging_timeout"),
        ("neutron", "endpoint_type"),
    ] {
        assert!(got.contains(&want), "{want:?} missing from {got:?}");
    }
    // One per bad pool entry.
    assert_eq!(
        list.iter()
            .filter(|i| i.key == "default_address_pools")
            .map(|i| i.value.as_str())
            .collect::<Vec<_>>(),
        ["10.0.0.1/8:24", "fd00::/48"]
    );
    assert_eq!(list.len(), 10);

    let message = ConfigError::Invalid(list).to_string();
    assert!(message.starts_with("10 invalid options: "), "{message}");
    assert!(
        message.contains(r#"[DEFAULT] capability_scope = "planet": expected local or global"#),
        "{message}"
    );
}

#[test]
fn single_invalid_display() {
    let list = invalid("[DEFAULT]\ncapability_scope = planet\n", &no_env());
    assert_eq!(
        ConfigError::Invalid(list).to_string(),
        r#"[DEFAULT] capability_scope = "planet": expected local or global"#
    );
}

#[test]
fn choices_are_case_sensitive() {
    assert_eq!(
        invalid("[DEFAULT]\ncapability_scope = Global\n", &no_env()).len(),
        1
    );
    assert_eq!(
        invalid("[DEFAULT]\nbackend = Embedded\n", &no_env()).len(),
        1
    );
    assert_eq!(
        invalid("[DEFAULT]\nlog_level = DEBUG\n", &no_env()).len(),
        1
    );
}

#[test]
fn unknown_key_and_section_warn() {
    let loaded =
        load_str("[DEFAULT]\nkuryr_url = x\nDebug = True\n[keystone]\na = 1\n[neutron]\nfoo = 1\n");
    assert_eq!(
        warning_keys(&loaded),
        [
            ("DEFAULT".to_owned(), "kuryr_url".to_owned()),
            ("DEFAULT".to_owned(), "Debug".to_owned()),
            ("keystone".to_owned(), String::new()),
            ("neutron".to_owned(), "foo".to_owned()),
        ]
    );
    assert_eq!(
        loaded.warnings[0].to_string(),
        "[DEFAULT] kuryr_url: unknown option, ignored"
    );
    assert_eq!(
        loaded.warnings[2].to_string(),
        "[keystone]: unknown section, ignored"
    );
    // `Debug` is not `debug`: keys are case-sensitive in oslo.
    assert_eq!(loaded.config.log_level, LogLevel::Info);
}

#[test]
fn section_names_are_case_insensitive_except_default() {
    let loaded = load_str("[Neutron]\nendpoint = http://127.0.0.1:9696\n[default]\ndebug = true\n");
    assert_eq!(loaded.config.backend, BackendKind::Neutron);
    assert_eq!(loaded.config.log_level, LogLevel::Info);
    assert_eq!(
        warning_keys(&loaded),
        [("default".to_owned(), String::new())]
    );
}

#[test]
fn neutron_debug_redacts_secrets() {
    let text = "[neutron]\nauth_url = http://k/identity\npassword = hunter2\ntoken = tok-123\n\
                application_credential_secret = acs-456\nusername = kuryr\n";
    let loaded = load_str(text);
    for shown in [
        format!("{:?}", loaded.config.backend),
        format!("{:?}", loaded.config),
        format!("{loaded:?}"),
    ] {
        for secret in ["hunter2", "tok-123", "acs-456"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(shown.contains("kuryr"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
    assert!(matches!(
        &loaded.config.backend.neutron_client().unwrap().auth,
        AuthMethod::Password { password, .. } if password == "hunter2"
    ));
}

#[test]
fn deprecated_neutron_names_fold_into_new_ones() {
    let loaded = load_str(
        "[neutron]\nauth_url = http://k\nauth_plugin = password\nuser_name = a\n\
         tenant_name = old\nproject_name = new\npassword = p\n",
    );
    let auth = &loaded.config.backend.neutron_client().unwrap().auth;
    let AuthMethod::Password { user, project, .. } = auth else {
        panic!("{auth:?}");
    };
    assert!(
        matches!(user, UserRef::Name { name, .. } if name == "a"),
        "{user:?}"
    );
    assert!(
        matches!(project, Some(ProjectScope::Name { name, .. }) if name == "new"),
        "{project:?}"
    );
    assert_eq!(loaded.warnings.len(), 3);
    assert!(
        loaded
            .warnings
            .iter()
            .all(|w| w.message.starts_with("deprecated name"))
    );
}

#[test]
fn env_used_only_when_file_lacks_key() {
    let e = env(&[
        ("OS_KURYR_URI", "http://127.0.0.1:4000"),
        ("CAPABILITY_SCOPE", "global"),
    ]);
    let from_env = from_ini_str("", "t", &e).unwrap().config;
    assert_eq!(from_env.listen, tcp("127.0.0.1:4000"));
    assert_eq!(from_env.capability_scope, Scope::Global);

    let text = "[DEFAULT]\nkuryr_uri = unix:///run/k.sock\ncapability_scope = local\n";
    let from_file = from_ini_str(text, "t", &e).unwrap().config;
    assert_eq!(from_file.listen, Listen::Unix("/run/k.sock".into()));
    assert_eq!(from_file.capability_scope, Scope::Local);
}

#[test]
fn empty_env_is_unset() {
    let e = env(&[("OS_KURYR_URI", ""), ("CAPABILITY_SCOPE", "")]);
    let c = from_ini_str("", "t", &e).unwrap().config;
    assert_eq!(
        c.listen,
        Listen::Unix("/run/docker/plugins/kuryr.sock".into())
    );
    assert_eq!(c.capability_scope, Scope::Local);
}

#[test]
fn invalid_env_names_the_variable() {
    let e = env(&[("CAPABILITY_SCOPE", "planet"), ("OS_KURYR_URI", "ftp://x")]);
    let list = invalid("", &e);
    assert_eq!(list.len(), 2);
    assert!(list[0].message.contains("OS_KURYR_URI"), "{}", list[0]);
    assert!(list[1].message.contains("CAPABILITY_SCOPE"), "{}", list[1]);
    assert_eq!(list[1].value, "planet");
}

#[test]
fn log_level_overrides_debug() {
    let c = load_str("[DEFAULT]\ndebug = true\nlog_level = warn\n").config;
    assert_eq!(c.log_level, LogLevel::Warn);
    assert_eq!(
        load_str("[DEFAULT]\ndebug = off\n").config.log_level,
        LogLevel::Info
    );
    assert_eq!(
        load_str("[DEFAULT]\nlog_level = trace\n").config.log_level,
        LogLevel::Trace
    );
    assert_eq!(LogLevel::Trace.as_filter(), "trace");
    assert_eq!(Scope::Global.as_str(), "global");
}

#[test]
fn quoted_values_are_unquoted_like_oslo() {
    let c = load_str("[DEFAULT]\ncapability_scope = \"global\"\nstate_dir = '/srv/kuryr'\n").config;
    assert_eq!(c.capability_scope, Scope::Global);
    assert_eq!(c.state_dir, Path::new("/srv/kuryr"));
}

#[test]
fn enable_ssl_true_is_invalid_false_is_fine() {
    let list = invalid(
        "[DEFAULT]\nenable_ssl = True\nssl_cert_file = /c.pem\n",
        &no_env(),
    );
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].key, "enable_ssl");
    assert!(list[0].message.contains("not supported"));

    let loaded =
        load_str("[DEFAULT]\nenable_ssl = False\nssl_cert_file = /c.pem\nssl_key_file = /k.pem\n");
    assert_eq!(
        warning_keys(&loaded),
        [
            ("DEFAULT".to_owned(), "ssl_cert_file".to_owned()),
            ("DEFAULT".to_owned(), "ssl_key_file".to_owned()),
        ]
    );
    assert!(
        load_str("[DEFAULT]\nenable_ssl = False\n")
            .warnings
            .is_empty()
    );
}

#[test]
fn new_options() {
    let c = load_str(
        "[DEFAULT]\nstate_dir = /srv/kuryr\nspec_dir = /usr/lib/docker/plugins\n\
         default_address_pools = 172.30.0.0/16:26\nlocal_default_address_space = kuryr_local\n\
         [binding]\nveth_dst_prefix = ceth\n",
    )
    .config;
    assert_eq!(c.state_dir, Path::new("/srv/kuryr"));
    assert_eq!(c.spec_dir, Path::new("/usr/lib/docker/plugins"));
    assert_eq!(c.default_address_pools.len(), 1);
    assert_eq!(c.default_address_pools[0].size, 26);
    assert_eq!(c.local_default_address_space, "kuryr_local");
    assert_eq!(c.veth_dst_prefix, "ceth");
}

#[test]
fn relative_spec_dir_and_empty_address_space_invalid() {
    let list = invalid(
        "[DEFAULT]\nspec_dir = plugins\nglobal_default_address_space =\n",
        &no_env(),
    );
    let keys: Vec<&str> = list.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(keys, ["global_default_address_space", "spec_dir"]);
}

#[test]
fn syntax_error_names_origin_and_line() {
    let err = from_ini_str(
        "[DEFAULT]\nnot an assignment\n",
        "/etc/kuryr/kuryr.conf",
        &no_env(),
    )
    .unwrap_err();
    match &err {
        ConfigError::Syntax { path, message } => {
            assert_eq!(path, "/etc/kuryr/kuryr.conf");
            assert!(message.starts_with("line 2:"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("/etc/kuryr/kuryr.conf: line 2:")
    );
}

#[test]
fn load_missing_config_file_is_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.conf");
    match load(Some(&path), &no_env()) {
        Err(ConfigError::Read { path: p, source }) => {
            assert_eq!(p, path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn load_explicit_file_sets_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.conf");
    std::fs::write(&path, TYPICAL).unwrap();
    let loaded = load(Some(&path), &no_env()).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(path.as_path()));
    assert_eq!(loaded.config.backend, BackendKind::Neutron);
}

#[test]
fn load_none_searches_home() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kuryr")).unwrap();
    let preferred = home.path().join(".kuryr/kuryr.conf");
    std::fs::write(&preferred, "[DEFAULT]\ncapability_scope = global\n").unwrap();
    // Lower in oslo's order, so it must lose.
    std::fs::write(
        home.path().join("kuryr.conf"),
        "[DEFAULT]\nbackend = bogus\n",
    )
    .unwrap();
    let e = env(&[("HOME", home.path().to_str().unwrap())]);
    let loaded = load(None, &e).unwrap();
    assert_eq!(loaded.source.as_deref(), Some(preferred.as_path()));
    assert_eq!(loaded.config.capability_scope, Scope::Global);
}

#[test]
fn load_first_with_nothing_found_gives_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let candidates: Vec<PathBuf> = vec![dir.path().join("a.conf"), dir.path().join("b.conf")];
    let e = env(&[("CAPABILITY_SCOPE", "global")]);
    let loaded = load_first(&candidates, &e).unwrap();
    assert_eq!(loaded.source, None);
    assert_eq!(loaded.config.capability_scope, Scope::Global);
    assert_eq!(loaded.config.backend, BackendKind::Embedded);
}

#[test]
fn found_but_unreadable_is_read_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory exists but cannot be read as a file.
    let path = dir.path().join("kuryr.conf");
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(
        load_first(std::slice::from_ref(&path), &no_env()),
        Err(ConfigError::Read { .. })
    ));
}

/// Whether `loaded` warns about `key` with a message containing `needle`.
fn warns(loaded: &Loaded, key: &str, needle: &str) -> bool {
    loaded
        .warnings
        .iter()
        .any(|w| w.key == key && w.message.contains(needle))
}

#[test]
fn metrics_listener_is_loopback_unless_remote_is_allowed() {
    assert_eq!(load_str("").config.metrics_listen, None);
    assert_eq!(
        load_str("[DEFAULT]\nmetrics_listen =\n")
            .config
            .metrics_listen,
        None
    );
    let local = load_str("[DEFAULT]\nmetrics_listen = 127.0.0.1:9109\n");
    assert_eq!(
        local.config.metrics_listen,
        Some("127.0.0.1:9109".parse().unwrap())
    );
    assert!(local.warnings.is_empty(), "{:?}", local.warnings);

    let errors = invalid("[DEFAULT]\nmetrics_listen = 0.0.0.0:9109\n", &no_env());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "metrics_listen");
    assert!(
        errors[0].message.contains("allow_remote_listen")
            && errors[0].message.contains("127.0.0.1"),
        "{errors:?}"
    );
    let errors = invalid("[DEFAULT]\nmetrics_listen = [::]:9109\n", &no_env());
    assert_eq!(errors[0].key, "metrics_listen", "{errors:?}");

    let allowed =
        load_str("[DEFAULT]\nmetrics_listen = 0.0.0.0:9109\nallow_remote_listen = true\n");
    assert_eq!(
        allowed.config.metrics_listen,
        Some("0.0.0.0:9109".parse().unwrap())
    );
    assert!(
        warns(&allowed, "metrics_listen", "no authentication"),
        "{:?}",
        allowed.warnings
    );
    let errors = invalid("[DEFAULT]\nmetrics_listen = 127.0.0.1\n", &no_env());
    assert_eq!(errors[0].key, "metrics_listen", "{errors:?}");
}

#[test]
fn remote_tcp_listener_needs_an_explicit_opt_in() {
    let errors = invalid("[DEFAULT]\nkuryr_uri = tcp://0.0.0.0:1\n", &no_env());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].key, "kuryr_uri");
    assert!(
        errors[0].message.contains("allow_remote_listen"),
        "{errors:?}"
    );
    // The environment's URI is checked the same way.
    let e = env(&[("OS_KURYR_URI", "http://[::]:23750")]);
    assert!(from_ini_str("", "t", &e).is_err());

    let allowed = load_str("[DEFAULT]\nkuryr_uri = tcp://0.0.0.0:1\nallow_remote_listen = true\n");
    assert_eq!(allowed.config.listen, tcp("0.0.0.0:1"));
    assert!(allowed.config.allow_remote_listen);
    assert!(
        warns(&allowed, "kuryr_uri", "no authentication"),
        "{:?}",
        allowed.warnings
    );
    // Loopback, kuryr-libnetwork's historical URI included, needs nothing.
    for uri in [
        "http://127.0.0.1:23750",
        "http://localhost:1",
        "http://[::1]:1",
    ] {
        let loaded = load_str(&format!("[DEFAULT]\nkuryr_uri = {uri}\n"));
        assert!(loaded.warnings.is_empty(), "{uri}: {:?}", loaded.warnings);
    }
}

#[test]
fn socket_group_and_lock_file() {
    let c = load_str("").config;
    assert_eq!(c.socket_group, None);
    assert_eq!(c.lock_file, Path::new("/run/kuryr/kuryr.lock"));
    let c = load_str("[DEFAULT]\nsocket_group = docker\nlock_file = /tmp/k.lock\n").config;
    assert_eq!(c.socket_group.as_deref(), Some("docker"));
    assert_eq!(c.lock_file, Path::new("/tmp/k.lock"));
    let errors = invalid("[DEFAULT]\nsocket_group =\nlock_file = k.lock\n", &no_env());
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["socket_group", "lock_file"], "{errors:?}");
}

/// A managed plugin gets its settings as environment variables (config.json `env`),
/// empty when not set; with no kuryr.conf they must still select the backend, the
/// log level and the binding host.
#[test]
fn a_managed_plugins_environment_configures_it() {
    let load = |pairs: &[(&str, &str)]| from_ini_str("", "<defaults>", &env(pairs)).unwrap();

    let unset = load(&[("OS_AUTH_URL", ""), ("OS_ENDPOINT", ""), ("LOG_LEVEL", "")]);
    assert_eq!(unset.config.backend, BackendKind::Embedded);
    assert_eq!(unset.config.log_level, DEFAULT_LOG_LEVEL);
    assert_eq!(unset.config.packaging, Packaging::Host);
    let packaged = load(&[("KURYR_PACKAGING", "managed-plugin")]);
    assert_eq!(packaged.config.packaging, Packaging::ManagedPlugin);

    let keystone = load(&[
        ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
        ("OS_USERNAME", "kuryr"),
        ("OS_PASSWORD", "pw"),
        ("LOG_LEVEL", "DEBUG"),
        ("KURYR_BINDING_HOST", "node-2"),
    ]);
    assert_eq!(keystone.config.backend, BackendKind::Neutron);
    assert_eq!(keystone.config.log_level, LogLevel::Debug);
    assert_eq!(keystone.config.neutron.binding_host, "node-2");

    let noauth = load(&[("OS_ENDPOINT", "http://127.0.0.1:9696")]);
    assert_eq!(noauth.config.backend, BackendKind::Neutron);

    // The file wins over the environment.
    let filed = from_ini_str(
        "[DEFAULT]\nlog_level = warn\nbackend = embedded\n[neutron]\nbinding_host = from-file\n",
        "test.conf",
        &env(&[
            ("OS_AUTH_URL", "http://127.0.0.1:5000/v3"),
            ("LOG_LEVEL", "debug"),
            ("KURYR_BINDING_HOST", "node-2"),
        ]),
    )
    .unwrap();
    assert_eq!(filed.config.backend, BackendKind::Embedded);
    assert_eq!(filed.config.log_level, LogLevel::Warn);
    assert_eq!(filed.config.neutron.binding_host, "from-file");

    let bad = invalid("", &env(&[("LOG_LEVEL", "loud")]));
    assert!(
        bad.iter().any(|i| i.to_string().contains("LOG_LEVEL")),
        "{bad:?}"
    );
}
