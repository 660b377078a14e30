//! The Neutron client and the `kuryr` binary against a REAL Keystone
//! (scripts/keystone-up.sh: Keystone 30, fernet tokens living 40 s) and a Neutron
//! that checks every token with it (scripts/neutron-keystone-up.sh, 127.0.0.1:9698,
//! on the database of the noauth Neutron, which the tests use to check and clean).
//! Password and application-credential auth, the catalog choice by interface and
//! region (wrong choices land on a dead port), a token revoked or expired mid-run
//! (the next call re-authenticates, none fails), and `kuryr serve` running a network
//! lifecycle at trace level without its password, secret or tokens in its log.
//! Ignored without `--features live-keystone`; with it, they fail when the rig is not up.
//! Every test removes what it made in Neutron and Keystone, also when it fails.

#[path = "support/client.rs"]
mod client;
#[path = "support/keystone_rig.rs"]
mod keystone_rig;
#[path = "support/keystone_tap.rs"]
mod keystone_tap;
#[path = "support/socket_lifecycle.rs"]
mod socket_lifecycle;
#[path = "support/undo.rs"]
mod undo;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::FutureExt;
use keystone_rig::{
    DEAD_NEUTRON, KURYR_PASSWORD, KURYR_RIG_PASSWORD, Keystone, RIG_DOMAIN, client, epoch_secs,
    keystone_url, live_neutron, noauth, require_rig,
};
use keystone_tap::KeystoneTap;
use kuryr::neutron::{Client, Kind, Network, NetworkCreate, NeutronError, Query};
use socket_lifecycle::{Names, left, lifecycle};
use undo::Undo;

const BIN: &str = env!("CARGO_BIN_EXE_kuryr");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A name no other test or run uses.
fn unique(what: &str) -> String {
    format!(
        "kuryr-ks-{what}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// `[neutron]` keys and values.
type Keys<'a> = Vec<(&'a str, &'a str)>;

/// `[neutron]` keys for user kuryr of `domain` with project service of `domain`.
fn password_keys<'a>(auth_url: &'a str, domain: &'a str, password: &'a str) -> Keys<'a> {
    vec![
        ("auth_type", "password"),
        ("auth_url", auth_url),
        ("username", "kuryr"),
        ("password", password),
        ("project_name", "service"),
        ("user_domain_name", domain),
        ("project_domain_name", domain),
        ("region_name", "RegionOne"),
    ]
}

/// Creates a network through `c`, queued for deletion (through the noauth Neutron).
async fn make_network(c: &Client, undo: &Undo) -> Network {
    let network: Network = c
        .create(&NetworkCreate {
            name: Some(unique("net")),
            ..NetworkCreate::default()
        })
        .await
        .expect("creating a network through Keystone auth");
    let id = network.id.clone();
    undo.push(async move {
        let _ = noauth().delete(Kind::Networks, &id).await;
    });
    network
}

// ---------------------------------------------------------------- password

