//! A fault-injecting HTTP proxy for tests: listens on 127.0.0.1, forwards every
//! request to one upstream (the real Neutron), and fails exactly one of them, chosen
//! by its position since the proxy was armed, in one of three ways:
//! refused before it reaches Neutron, or done by Neutron with the answer then lost
//! (replaced by a 502, or the connection closed without an answer).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// How the chosen request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A 500 from the proxy; Neutron never sees the request.
    Refused,
    /// Neutron does the work; its answer is replaced by a 502.
    LostAs502,
    /// Neutron does the work; the connection closes without an answer.
    LostAsReset,
}

#[derive(Default)]
struct Plan {
    /// (position, fault); positions count from 0 at `arm`.
    at: Option<(usize, Fault)>,
    /// `METHOD path` of every request since `arm`, the faulted one marked.
    log: Vec<String>,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    count: Arc<AtomicUsize>,
    plan: Arc<Mutex<Plan>>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let plan = Arc::new(Mutex::new(Plan::default()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let upstream = upstream.trim_end_matches('/').to_string();
        let (c, p) = (count.clone(), plan.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (c, p, http, upstream) = (c.clone(), p.clone(), http.clone(), upstream.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, c.clone(), p.clone(), http.clone(), upstream.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { addr, count, plan }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Counts requests from 0 again, failing the one at `position` with `fault`
    /// (`None`: pass everything).
    pub fn arm(&self, fault: Option<(usize, Fault)>) {
        let mut plan = self.plan.lock().unwrap();
        plan.at = fault;
        plan.log.clear();
        self.count.store(0, Ordering::SeqCst);
    }

    /// Requests seen since `arm`.
    pub fn seen(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    pub fn log(&self) -> Vec<String> {
        self.plan.lock().unwrap().log.clone()
    }
}

/// A connection closed without an answer: hyper drops it when the service fails.
#[derive(Debug)]
struct Reset;
impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("answer lost")
    }
}
impl std::error::Error for Reset {}

async fn forward(
    req: Request<Incoming>,
    count: Arc<AtomicUsize>,
    plan: Arc<Mutex<Plan>>,
    http: reqwest::Client,
    upstream: String,
) -> Result<Response<Full<Bytes>>, Reset> {
    let position = count.fetch_add(1, Ordering::SeqCst);
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    let fault = {
        let mut plan = plan.lock().unwrap();
        let fault = plan.at.filter(|(at, _)| *at == position).map(|(_, f)| f);
        let mark = fault.map_or(String::new(), |f| format!("  <- {f:?}"));
        plan.log.push(format!("{method} {path}{mark}"));
        fault
    };
    if fault == Some(Fault::Refused) {
        return Ok(answer(
            500,
            Bytes::from_static(b"{\"message\": \"refused by the fault proxy\"}"),
        ));
    }
    let headers = req.headers().clone();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut out = http.request(method, format!("{upstream}{path}"));
    for name in ["content-type", "x-auth-token", "accept"] {
        if let Some(value) = headers.get(name) {
            out = out.header(name, value);
        }
    }
    let upstream_answer = out.body(body).send().await;
    match (fault, upstream_answer) {
        (Some(Fault::LostAs502), _) => Ok(answer(502, Bytes::from_static(b"Bad Gateway"))),
        (Some(Fault::LostAsReset), _) => Err(Reset),
        (_, Ok(done)) => {
            let status = done.status().as_u16();
            let bytes = done.bytes().await.unwrap_or_default();
            Ok(answer(status, bytes))
        }
        (_, Err(_)) => Ok(answer(502, Bytes::from_static(b"upstream unreachable"))),
    }
}

fn answer(status: u16, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap()
}
