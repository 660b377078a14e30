//! The test rig's Keystone (scripts/keystone-up.sh) and its keystone-auth Neutron
//! (scripts/neutron-keystone-up.sh): where they are, the credentials the scripts
//! make, admin calls on Keystone's API (tokens, ids, revocation, application
//! credentials), and the check that the rig is up, which fails with what to run.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use kuryr::config::from_ini_str;
use kuryr::neutron::Client;
use serde_json::{Value, json};

/// The passwords scripts/keystone-up.sh gives its users.
pub const ADMIN_PASSWORD: &str = "admin-rig-pw";
pub const KURYR_PASSWORD: &str = "kuryr-rig-pw";
/// The other `kuryr`, in domain `kuryr-rig`.
pub const KURYR_RIG_PASSWORD: &str = "kuryr-other-rig-pw";
pub const RIG_DOMAIN: &str = "kuryr-rig";

/// Keystone's root (no `/v3`).
pub fn keystone_url() -> String {
    std::env::var("KURYR_KEYSTONE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:5000".into())
        .trim_end_matches('/')
        .trim_end_matches("/v3")
        .to_string()
}

/// The keystone-auth Neutron, as the client normalises it (with a trailing `/`).
pub fn live_neutron() -> String {
    let url = std::env::var("KURYR_KEYSTONE_NEUTRON_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:9698".into());
    format!("{}/", url.trim_end_matches('/'))
}

/// Where the catalog's wrong choices point (keystone-up.sh's KEYSTONE_DEAD_URL).
pub const DEAD_NEUTRON: &str = "http://127.0.0.1:1/";

/// The noauth Neutron on the same database: it sees every project, so checks and
/// clean-up work whatever happens to Keystone.
pub fn noauth_neutron() -> String {
    std::env::var("KURYR_NEUTRON_URL").unwrap_or_else(|_| "http://127.0.0.1:9696".into())
}

/// A kuryr client from `[neutron]` keys, read as `kuryr.conf` is (no `OS_*` fallback).
pub fn client(keys: &[(&str, &str)]) -> Client {
    let section: String = keys.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    let loaded = from_ini_str(
        &format!("[neutron]\n{section}"),
        "keystone-rig",
        &HashMap::new(),
    )
    .expect("options");
    let options = loaded.config.backend.neutron_client().expect("neutron");
    Client::new(options.clone()).expect("client")
}

/// A client of the noauth Neutron.
pub fn noauth() -> Client {
    client(&[("auth_type", "none"), ("endpoint", &noauth_neutron())])
}

/// Keystone's admin API, with a fresh admin token per call (tokens here live 40 s).
pub struct Keystone {
    http: reqwest::Client,
    pub url: String,
}

/// The body of a password `POST /v3/auth/tokens` for a user and project both
/// named in `domain` (a domain name).
pub fn password_auth(user: &str, password: &str, project: &str, domain: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}
    }})
}

impl Keystone {
    pub fn new() -> Keystone {
        Keystone {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            url: keystone_url(),
        }
    }

    /// Issues a token: (X-Subject-Token, body), or the status and message.
    pub async fn issue(&self, auth: &Value) -> Result<(String, Value), String> {
        let answer = self
            .http
            .post(format!("{}/v3/auth/tokens", self.url))
            .json(auth)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = answer.status();
        let token = answer
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        match token {
            Some(token) if status.is_success() => Ok((token, body)),
            _ => Err(format!("{status}: {body}")),
        }
    }

    pub async fn admin_token(&self) -> String {
        let auth = password_auth("admin", ADMIN_PASSWORD, "admin", "Default");
        self.issue(&auth).await.expect("admin token").0
    }

    /// `GET /v3{path}` as admin.
    pub async fn get(&self, path: &str) -> Value {
        let token = self.admin_token().await;
        let answer = self
            .http
            .get(format!("{}/v3{path}", self.url))
            .header("X-Auth-Token", token)
            .send()
            .await
            .expect("keystone answers");
        assert!(
            answer.status().is_success(),
            "GET {path}: {}",
            answer.status()
        );
        answer.json().await.expect("json")
    }

    /// The id of the one `collection` item matching `query` (e.g. `name=x`).
    pub async fn id_of(&self, collection: &str, query: &str) -> String {
        let found = self.get(&format!("/{collection}?{query}")).await;
        let items = found[collection].as_array().expect("a list");
        assert_eq!(items.len(), 1, "{collection}?{query}: {found}");
        items[0]["id"].as_str().unwrap().to_string()
    }

    /// Project `name`'s id in domain `domain` (a name).
    pub async fn project_id(&self, name: &str, domain: &str) -> String {
        let domain_id = self.domain_id(domain).await;
        self.id_of("projects", &format!("name={name}&domain_id={domain_id}"))
            .await
    }

    pub async fn domain_id(&self, name: &str) -> String {
        self.id_of("domains", &format!("name={name}")).await
    }

