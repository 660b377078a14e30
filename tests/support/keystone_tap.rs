//! A pass-through HTTP proxy in front of Keystone for tests: listens on 127.0.0.1 and
//! forwards every request unchanged, and keeps every token Keystone hands out
//! (`X-Subject-Token` of `POST /v3/auth/tokens`) with its expiry. A client whose
//! `auth_url` is the tap gets exactly the tokens the test can then revoke, wait out,
//! or look for in a log: the client itself never shows its token.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A token Keystone issued through the tap.
#[derive(Clone, Debug)]
pub struct Issued {
    pub token: String,
    /// `token.expires_at` as Keystone wrote it (RFC 3339, UTC).
    pub expires_at: String,
}

pub struct KeystoneTap {
    pub addr: SocketAddr,
    issued: Arc<Mutex<Vec<Issued>>>,
}

/// Headers passed on in both directions; nothing else matters to a Keystone client.
const HEADERS: [&str; 5] = [
    "content-type",
    "accept",
    "x-auth-token",
    "x-subject-token",
    "x-openstack-request-id",
];

impl KeystoneTap {
    /// Starts the tap in front of `upstream` (Keystone's root, e.g.
    /// `http://127.0.0.1:5000`); it lives as long as the test's runtime.
    pub async fn start(upstream: &str) -> KeystoneTap {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issued = Arc::new(Mutex::new(Vec::new()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let upstream = upstream.trim_end_matches('/').to_string();
        let seen = issued.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (seen, http, upstream) = (seen.clone(), http.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, seen.clone(), http.clone(), upstream.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        KeystoneTap { addr, issued }
    }

    /// The `auth_url` a client should use: the tap's `/v3`.
    pub fn auth_url(&self) -> String {
        format!("http://{}/v3", self.addr)
    }

    /// Every token issued through the tap so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.issued.lock().unwrap().clone()
    }
}

async fn forward(
    req: Request<Incoming>,
    issued: Arc<Mutex<Vec<Issued>>>,
    http: reqwest::Client,
    upstream: String,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = http.request(method, format!("{upstream}{path}"));
    for name in HEADERS {
        if let Some(value) = headers.get(name) {
            out = out.header(name, value);
        }
    }
    let Ok(answer) = out.body(body).send().await else {
        return Ok(Response::builder()
            .status(502)
            .body(Full::new(Bytes::from_static(b"keystone unreachable")))
            .unwrap());
    };
    let mut response = Response::builder().status(answer.status().as_u16());
    for name in HEADERS {
        if let Some(value) = answer.headers().get(name) {
            response = response.header(name, value);
        }
    }
    let token = answer
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = answer.bytes().await.unwrap_or_default();
    if let Some(token) = token {
        let expires_at = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.pointer("/token/expires_at")?.as_str().map(str::to_string))
            .unwrap_or_default();
        issued.lock().unwrap().push(Issued { token, expires_at });
    }
    Ok(response.body(Full::new(bytes)).unwrap())
}
