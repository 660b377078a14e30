//! `[neutron] vif_plugging_is_fatal` / `vif_plugging_timeout`: CreateEndpoint waits
//! for Neutron to report the port ACTIVE (the agent wired it), as Nova does for VMs,
//! and fails (rolled back by the caller) when it does not in time.

use std::time::{Duration, Instant};

use crate::Error;
use crate::neutron::Port;

use super::NeutronDriver;

pub const ACTIVE: &str = "ACTIVE";

/// How often the port is read while waiting.
const POLL: Duration = Duration::from_secs(1);

/// Polls the port every second until ACTIVE. Gives the port back with the error, so
/// the caller can undo what it did to it.
pub async fn wait_active(d: &NeutronDriver, port: Port) -> Result<Port, (Port, Error)> {
    // Nested ports are never bound, so nothing would make them ACTIVE.
    if !d.settings.wait_active || d.nested.is_some() || port.status == ACTIVE {
        return Ok(port);
    }
    let started = Instant::now();
    let mut last = port;
    loop {
        if d.settings
            .wait_timeout
            .is_some_and(|t| started.elapsed() >= t)
        {
            let e = Error::Unsupported(format!(
                "Neutron port {} did not become ACTIVE in {:?} (status {})",
                last.id,
                d.settings.wait_timeout.unwrap_or_default(),
                last.status
            ));
            return Err((last, e));
        }
        tokio::time::sleep(POLL).await;
        match d.client.get::<Port>(&last.id).await {
            Ok(port) if port.status == ACTIVE => return Ok(port),
            Ok(port) => last = port,
            Err(error) => tracing::warn!(port = %last.id, %error, "polling port status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::binding::RecordingBinder;
    use crate::config::{ProcessEnv, from_ini_str};
    use crate::neutron::fake::Fake;
    use crate::neutron::{AuthMethod, Client, ClientOptions};
    use crate::neutron_driver::Settings;

    async fn driver(fake: &Fake, dir: &std::path::Path, neutron: &str) -> NeutronDriver {
        fake.state().no_auth = true;
        let endpoint = fake.url("/");
        let text = format!(
            "[DEFAULT]\nstate_dir = {}\n[neutron]\nauth_type = none\nendpoint = {endpoint}\n{neutron}",
            dir.display()
        );
        let loaded = from_ini_str(&text, "test", &ProcessEnv).unwrap();
        let client = Client::new(ClientOptions::new(AuthMethod::None { endpoint })).unwrap();
        let binder = Arc::new(RecordingBinder::new());
        NeutronDriver::new(client, Settings::from_config(&loaded.config), binder).unwrap()
    }

    /// A port as CreateEndpoint left it, also stored in the fake for the polls.
    fn port(fake: &Fake, status: &str) -> Port {
        let item = json!({"id": "p1", "status": status});
        fake.state()
            .items
            .entry("ports".into())
            .or_default()
            .insert("p1".into(), item.clone());
        serde_json::from_value(item).unwrap()
    }

    fn polls(fake: &Fake) -> usize {
        fake.state()
            .seen
            .iter()
            .filter(|s| s.method == "GET" && s.path == "v2.0/ports/p1")
            .count()
    }

    #[tokio::test]
    async fn a_port_that_stays_down_fails_after_the_timeout() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(
            &fake,
            dir.path(),
            "vif_plugging_is_fatal = True\nvif_plugging_timeout = 2\n",
        )
        .await;
        let (port, e) = wait_active(&d, port(&fake, "DOWN")).await.unwrap_err();
        assert_eq!(port.id, "p1", "the port comes back for the rollback");
        let e = e.to_string();
        assert!(
            e.contains("did not become ACTIVE in 2s") && e.contains("DOWN"),
            "{e}"
        );
        assert!(polls(&fake) >= 1);
    }

    #[tokio::test]
    async fn a_port_that_turns_active_is_waited_for() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(
            &fake,
            dir.path(),
            "vif_plugging_is_fatal = True\nvif_plugging_timeout = 30\n",
        )
        .await;
        let down = port(&fake, "DOWN");
        let state = fake.state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let mut st = state.lock().unwrap();
            st.items.get_mut("ports").unwrap().get_mut("p1").unwrap()["status"] = json!(ACTIVE);
        });
        let up = wait_active(&d, down).await.unwrap();
        assert_eq!(up.status, ACTIVE);
        // Read once a second until ACTIVE: twice, give or take a slow scheduler.
        assert!((1..=3).contains(&polls(&fake)), "{}", polls(&fake));
    }

    #[tokio::test]
    async fn without_vif_plugging_is_fatal_nothing_is_read() {
        let fake = Fake::start().await;
        let dir = tempfile::tempdir().unwrap();
        let d = driver(&fake, dir.path(), "vif_plugging_timeout = 2\n").await;
        let down = wait_active(&d, port(&fake, "DOWN")).await.unwrap();
        assert_eq!(down.status, "DOWN");
        assert_eq!(polls(&fake), 0);
    }
}