/// The same user and project names exist in two domains with different passwords:
/// each spelling of the domain (names, ids) gets a token of that domain's project,
/// and Neutron files what the token creates under that project.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn password_auth_scopes_to_the_named_domains_project() {
    require_rig().await;
    let ks = Keystone::new();
    let auth_url = format!("{}/v3", keystone_url());
    let default_service = ks.project_id("service", "Default").await;
    let rig_service = ks.project_id("service", RIG_DOMAIN).await;
    assert_ne!(default_service, rig_service);
    let rig_domain = ks.domain_id(RIG_DOMAIN).await;
    let rig_user = ks.user_id("kuryr", RIG_DOMAIN).await;

    let by_ids = [
        ("auth_type", "password"),
        ("auth_url", auth_url.as_str()),
        ("username", "kuryr"),
        ("password", KURYR_RIG_PASSWORD),
        ("project_name", "service"),
        ("user_domain_id", rig_domain.as_str()),
        ("project_domain_id", rig_domain.as_str()),
    ];
    let by_user_and_project_id = [
        ("auth_type", "password"),
        ("auth_url", auth_url.as_str()),
        ("user_id", rig_user.as_str()),
        ("password", KURYR_RIG_PASSWORD),
        ("project_id", rig_service.as_str()),
    ];
    let cases: Vec<(&str, Keys, &str)> = vec![
        (
            "names, Default",
            password_keys(&auth_url, "Default", KURYR_PASSWORD),
            &default_service,
        ),
        (
            "names, kuryr-rig",
            password_keys(&auth_url, RIG_DOMAIN, KURYR_RIG_PASSWORD),
            &rig_service,
        ),
        ("domain ids", by_ids.to_vec(), &rig_service),
        (
            "user and project ids",
            by_user_and_project_id.to_vec(),
            &rig_service,
        ),
    ];
    let undo = Undo::new();
    for (what, keys, project) in cases {
        let c = client(&keys);
        assert_eq!(
            c.project_id()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .as_deref(),
            Some(project),
            "{what}: the token's project"
        );
        let network = make_network(&c, &undo).await;
        let seen: Network = noauth().get(&network.id).await.expect("the network");
        assert_eq!(
            seen.project_id.as_deref(),
            Some(project),
            "{what}: owner in Neutron"
        );
        c.delete(Kind::Networks, &network.id).await.expect("delete");
        assert_eq!(
            c.token_request_count(),
            1,
            "{what}: one token for all calls"
        );
    }
    undo.run().await;

    // The rig domain's user with the Default user's password: refused by Keystone,
    // and the error does not repeat the password.
    let wrong = client(&password_keys(&auth_url, RIG_DOMAIN, KURYR_PASSWORD));
    match wrong.extensions().await {
        Err(e @ NeutronError::Api { status: 401, .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(shown.contains("auth/tokens"), "{shown}");
            assert!(
                !shown.contains(KURYR_PASSWORD),
                "the error shows the password"
            );
        }
        other => panic!("a wrong password must be a 401 from Keystone: {other:?}"),
    }
    assert_eq!(
        wrong.request_count(),
        0,
        "no Neutron request without a token"
    );
}

// ------------------------------------------------- application credentials

/// An application credential made through Keystone's API authenticates by id and by
/// name plus user, scoped to the project it was made in; a wrong secret is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn application_credential_auth_by_id_and_by_name() {
    require_rig().await;
    let ks = Keystone::new();
    let auth_url = format!("{}/v3", keystone_url());
    let name = unique("appcred");
    let (id, secret) = ks.create_app_credential(&name).await;
    let undo = Undo::new();
    let cred = id.clone();
    undo.push(async move { Keystone::new().delete_app_credential(&cred).await });
    let service = ks.project_id("service", "Default").await;

    let base = [
        ("auth_type", "v3applicationcredential"),
        ("auth_url", auth_url.as_str()),
        ("application_credential_secret", secret.as_str()),
    ];
    let by_id = [&base[..], &[("application_credential_id", id.as_str())]].concat();
    let by_name = [
        &base[..],
        &[
            ("application_credential_name", name.as_str()),
            ("username", "kuryr"),
            ("user_domain_name", "Default"),
        ],
    ]
    .concat();
    for (what, keys) in [("by id", by_id), ("by name", by_name)] {
        let c = client(&keys);
        assert_eq!(
            c.project_id()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"))
                .as_deref(),
            Some(service.as_str()),
            "{what}: the credential's project"
        );
        let network = make_network(&c, &undo).await;
        let seen: Network = noauth().get(&network.id).await.expect("the network");
        assert_eq!(seen.project_id.as_deref(), Some(service.as_str()), "{what}");
        c.delete(Kind::Networks, &network.id).await.expect("delete");
    }

    // Changed at the front: Keystone hashes secrets with bcrypt, which reads only
    // their first 72 bytes, and its generated secrets are 86 characters long.
    let flipped = if secret.starts_with('A') { 'B' } else { 'A' };
    let wrong_secret = format!("{flipped}{}", &secret[1..]);
    let wrong = client(&[
        ("auth_type", "v3applicationcredential"),
        ("auth_url", auth_url.as_str()),
        ("application_credential_id", id.as_str()),
        ("application_credential_secret", wrong_secret.as_str()),
    ]);
    match wrong.extensions().await {
        Err(e @ NeutronError::Api { status: 401, .. }) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(&secret), "the error shows the secret");
        }
        other => panic!("a wrong secret must be a 401 from Keystone: {other:?}"),
    }
    undo.run().await;
}

// ---------------------------------------------------------------- catalog

