//! dockerd's captured calls (`tests/fixtures/dockerd/*.jsonl`) sent to a router in
//! their order, as dockerd would send them to this plugin. The bodies are the
//! captured ones, ids included, except for what dockerd took from the capturing
//! plugin's replies: PoolIDs, addresses and address spaces become this plugin's
//! answers. When this plugin requires MAC addresses (`RequiresMACAddress`), dockerd
//! makes one per endpoint and sends it with the endpoint's RequestAddress and
//! CreateEndpoint, as dockerd-calls-extra.jsonl's session 2 shows; so does this.

#![allow(dead_code)]

use std::collections::HashMap;

use axum::Router;
use serde_json::{Value, json};

use super::support::call;

/// One captured call: what dockerd sent, and how the capturing plugin answered.
#[derive(Clone, Debug)]
pub struct Captured {
    pub path: String,
    pub body: Value,
    pub reply: Value,
    pub status: u16,
}

/// The calls of `file` (in tests/fixtures/dockerd) between the marker line `marker`
/// and the next marker.
pub fn segment(file: &str, marker: &str) -> Vec<Captured> {
    let path = format!(
        "{}/tests/fixtures/dockerd/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let start = lines
        .iter()
        .position(|l| l["marker"] == json!(marker))
        .unwrap_or_else(|| panic!("no marker {marker:?} in {file}"));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.get("marker").is_none())
        .map(|l| Captured {
            path: l["path"].as_str().expect("a path").to_string(),
            body: l["body"].clone(),
            reply: l["reply"].clone(),
            status: l["status"].as_u64().expect("a status") as u16,
        })
        .collect()
}

/// A dockerd talking to one router.
pub struct Dockerd {
    router: Router,
    /// Captured reply values and this plugin's answers in their place.
    ours: HashMap<String, String>,
    requires_mac: bool,
    /// The MAC made for the endpoint whose address was requested last.
    pending_mac: Option<String>,
    macs: u8,
    /// Every call sent, with this plugin's reply.
    pub sent: Vec<(String, Value, Value)>,
}

/// A reply's values that dockerd sends back later.
const ECHOED: &[&str] = &[
    "PoolID",
    "Pool",
    "Address",
    "LocalDefaultAddressSpace",
    "GlobalDefaultAddressSpace",
];

impl Dockerd {
    pub fn new(router: Router) -> Dockerd {
        Dockerd {
            router,
            ours: HashMap::new(),
            requires_mac: false,
            pending_mac: None,
            macs: 0,
            sent: Vec::new(),
        }
    }

    /// The plugin was restarted and answers on `router` now; dockerd keeps what it
    /// was told before.
    pub fn plugin_restarted(&mut self, router: Router) {
        self.router = router;
    }

    /// The MACs dockerd made, in order: `02:42:0a:63:00:<n>`.
    pub fn mac(n: u8) -> String {
        format!("02:42:0a:63:00:{n:02x}")
    }

    /// Sends each call, which must answer with the captured status; returns the
    /// replies.
    pub async fn replay(&mut self, calls: &[Captured]) -> Vec<Value> {
        let mut replies = Vec::new();
        for captured in calls {
            let body = self.body(captured);
            let (status, reply) = call(&self.router, &captured.path, body.clone()).await;
            assert_eq!(
                status.as_u16(),
                captured.status,
                "{} {body} -> {reply}",
                captured.path
            );
            self.learn(captured, &reply);
            self.sent.push((captured.path.clone(), body, reply.clone()));
            replies.push(reply);
        }
        replies
    }

    /// The captured body with this plugin's values in place of the capturing
    /// plugin's, and dockerd's MAC where this plugin requires one.
    fn body(&mut self, captured: &Captured) -> Value {
        let mut body = captured.body.clone();
        replace(&mut body, &self.ours);
        let gateway = body["Options"]["RequestAddressType"] == json!("com.docker.network.gateway");
        match captured.path.as_str() {
            "/IpamDriver.RequestAddress" if self.requires_mac && !gateway => {
                self.macs += 1;
                let mac = Dockerd::mac(self.macs);
                let key = "com.docker.network.endpoint.macaddress";
                match body["Options"].as_object_mut() {
                    Some(options) => {
                        options.insert(key.into(), json!(mac));
                    }
                    None => body["Options"] = json!({ key: mac }),
                }
                self.pending_mac = Some(mac);
            }
            "/NetworkDriver.CreateEndpoint" if body["Interface"]["MacAddress"] == json!("") => {
                if let Some(mac) = self.pending_mac.take() {
                    body["Interface"]["MacAddress"] = json!(mac);
                }
            }
            _ => {}
        }
        body
    }

    fn learn(&mut self, captured: &Captured, reply: &Value) {
        if captured.path == "/IpamDriver.GetCapabilities" {
            self.requires_mac = reply["RequiresMACAddress"] == json!(true);
        }
        for key in ECHOED {
            let (Some(theirs), Some(mine)) = (captured.reply[*key].as_str(), reply[*key].as_str())
            else {
                continue;
            };
            self.ours.insert(theirs.into(), mine.into());
            // An address also comes back without its prefix length.
            if let (Some((theirs, _)), Some((mine, _))) =
                (theirs.split_once('/'), mine.split_once('/'))
                && *key == "Address"
            {
                self.ours.insert(theirs.into(), mine.into());
            }
        }
    }
}

/// Every string in `value` that is a key of `ours` becomes its value.
fn replace(value: &mut Value, ours: &HashMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(mine) = ours.get(s.as_str()) {
                *s = mine.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace(v, ours)),
        Value::Object(fields) => fields.values_mut().for_each(|v| replace(v, ours)),
        _ => {}
    }
}
