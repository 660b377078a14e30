//! An in-process fake Keystone + Neutron: one hyper server on 127.0.0.1:0 that
//! issues tokens with a scripted catalog and keeps resources in maps behind a Mutex.
//! Neutron's core resources follow `model.rs` (addresses from subnets, subnets from
//! pools, MACs, bindings, tags, the deletes it refuses) and nested mode's calls
//! `nested.rs` (trunks, address pairs, revisions), each as the real Neutron 29 of
//! `scripts/neutron-up.sh` answers, with the differences listed there. Tests script
//! failures on top (`Script`, `lose_answer`, `delay`, `redirects`, `list_hook`).
//!
//! Built for the crate's unit tests and, with the `test-support` feature, for the
//! integration tests in `tests/` (`kuryr::neutron::fake`); it is never in a release
//! binary.

mod model;
mod nested;
mod refusal;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_model;

pub use model::PROJECT;
pub use nested::{MAX_ADDRESS_PAIRS, change_subports, vm_port};

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use refusal::Refusal;

type Answer = Response<Full<Bytes>>;

/// One request Neutron saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// The endpoint prefix before `/v2.0/` (`/internal` for the internal endpoint).
    pub prefix: String,
    /// Path from `v2.0/` on, with the query.
    pub path: String,
    pub token: Option<String>,
}

/// A canned answer for `method path` (path from `v2.0/`, without query).
pub struct Script {
    pub method: &'static str,
    pub path: String,
    pub status: u16,
    pub body: Value,
    pub request_id: Option<&'static str>,
}

#[derive(Default)]
pub struct State {
    pub tokens_issued: u32,
    pub valid_tokens: HashSet<String>,
    /// Tokens answered with one 401 (and then invalid), as if they had expired.
    pub expire_once: HashSet<String>,
    /// False for `auth_type = none`: requests need no token.
    pub no_auth: bool,
    pub seen: Vec<Seen>,
    pub items: BTreeMap<String, BTreeMap<String, Value>>,
    pub page_size: Option<usize>,
    pub scripts: Vec<Script>,
    pub extensions: HashSet<String>,
    /// Answers every `GET v2.0/<collection>` from the raw query instead of the
    /// tables, for servers whose pagination misbehaves.
    pub list_hook: Option<ListHook>,
    /// `(path from v2.0/ without query, status, Location)`: answered as a redirect
    /// after the token check.
    pub redirects: Vec<(String, u16, String)>,
    /// Each request waits this long before it is handled, so requests overlap.
    pub delay: Option<std::time::Duration>,
    /// Requests being handled now, and the most there ever were at once.
    pub in_flight: usize,
    pub peak_in_flight: usize,
    /// `(method, path from v2.0/ without query)`: done, then answered 502 as if a
    /// proxy lost Neutron's answer. Each entry is used once.
    pub lose_answer: Vec<(&'static str, String)>,
    /// The `binding:vif_type` a port bound to a host gets; `None` is `tap`, what the
    /// rig's `loopback_tap` driver answers (`ovs` is what an OVS agent's host gets).
    pub vif_type: Option<&'static str>,
    /// The last serial given to an id or a MAC.
    pub serial: u64,
}

/// The extensions of the rig's Neutron 29 that kuryr asks about.
pub const RIG_EXTENSIONS: &[&str] = &[
    "address-scope",
    "allowed-address-pairs",
    "binding",
    "extra_dhcp_opt",
    "port-security",
    "security-group",
    "standard-attr-description",
    "standard-attr-revisions",
    "standard-attr-tag",
    "subnet_allocation",
    "tag-creation",
    "tag-ports-during-bulk-creation",
    "trunk",
    "trunk-details",
];

/// See [`State::list_hook`].
pub type ListHook = Arc<dyn Fn(&str) -> Value + Send + Sync>;

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    /// A fake like the rig's Neutron: no Keystone (`auth_type = none`) and
    /// [`RIG_EXTENSIONS`].
    pub async fn rig() -> Fake {
        let fake = Fake::start().await;
        {
            let mut st = fake.state();
            st.no_auth = true;
            st.extensions = RIG_EXTENSIONS.iter().map(|e| e.to_string()).collect();
        }
        fake
    }