/// The catalog lists the network service in two regions with three interfaces; only
/// the right (interface, region) pairs point at the live Neutron, every other one at
/// a dead port (scripts/keystone/seed.py), so a client that ignores either key fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn the_catalog_endpoint_follows_interface_and_region() {
    require_rig().await;
    let auth_url = format!("{}/v3", keystone_url());
    let live = live_neutron();
    let cases = [
        ("public", "RegionOne", live.as_str()),
        // listed as .../v2.0: the client strips it
        ("internal", "RegionOne", live.as_str()),
        ("admin", "RegionTwo", live.as_str()),
        ("admin", "RegionOne", DEAD_NEUTRON),
        ("public", "RegionTwo", DEAD_NEUTRON),
        ("internal", "RegionTwo", DEAD_NEUTRON),
    ];
    // kuryr.conf takes kuryr-lib's three choices exactly; `internalURL` from
    // clouds.yaml or OS_INTERFACE is config's to normalise (src/config/tests_neutron.rs).
    for (interface, region, want) in cases {
        let mut keys = password_keys(&auth_url, "Default", KURYR_PASSWORD);
        keys.retain(|(k, _)| *k != "region_name");
        keys.extend([("endpoint_type", interface), ("region_name", region)]);
        let c = client(&keys);
        let what = format!("{interface} in {region}");
        let endpoint = c.endpoint().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(endpoint.as_str(), want, "{what}");
        let listed = c
            .list::<Network>(&Query::new().eq("name", &unique("none")))
            .await;
        if want == DEAD_NEUTRON {
            assert!(
                matches!(listed, Err(NeutronError::Transport { .. })),
                "{what} must reach the dead port: {listed:?}"
            );
        } else {
            assert_eq!(listed.map_err(|e| format!("{what}: {e}")), Ok(Vec::new()));
        }
    }

    let mut keys = password_keys(&auth_url, "Default", KURYR_PASSWORD);
    keys.retain(|(k, _)| *k != "region_name");
    keys.push(("region_name", "RegionThree"));
    match client(&keys).endpoint().await {
        Err(NeutronError::Auth(message)) => assert!(
            message.contains("interface public in region RegionThree"),
            "{message}"
        ),
        other => panic!("an unknown region must be an auth error: {other:?}"),
    }
}

// ------------------------------------------------- revocation and expiry

/// A client whose Keystone traffic goes through a tap (so the test knows its token).
async fn tapped_client() -> (KeystoneTap, Client) {
    let tap = KeystoneTap::start(&keystone_url()).await;
    let c = client(&password_keys(&tap.auth_url(), "Default", KURYR_PASSWORD));
    (tap, c)
}

/// Revoked between two calls, the token is refused by Neutron; the next call
/// re-authenticates once and succeeds. Concurrent callers share one re-auth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn a_token_revoked_mid_run_is_replaced_without_a_failed_call() {
    require_rig().await;
    let ks = Keystone::new();
    let (tap, c) = tapped_client().await;
    let undo = Undo::new();
    let network = make_network(&c, &undo).await;
    assert_eq!(c.token_request_count(), 1);
    let first = tap.issued()[0].token.clone();
    ks.revoke(&first).await;

    let got: Network = c
        .get(&network.id)
        .await
        .expect("the call after the revocation succeeds");
    assert_eq!(got.id, network.id);
    assert_eq!(c.token_request_count(), 2, "one re-authentication");
    let second = tap.issued()[1].token.clone();
    assert_ne!(first, second);
    assert_eq!(ks.token_status(&second).await, 200);

    // Eight calls at once on a revoked token: those that get a 401 share one
    // re-authentication, and all succeed.
    ks.revoke(&second).await;
    let calls = (0..8).map(|_| {
        let c = c.clone();
        let id = network.id.clone();
        tokio::spawn(async move { c.get::<Network>(&id).await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap()
            .expect("a concurrent call after the revocation");
    }
    assert_eq!(c.token_request_count(), 3, "the callers share one re-auth");

    c.delete(Kind::Networks, &network.id).await.expect("delete");
    undo.run().await;
}

/// A token that expires between two calls: the next call re-authenticates and
/// succeeds. Bounded by the rig's token lifetime (40 s; refused above 90 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn an_expired_token_is_replaced_without_a_failed_call() {
    require_rig().await;
    let ks = Keystone::new();
    let (tap, c) = tapped_client().await;
    let listed = c
        .list::<Network>(&Query::new().eq("name", &unique("none")))
        .await;
    assert_eq!(listed.map_err(|e| e.to_string()), Ok(Vec::new()));
    let issued = tap.issued()[0].clone();
    let (_, body) = ks
        .issue(&keystone_rig::password_auth(
            "kuryr",
            KURYR_PASSWORD,
            "service",
            "Default",
        ))
        .await
        .unwrap();
    let lifetime = epoch_secs(body["token"]["expires_at"].as_str().unwrap())
        - epoch_secs(body["token"]["issued_at"].as_str().unwrap());
    assert!(
        lifetime <= 90,
        "Keystone's tokens live {lifetime} s: this test waits one out, and \
         scripts/keystone-up.sh sets [token] expiration = 40"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let wait = epoch_secs(&issued.expires_at) as f64 + 1.5 - now;
    tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
    assert_eq!(
        ks.token_status(&issued.token).await,
        404,
        "the token expired"
    );

    let listed = c
        .list::<Network>(&Query::new().eq("name", &unique("none")))
        .await;
    assert_eq!(
        listed.map_err(|e| e.to_string()),
        Ok(Vec::new()),
        "the call after the expiry"
    );
    assert_eq!(c.token_request_count(), 2, "one re-authentication");
    assert_eq!(tap.issued().len(), 2);
}

// ---------------------------------------------------------------- kuryr serve

/// CreateEndpoint plugs a veth pair into the host: root only.
fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "kuryr serve's CreateEndpoint needs root (it makes a veth pair): run \
         `cargo test --features live-keystone,privileged-tests` as root"
    );
}