    pub async fn user_id(&self, name: &str, domain: &str) -> String {
        let domain_id = self.domain_id(domain).await;
        self.id_of("users", &format!("name={name}&domain_id={domain_id}"))
            .await
    }

    /// Revokes `token` (`DELETE /v3/auth/tokens`) and checks Keystone now refuses it.
    pub async fn revoke(&self, token: &str) {
        let admin = self.admin_token().await;
        let answer = self
            .http
            .delete(format!("{}/v3/auth/tokens", self.url))
            .header("X-Auth-Token", &admin)
            .header("X-Subject-Token", token)
            .send()
            .await
            .expect("keystone answers");
        // 404: it had expired or was revoked already.
        assert!(
            answer.status() == 204 || answer.status() == 404,
            "revoking a token: {}",
            answer.status()
        );
        assert_eq!(self.token_status(token).await, 404, "a revoked token");
    }

    /// What Keystone says of `token`: 200 valid, 404 revoked or expired.
    pub async fn token_status(&self, token: &str) -> u16 {
        let admin = self.admin_token().await;
        self.http
            .get(format!("{}/v3/auth/tokens", self.url))
            .header("X-Auth-Token", &admin)
            .header("X-Subject-Token", token)
            .send()
            .await
            .expect("keystone answers")
            .status()
            .as_u16()
    }

    /// Creates an application credential `name` for user kuryr (Default) with its
    /// roles on project service; (id, secret). Keystone lets only the user make it.
    pub async fn create_app_credential(&self, name: &str) -> (String, String) {
        let auth = password_auth("kuryr", KURYR_PASSWORD, "service", "Default");
        let (token, body) = self.issue(&auth).await.expect("kuryr token");
        let user = body["token"]["user"]["id"].as_str().unwrap().to_string();
        let answer = self
            .http
            .post(format!(
                "{}/v3/users/{user}/application_credentials",
                self.url
            ))
            .header("X-Auth-Token", &token)
            .json(&json!({"application_credential": {
                "name": name, "description": "tests/keystone_real.rs"}}))
            .send()
            .await
            .expect("keystone answers");
        assert_eq!(answer.status(), 201, "creating an application credential");
        let made: Value = answer.json().await.unwrap();
        let cred = &made["application_credential"];
        (
            cred["id"].as_str().unwrap().to_string(),
            cred["secret"].as_str().unwrap().to_string(),
        )
    }

    /// Deletes user kuryr's application credential `id` (best effort: clean-up).
    pub async fn delete_app_credential(&self, id: &str) {
        let auth = password_auth("kuryr", KURYR_PASSWORD, "service", "Default");
        let Ok((token, body)) = self.issue(&auth).await else {
            return;
        };
        let user = body["token"]["user"]["id"].as_str().unwrap_or_default();
        let _ = self
            .http
            .delete(format!(
                "{}/v3/users/{user}/application_credentials/{id}",
                self.url
            ))
            .header("X-Auth-Token", &token)
            .send()
            .await;
    }
}

/// Whether the rig answers: Keystone, the admin login, the keystone-auth Neutron
/// (401 without a token) and the noauth Neutron. `Err` says what is missing.
async fn rig_problem() -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let ks = keystone_url();
    let status = |r: Result<reqwest::Response, reqwest::Error>| {
        r.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
    };
    match status(http.get(format!("{ks}/v3")).send().await) {
        Ok(200) => {}
        other => return Err(format!("no Keystone at {ks}/v3 ({other:?})")),
    }
    let auth = password_auth("admin", ADMIN_PASSWORD, "admin", "Default");
    Keystone::new()
        .issue(&auth)
        .await
        .map_err(|e| format!("Keystone at {ks} refuses the rig's admin ({e})"))?;
    let neutron = live_neutron();
    match status(http.get(format!("{neutron}v2.0/networks")).send().await) {
        Ok(401) => {}
        other => {
            return Err(format!(
                "no keystone-auth Neutron at {neutron} (wanted 401 without a token, got {other:?})"
            ));
        }
    }
    noauth()
        .extensions()
        .await
        .map_err(|e| format!("no noauth Neutron at {} ({e})", noauth_neutron()))?;
    Ok(())
}

/// Fails the test, naming what is missing and what to run, unless the rig is up.
pub async fn require_rig() {
    if let Err(problem) = rig_problem().await {
        panic!(
            "{problem}. Start the rig with `bash scripts/neutron-up.sh && bash scripts/keystone-up.sh \
             && bash scripts/neutron-keystone-up.sh`"
        );
    }
}

/// Seconds since the epoch of Keystone's `2026-12-03T12:18:29.000000Z`.
pub fn epoch_secs(stamp: &str) -> i64 {
    let (date, time) = stamp.split_once('T').expect("a date and a time");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let t: Vec<f64> = time
        .trim_end_matches('Z')
        .split(':')
        .map(|x| x.parse().unwrap())
        .collect();
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + (t[0] * 3600.0 + t[1] * 60.0 + t[2]) as i64
}