    /// A fake Keystone + Neutron that wants a token and has no extensions.
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(counted(addr, &state, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Fake { addr, state }
    }

    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).unwrap()
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn reply(status: u16, body: &Value, headers: &[(&str, &str)]) -> Answer {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn neutron_error(status: u16, kind: &str, message: &str) -> Answer {
    reply(
        status,
        &json!({"NeutronError": {"type": kind, "message": message, "detail": ""}}),
        &[],
    )
}

fn not_found() -> Answer {
    neutron_error(404, "NotFound", "not found")
}

impl Refusal {
    fn answer(&self) -> Answer {
        neutron_error(self.status, self.kind, &self.message)
    }
}

/// The outcome's body answered with `status`, or its refusal.
fn answer(outcome: Result<Value, Refusal>, status: u16) -> Answer {
    match outcome {
        Ok(body) => reply(status, &body, &[]),
        Err(refusal) => refusal.answer(),
    }
}

fn catalog(addr: SocketAddr) -> Value {
    let e = |interface: &str, region: &str, path: &str| json!({"interface": interface, "region_id": region, "region": region, "url": format!("http://{addr}{path}")});
    json!([
        {"type": "identity", "endpoints": [e("public", "RegionOne", "/identity")]},
        {"type": "network", "endpoints": [
            e("public", "RegionOne", "/"),
            e("internal", "RegionOne", "/internal"),
            e("internal", "RegionTwo", "/r2-internal/"),
            e("admin", "RegionOne", "/admin/v2.0"),
        ]},
    ])
}

/// `handle`, counted in `in_flight` and after the scripted `delay`.
async fn counted(addr: SocketAddr, state: &Mutex<State>, req: Request<Incoming>) -> Answer {
    let delay = {
        let mut st = state.lock().unwrap();
        st.in_flight += 1;
        st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
        st.delay
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let response = handle(addr, state, req).await;
    state.lock().unwrap().in_flight -= 1;
    response
}

async fn handle(addr: SocketAddr, state: &Mutex<State>, req: Request<Incoming>) -> Answer {
    let method = req.method().to_string();
    let rel = req.uri().path().trim_start_matches('/').to_string();
    let answer = serve(addr, state, req).await;
    let mut st = state.lock().unwrap();
    if let Some(at) = st
        .lose_answer
        .iter()
        .position(|(m, p)| *m == method && *p == rel)
    {
        st.lose_answer.remove(at);
        return reply(502, &json!({"message": "answer lost"}), &[]);
    }
    answer
}

async fn serve(addr: SocketAddr, state: &Mutex<State>, req: Request<Incoming>) -> Answer {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let token = header("x-auth-token");
    let if_match = nested::if_match(header("if-match").as_deref());
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut st = state.lock().unwrap();

    if path == "/v3/auth/tokens" && method == "POST" {
        if body.pointer("/auth/identity/password/user/password") == Some(&json!("wrong")) {
            return reply(
                401,
                &json!({"error": {"message": "The request you have made requires authentication."}}),
                &[],
            );
        }
        st.tokens_issued += 1;
        let issued = format!("token-{}", st.tokens_issued);
        st.valid_tokens.insert(issued.clone());
        let mut answer = json!({"token": {"methods": ["password"], "catalog": catalog(addr)}});
        // A project-scoped token names its project, as Keystone's does.
        if let Some(project) = body.pointer("/auth/scope/project") {
            let id = project["id"].as_str().unwrap_or("project-by-name");
            answer["token"]["project"] = json!({"id": id, "name": id});
        }
        return reply(201, &answer, &[("x-subject-token", &issued)]);
    }
    let Some(at) = path.find("/v2.0/") else {
        return not_found();
    };
    let prefix = path[..at].to_string();
    let rel = path[at + 1..].to_string();
    st.seen.push(Seen {
        method: method.clone(),
        prefix,
        path: match &query {
            Some(q) => format!("{rel}?{q}"),
            None => rel.clone(),
        },
        token: token.clone(),
    });
    if !st.no_auth {
        let Some(token) = token else {
            return reply(401, &json!({"error": {"message": "no token"}}), &[]);
        };
        if st.expire_once.remove(&token) {
            st.valid_tokens.remove(&token);
        }
        if !st.valid_tokens.contains(&token) {
            return reply(401, &json!({"error": {"message": "token expired"}}), &[]);
        }
    }
    if let Some((_, status, location)) = st.redirects.iter().find(|(p, _, _)| *p == rel) {
        return reply(*status, &Value::Null, &[("location", location)]);
    }
    if let (Some(hook), "GET", 1) = (&st.list_hook, method.as_str(), rel.matches('/').count()) {
        return reply(200, &hook(query.as_deref().unwrap_or("")), &[]);
    }
    if let Some(script) = st
        .scripts
        .iter()
        .find(|s| s.method == method && s.path == rel)
    {
        let headers: Vec<(&str, &str)> = script
            .request_id
            .iter()
            .map(|id| ("x-openstack-request-id", *id))
            .collect();
        return reply(script.status, &script.body, &headers);
    }
    let parts: Vec<String> = rel
        .split('/')
        .skip(1)
        .map(|p| {
            url::form_urlencoded::parse(p.as_bytes())
                .map(|(k, _)| k.into_owned())
                .collect()
        })
        .collect();
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", [ext]) if ext == "extensions" => {
            let mut aliases: Vec<&String> = st.extensions.iter().collect();
            aliases.sort();
            let listed: Vec<Value> = aliases
                .into_iter()
                .map(|a| json!({"alias": a, "name": a, "description": "", "links": []}))
                .collect();
            reply(200, &json!({ "extensions": listed }), &[])
        }
        ("GET", [ext, alias]) if ext == "extensions" => {
            if st.extensions.contains(alias) {
                reply(200, &json!({"extension": {"alias": alias}}), &[])
            } else {
                not_found()
            }
        }
        ("GET", [coll]) => list(addr, &st, coll, &params),
        ("POST", [coll]) if coll == "trunks" => {
            let made = nested::create_trunk(&mut st, &body["trunk"]);
            answer(made.map(|trunk| json!({ "trunk": trunk })), 201)
        }
        ("POST", [coll]) => create(&mut st, coll, &body),
        ("PUT", [coll, id, action])
            if coll == "trunks"
                && ["add_subports", "remove_subports"].contains(&action.as_str()) =>
        {
            answer(nested::change_subports(&mut st, id, action, &body), 200)
        }
        ("GET", [coll, id, action]) if coll == "trunks" && action == "get_subports" => {
            answer(nested::get_subports(&st, id), 200)
        }
        (m, [coll, id]) => item_request(&mut st, m, coll, id, &body, if_match),
        (m, [coll, id, tags, rest @ ..]) if tags == "tags" => {
            tags_request(&mut st, m, coll, id, rest, &body)
        }
        _ => not_found(),
    }
}

/// `PUT .../tags` (all, answered with them), `PUT .../tags/<tag>` (201, no body),
/// `DELETE .../tags[/<tag>]` (204; a missing tag is 404). Each change is a revision.
/// On a missing item Neutron 29 answers 500 (its tag plugin does not check), and so
/// does the fake.
fn tags_request(
    st: &mut State,
    method: &str,
    coll: &str,
    id: &str,
    rest: &[String],
    body: &Value,
) -> Answer {
    let Some(item) = st.items.get_mut(coll).and_then(|t| t.get_mut(id)) else {
        return neutron_error(
            500,
            "HTTPInternalServerError",
            "Request Failed: internal server error while processing your request.",
        );
    };
    let mut current: Vec<String> = serde_json::from_value(item["tags"].clone()).unwrap_or_default();
    let (status, shown) = match (method, rest) {
        ("PUT", []) => {
            current = serde_json::from_value(body["tags"].clone()).unwrap_or_default();
            (200, json!({"tags": current}))
        }
        ("PUT", [tag]) => {
            if !current.contains(tag) {
                current.push(tag.clone());
            }
            (201, Value::Null)
        }
        ("DELETE", []) => {
            current.clear();
            (204, Value::Null)
        }
        ("DELETE", [tag]) => {
            if !current.contains(tag) {
                return neutron_error(
                    404,
                    "TagNotFound",
                    &format!("Tag {tag} could not be found."),
                );
            }
            current.retain(|t| t != tag);
            (204, Value::Null)
        }
        _ => return not_found(),
    };
    item["tags"] = json!(current);
    nested::bump(item);
    reply(status, &shown, &[])
}

/// `POST v2.0/<coll>`, one item or the bulk form `{"<plural>": [...]}`: all made or
/// none (`model.rs` fills in and checks each; nested mode's port checks follow).
fn create(st: &mut State, coll: &str, body: &Value) -> Answer {
    let Some((key, item)) = body.as_object().and_then(|o| o.iter().next()) else {
        return reply(400, &json!({}), &[]);
    };
    let bulk = item.is_array();
    let items = match item {
        Value::Array(items) => items.clone(),
        item => vec![item.clone()],
    };
    let before = st.items.clone();
    let mut made = Vec::new();
    for item in items {
        let stored = model::create(st, coll, item).and_then(|mut item| {
            if coll == "ports" {
                nested::port_defaults(&mut item);
                nested::check_port(&mut item)?;
            }
            Ok(item)
        });
        match stored {
            Ok(item) => {
                let id = item["id"].as_str().unwrap_or_default().to_string();
                made.push(id.clone());
                st.items
                    .entry(coll.to_string())
                    .or_default()
                    .insert(id, item);
            }
            Err(refusal) => {
                st.items = before;
                return refusal.answer();
            }
        }
    }
    let mut shown: Vec<Value> = made
        .iter()
        .filter_map(|id| st.items.get(coll)?.get(id))
        .map(|item| present(st, coll, item))
        .collect();
    let made = if bulk {
        Value::Array(shown)
    } else {
        shown.remove(0)
    };
    reply(201, &json!({ key.as_str(): made }), &[])
}

/// The item as Neutron shows it (`model::present`, `nested::present`).
fn present(st: &State, coll: &str, item: &Value) -> Value {
    let mut item = nested::present(st, coll, item);
    model::present(st, coll, &mut item);
    item
}

/// GET, PUT or DELETE `v2.0/<coll>/<id>`. PUT and DELETE honour `If-Match`; a PUT
/// that changes the item (or sets address pairs, which Neutron rewrites) bumps its
/// revision.
fn item_request(
    st: &mut State,
    method: &str,
    coll: &str,
    id: &str,
    body: &Value,
    if_match: Option<u64>,
) -> Answer {
    let key = singular(coll);
    let Some(item) = st.items.get(coll).and_then(|t| t.get(id)) else {
        return refusal::missing(coll, id).answer();
    };
    if method != "GET"
        && let Err(refusal) = nested::check_revision(item, if_match)
    {
        return refusal.answer();
    }
    match method {
        "GET" => reply(200, &json!({ key: present(st, coll, item) }), &[]),
        "DELETE" => {
            let refused = model::check_delete(st, coll, id).and_then(|()| {
                if coll == "ports" {
                    nested::check_port_deletion(st, id)?;
                }
                Ok(())
            });
            if let Err(refusal) = refused {
                return refusal.answer();
            }
            st.items.get_mut(coll).map(|t| t.remove(id));
            model::after_delete(st, coll, id);
            reply(204, &Value::Null, &[])
        }
        "PUT" => {
            let empty = serde_json::Map::new();
            let update = body.get(key).and_then(Value::as_object);
            let changed =
                model::update(st, coll, item, update.unwrap_or(&empty)).and_then(|mut changed| {
                    if coll == "ports" {
                        nested::check_port(&mut changed)?;
                    }
                    Ok(changed)
                });
            let mut changed = match changed {
                Ok(changed) => changed,
                Err(refusal) => return refusal.answer(),
            };
            if changed != *item || update.is_some_and(|u| u.contains_key("allowed_address_pairs")) {
                nested::bump(&mut changed);
            }
            let shown = present(st, coll, &changed);
            st.items
                .get_mut(coll)
                .map(|t| t.insert(id.to_string(), changed));
            reply(200, &json!({ key: shown }), &[])
        }
        _ => not_found(),
    }
}

fn singular(coll: &str) -> &'static str {
    match coll {
        "ports" => "port",
        "networks" => "network",
        "subnets" => "subnet",
        "subnetpools" => "subnetpool",
        "security-groups" => "security_group",
        "security-group-rules" => "security_group_rule",
        "address-scopes" => "address_scope",
        "trunks" => "trunk",
        _ => "item",
    }
}