/// Starts `kuryr serve` with KURYR_LOG=trace and `neutron` as its `[neutron]`
/// section; its stderr goes to the returned file, its stdout to `stdout.log` beside it.
fn serve(dir: &Path, neutron: &str) -> (client::Plugin, PathBuf) {
    let socket = dir.join("kuryr.sock");
    let config = dir.join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = neutron\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\n\
             [neutron]\n{neutron}binding_host = kuryr-keystone-test\n",
            dir.join("state").display(),
            socket.display(),
            dir.join("kuryr.lock").display()
        ),
    )
    .expect("write config");
    let stderr = dir.join("stderr.log");
    let mut command = Command::new(BIN);
    command
        .args(["serve", "--config-file"])
        .arg(&config)
        .env("KURYR_LOG", "trace")
        .stdout(std::fs::File::create(dir.join("stdout.log")).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"));
    // Only the file configures it.
    for (key, _) in std::env::vars() {
        if key.starts_with("OS_") {
            command.env_remove(key);
        }
    }
    // `Plugin::drop` kills and reaps it.
    #[allow(clippy::zombie_processes)]
    let mut child = command.spawn().expect("start kuryr");
    for _ in 0..400 {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return (client::Plugin { child, socket }, stderr);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("kuryr serve exited at start: {status}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("kuryr serve did not open its socket in 10 s");
}

/// SIGTERM, then up to 15 s for the plugin to exit.
fn stop(mut plugin: client::Plugin) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(plugin.child.id()).unwrap());
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    for _ in 0..150 {
        if let Ok(Some(status)) = plugin.child.try_wait() {
            assert!(status.success(), "kuryr serve exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("kuryr serve did not stop within 15 s of SIGTERM");
}

/// Where each secret appears in `log`, by description and line (never the secret).
fn leaks(log: &str, secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (what, secret) in secrets {
        for (n, line) in log.lines().enumerate() {
            if line.contains(secret.as_str()) {
                found.push(format!("{what} on stderr line {}", n + 1));
            }
        }
    }
    found
}

/// Which secrets the files under `state` (the plugin's journal) hold, by file.
fn persisted(state: &Path, secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(state).expect("state dir") {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for (what, secret) in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!("{what} in {}", path.display()));
            }
        }
    }
    found
}

/// Deletes what is left of `n`'s lifecycle in Neutron and on the host.
async fn purge(n: Names) {
    let check = noauth();
    for (kind, id) in left(&check, &n).await {
        if kind == Kind::Ports {
            let _ = Command::new("ip")
                .args(["link", "del", &kuryr::binding::host_ifname(&id)])
                .stderr(Stdio::null())
                .status();
        }
        let _ = check.delete(kind, &id).await;
    }
}