fn list(addr: SocketAddr, st: &State, coll: &str, params: &[(String, String)]) -> Answer {
    let key = coll.replace('-', "_");
    let empty = BTreeMap::new();
    let table = st.items.get(coll).unwrap_or(&empty);
    let marker = params
        .iter()
        .find(|(k, _)| k == "marker")
        .map(|(_, v)| v.clone());
    // Each filter key once, with all its values (Neutron's `key=a&key=b` is any of).
    let mut filters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (k, v) in params {
        if !matches!(
            k.as_str(),
            "marker" | "limit" | "fields" | "sort_key" | "sort_dir"
        ) {
            filters.entry(k).or_default().push(v);
        }
    }
    let matches = |item: &Value| {
        filters
            .iter()
            .all(|(k, values)| model::passes(item, k, values))
    };
    let all: Vec<&Value> = table
        .iter()
        .filter(|(id, _)| marker.as_ref().is_none_or(|m| id.as_str() > m.as_str()))
        .map(|(_, v)| v)
        .filter(|v| matches(v))
        .collect();
    let page_size = st.page_size.unwrap_or(usize::MAX);
    // `fields=a&fields=b` answers only those keys, as Neutron does.
    let fields: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "fields")
        .map(|(_, v)| v.as_str())
        .collect();
    let project = |v: &Value| -> Value {
        let v = present(st, coll, v);
        if fields.is_empty() {
            return v;
        }
        let kept = fields
            .iter()
            .filter_map(|f| v.get(*f).map(|x| ((*f).to_string(), x.clone())));
        Value::Object(kept.collect())
    };
    let page: Vec<Value> = all.iter().take(page_size).map(|v| project(v)).collect();
    let mut answer = json!({ key.as_str(): page });
    if all.len() > page.len() {
        let last = page
            .last()
            .and_then(|v| v["id"].as_str())
            .unwrap_or_default();
        let href = format!("http://{addr}/v2.0/{coll}?limit={page_size}&marker={last}");
        answer[format!("{key}_links")] = json!([{"rel": "next", "href": href}]);
    }
    reply(200, &answer, &[])
}