/// `kuryr serve` with `[neutron]` password auth, then with an application
/// credential, runs a whole network lifecycle over its socket; mid-run, after
/// CreateNetwork, every token it got is revoked, and no call fails. At trace level
/// its stderr (and stdout, and state directory) holds neither the password, nor
/// the secret, nor any of its tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(feature = "live-keystone", feature = "privileged-tests")),
    ignore = "needs the Keystone rig and root"
)]
async fn serve_with_keystone_auth_runs_a_lifecycle_and_logs_no_secret() {
    require_rig().await;
    require_root();
    let ks = Keystone::new();
    let (cred_id, secret) = ks.create_app_credential(&unique("serve")).await;
    let undo = Undo::new();
    let cred = cred_id.clone();
    undo.push(async move { Keystone::new().delete_app_credential(&cred).await });

    for (n, auth) in [(1u8, "password"), (2, "application credential")] {
        let tap = KeystoneTap::start(&keystone_url()).await;
        let neutron = if auth == "password" {
            format!(
                "auth_type = password\nauth_url = {}\nusername = kuryr\npassword = {KURYR_PASSWORD}\n\
                 project_name = service\nuser_domain_name = Default\nproject_domain_name = Default\n\
                 region_name = RegionOne\nendpoint_type = internal\n",
                tap.auth_url()
            )
        } else {
            format!(
                "auth_type = v3applicationcredential\nauth_url = {}\n\
                 application_credential_id = {cred_id}\napplication_credential_secret = {secret}\n\
                 region_name = RegionTwo\nendpoint_type = admin\n",
                tap.auth_url()
            )
        };
        let names = Names::new(n);
        undo.push(purge(names.clone()));
        let dir = tempfile::tempdir().unwrap();
        let (plugin, stderr) = serve(dir.path(), &neutron);
        let revoke_all = async {
            let issued = tap.issued();
            assert!(!issued.is_empty(), "{auth}: CreateNetwork authenticated");
            for token in issued {
                ks.revoke(&token.token).await;
            }
        };
        let ran = AssertUnwindSafe(lifecycle(&plugin.socket, &names, revoke_all))
            .catch_unwind()
            .await;
        stop(plugin);
        if let Err(panic) = ran {
            eprintln!(
                "{auth}: the plugin's stderr is kept in {}",
                dir.keep().display()
            );
            std::panic::resume_unwind(panic);
        }
        assert_eq!(
            left(&noauth(), &names).await,
            Vec::new(),
            "{auth}: left in Neutron"
        );

        let issued = tap.issued();
        assert!(
            issued.len() >= 2,
            "{auth}: re-authenticated after the revocation"
        );
        let log = std::fs::read_to_string(&stderr).expect("stderr");
        let mut secrets = vec![
            ("the password".to_string(), KURYR_PASSWORD.to_string()),
            (
                "the application credential secret".to_string(),
                secret.clone(),
            ),
        ];
        for (i, token) in issued.iter().enumerate() {
            secrets.push((format!("token {i}"), token.token.clone()));
        }
        let mut problems = leaks(&log, &secrets);
        let stdout = std::fs::read_to_string(dir.path().join("stdout.log")).expect("stdout");
        problems.extend(
            leaks(&stdout, &secrets)
                .into_iter()
                .map(|p| format!("stdout: {p}")),
        );
        problems.extend(persisted(&dir.path().join("state"), &secrets));
        // The log did cover what could leak: trace lines, the HTTP client's own,
        // and the re-authentication after the 401.
        for expected in ["TRACE", "hyper_util::client", "re-authenticating once"] {
            if !log.contains(expected) {
                problems.push(format!("no {expected:?} in the trace log"));
            }
        }
        if !problems.is_empty() {
            let kept = dir.keep().join("stderr.log");
            panic!(
                "{auth}: {problems:?} (the log is kept in {})",
                kept.display()
            );
        }
    }
    undo.run().await;
}

// ------------------------------------------------------ OS_* alone (issue 12)

/// The environment of a managed plugin set up with `docker plugin set OS_*`, or of a
/// host with an openrc sourced: Keystone password auth and nothing else (the live
/// Neutron is the public interface of RegionOne).
fn openrc() -> Vec<(&'static str, String)> {
    vec![
        ("OS_AUTH_URL", format!("{}/v3", keystone_url())),
        ("OS_USERNAME", "kuryr".into()),
        ("OS_PASSWORD", KURYR_PASSWORD.into()),
        ("OS_PROJECT_NAME", "service".into()),
        ("OS_USER_DOMAIN_NAME", "Default".into()),
        ("OS_PROJECT_DOMAIN_NAME", "Default".into()),
        ("OS_REGION_NAME", "RegionOne".into()),
    ]
}

/// `kuryr` with only `env` and a PATH in its environment.
fn kuryr_with_env(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// With only `OS_*` variables and a kuryr.conf that says nothing of Neutron (no
/// `backend`, no `[neutron]`), `check-config` reports the Neutron backend with
/// Keystone password auth, and refuses the same setup without `OS_PASSWORD` naming
/// the variable; `serve` picks the Neutron backend, authenticates with Keystone and
/// creates and deletes a subnet pool through the keystone-auth Neutron, with the
/// password in neither output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(feature = "live-keystone"), ignore = "needs the Keystone rig")]
async fn the_os_environment_alone_configures_check_config_and_serve() {
    require_rig().await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kuryr.sock");
    let config = dir.path().join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nstate_dir = {}\nkuryr_uri = unix://{}\nlock_file = {}\n",
            dir.path().join("state").display(),
            socket.display(),
            dir.path().join("kuryr.lock").display()
        ),
    )
    .unwrap();
    let env = openrc();

    let checked = kuryr_with_env(&env)
        .args(["check-config", "--config-file"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    let auth_url = format!("{}/v3", keystone_url());
    assert!(
        said.contains(&format!(
            "backend neutron (Keystone password auth at {auth_url}"
        )),
        "{said}"
    );
    assert!(!said.contains(KURYR_PASSWORD), "{said}");

    let without: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "OS_PASSWORD")
        .cloned()
        .collect();
    let refused = kuryr_with_env(&without)
        .args(["check-config", "--config-file"])
        .arg(&config)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains("[neutron] password: required") && said.contains("OS_PASSWORD"),
        "{said}"
    );

    let stderr = dir.path().join("stderr.log");
    // `Plugin::drop` kills and reaps it.
    #[allow(clippy::zombie_processes)]
    let child = kuryr_with_env(&env)
        .args(["serve", "--config-file"])
        .arg(&config)
        .env("KURYR_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut plugin = client::Plugin {
        child,
        socket: socket.clone(),
    };
    for _ in 0..400 {
        if socket.exists() {
            break;
        }
        if let Ok(Some(status)) = plugin.child.try_wait() {
            panic!(
                "kuryr serve exited at start: {status}: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let names = Names::new(3);
    let undo = Undo::new();
    undo.push(purge(names.clone()));
    let ran = AssertUnwindSafe(async {
        let mut s = client::connect(&socket).await.expect("the plugin socket");
        let pool = client::post_ok(
            &mut s,
            "/IpamDriver.RequestPool",
            &serde_json::json!({"AddressSpace": "no_address_space", "Pool": names.cidr,
                                "SubPool": "", "Options": {}, "V6": false}),
        )
        .await;
        let pool_id = pool["PoolID"].as_str().expect("PoolID").to_string();
        let made = left(&noauth(), &names).await;
        assert_eq!(
            made.len(),
            1,
            "the subnet pool, made through Keystone: {made:?}"
        );
        client::post_ok(
            &mut s,
            "/IpamDriver.ReleasePool",
            &serde_json::json!({"PoolID": pool_id}),
        )
        .await;
        let settled =
            client::post_ok(&mut s, "/Kuryr.Settle", &serde_json::json!({"Timeout": 60})).await;
        assert_eq!(settled["Pending"], 0, "{settled}");
    })
    .catch_unwind()
    .await;
    stop(plugin);
    let log = std::fs::read_to_string(&stderr).unwrap();
    if let Err(panic) = ran {
        eprintln!("kuryr serve's log:\n{log}");
        std::panic::resume_unwind(panic);
    }
    assert_eq!(left(&noauth(), &names).await, Vec::new(), "left in Neutron");
    assert!(log.contains("backend=\"neutron\""), "{log}");
    assert!(!log.contains(KURYR_PASSWORD), "the password is in the log");
    undo.run().await;
}
