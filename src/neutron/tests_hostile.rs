//! Client tests against hostile or broken servers: redirects that would carry
//! credentials elsewhere, endless or huge answers, pagination that loops, a hanging
//! Keystone, and secrets that must never reach a message. The servers are the fake
//! (`fake.rs`) or a few lines of raw HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::fake::Fake;
use super::*;

const PASSWORD: &str = "hunter2-secret";

/// Reads one HTTP/1.1 request (headers and a Content-Length body) and returns it.
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return seen;
        };
        if n == 0 {
            return seen;
        }
        seen.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&seen).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= end + 4 + length {
                return seen;
            }
        }
    }
}

/// A server that answers every request with `head` (status line and headers,
/// without the blank line) and then, when `stream_forever`, an endless body.
async fn raw_server(head: String, stream_forever: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let head = head.clone();
            tokio::spawn(async move {
                read_request(&mut stream).await;
                if stream
                    .write_all(format!("{head}\r\n\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
                let chunk = vec![b' '; 64 * 1024];
                while stream_forever && stream.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    addr
}

/// A listener that records every connection and what was sent on it.
struct Sink {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

async fn sink() -> Sink {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let (c, b) = (connections.clone(), bytes.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let request = read_request(&mut stream).await;
            b.lock().unwrap().extend_from_slice(&request);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
        }
    });
    Sink {
        addr,
        connections,
        bytes,
    }
}

fn password_auth(auth_url: &str) -> ClientOptions {
    ClientOptions::new(AuthMethod::Password {
        auth_url: Url::parse(auth_url).unwrap(),
        user: UserRef::Name {
            name: "kuryr".into(),
            domain: NameOrId::Name("Default".into()),
        },
        password: PASSWORD.into(),
        project: None,
    })
}

fn no_auth(endpoint: SocketAddr) -> ClientOptions {
    ClientOptions::new(AuthMethod::None {
        endpoint: Url::parse(&format!("http://{endpoint}/")).unwrap(),
    })
}

/// Neither Display nor Debug of `shown` holds a secret.
fn assert_clean(shown: &dyn std::fmt::Debug, display: Option<&dyn std::fmt::Display>) {
    let mut texts = vec![format!("{shown:?}")];
    if let Some(d) = display {
        texts.push(d.to_string());
    }
    for text in texts {
        for secret in [PASSWORD, "pw-in-url", "alice", "token-1"] {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
    }
}

#[tokio::test]
async fn a_keystone_307_is_refused_and_its_target_never_sees_the_password() {
    let target = sink().await;
    let keystone = raw_server(
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://alice:pw-in-url@{}/v3/auth/tokens\r\ncontent-length: 0",
            target.addr
        ),
        false,
    )
    .await;
    let client = Client::new(password_auth(&format!("http://{keystone}/v3"))).unwrap();
    let err = client.endpoint().await.unwrap_err();
    let NeutronError::Redirect {
        status, location, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 307);
    assert_eq!(
        location,
        &format!("http://{}/v3/auth/tokens", target.addr),
        "named, without userinfo"
    );
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_clean(&err, Some(&err));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.connections.load(Ordering::SeqCst), 0);
    assert!(target.bytes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_neutron_302_is_refused_and_its_target_never_sees_the_token() {
    let target = sink().await;
    let fake = Fake::start().await;
    fake.state().redirects.push((
        "v2.0/ports/p1".into(),
        302,
        format!("http://alice:pw-in-url@{}/v2.0/ports/p1", target.addr),
    ));
    let client = Client::new(password_auth(fake.url("/v3").as_str())).unwrap();
    let err = client.get::<Port>("p1").await.unwrap_err();
    assert!(
        matches!(&err, NeutronError::Redirect { status: 302, location, .. }
            if location == &format!("http://{}/v2.0/ports/p1", target.addr)),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_clean(&err, Some(&err));
    // The fake saw the token; the target saw nothing at all.
    assert_eq!(fake.state().seen[0].token.as_deref(), Some("token-1"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn huge_answers_stop_at_the_cap() {
    // Announced: refused from the header alone.
    let announced = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 209715200".into(),
        true,
    )
    .await;
    // Endless (no length, ends only when the connection does): read up to the cap.
    let endless = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close".into(),
        true,
    )
    .await;
    for addr in [announced, endless] {
        let client = Client::new(no_auth(addr)).unwrap();
        let start = Instant::now();
        let err = client.get::<Port>("p1").await.unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(20));
        let NeutronError::Limit { url, message, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(message.contains("32 MiB"), "{message}");
        assert_eq!(url, &format!("http://{addr}/v2.0/ports/p1"));
    }
}

/// A page of `n` ports named from `start`, with a next link carrying `next`.
fn page(start: usize, n: usize, next: Option<&str>) -> serde_json::Value {
    let ports: Vec<_> = (start..start + n)
        .map(|i| json!({"id": format!("p{i}")}))
        .collect();
    let mut answer = json!({ "ports": ports });
    if let Some(query) = next {
        answer["ports_links"] =
            json!([{"rel": "next", "href": format!("http://ignored/v2.0/ports?{query}")}]);
    }
    answer
}

fn marker(query: &str) -> Option<usize> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "marker")
        .and_then(|(_, v)| v.parse().ok())
}

#[tokio::test]
async fn a_pagination_cycle_is_an_error() {
    let fake = Fake::start().await;
    // A → B → A.
    fake.state().list_hook = Some(Arc::new(|query: &str| match marker(query) {
        Some(2) => page(2, 1, Some("marker=1")),
        _ => page(1, 1, Some("marker=2")),
    }));
    let client = Client::new(password_auth(fake.url("/v3").as_str())).unwrap();
    let err = client.list::<Port>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(&err, NeutronError::Limit { message, .. } if message.contains("loops")),
        "{err:?}"
    );
    assert_eq!(client.request_count(), 3);

    // A marker that does not move is the shortest cycle.
    fake.state().list_hook = Some(Arc::new(|_: &str| page(1, 1, Some("marker=1"))));
    let err = client.list::<Port>(&Query::new()).await.unwrap_err();
    assert!(matches!(&err, NeutronError::Limit { .. }), "{err:?}");
}

#[tokio::test]
async fn endless_markers_stop_at_the_page_cap() {
    let fake = Fake::start().await;
    fake.state().list_hook = Some(Arc::new(|query: &str| {
        let at = marker(query).unwrap_or(0);
        page(at, 1, Some(&format!("marker={}", at + 1)))
    }));
    let client = Client::new(password_auth(fake.url("/v3").as_str())).unwrap();
    let err = client.list::<Port>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(&err, NeutronError::Limit { message, .. }
            if message.contains(&format!("{} pages", resources::MAX_PAGES))),
        "{err:?}"
    );
    assert_eq!(client.request_count(), resources::MAX_PAGES as u64);
}

#[tokio::test]
async fn too_many_items_stop_at_the_item_cap() {
    let fake = Fake::start().await;
    let per_page = 10_000;
    fake.state().list_hook = Some(Arc::new(move |query: &str| {
        let at = marker(query).unwrap_or(0);
        page(at, per_page, Some(&format!("marker={}", at + per_page)))
    }));
    let client = Client::new(password_auth(fake.url("/v3").as_str())).unwrap();
    let err = client.list::<Port>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(&err, NeutronError::Limit { message, .. }
            if message.contains(&format!("more than {}", resources::MAX_ITEMS))),
        "{err:?}"
    );
    assert_eq!(
        client.request_count(),
        (resources::MAX_ITEMS / per_page + 1) as u64
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_hanging_keystone_attempt() {
    // Accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let mut options = password_auth(&format!("http://{addr}/v3"));
    options.timeout = Duration::from_millis(400);
    let client = Client::new(options).unwrap();
    let start = Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.get::<Port>("p1").await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, NeutronError::Transport { .. }), "{err:?}");
        assert!(err.is_transient());
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "20 callers took {took:?}"
    );
    assert_eq!(client.token_request_count(), 1);

    // The failure is remembered only briefly; then Keystone is asked again.
    tokio::time::sleep(AUTH_FAILURE_TTL).await;
    client.get::<Port>("p1").await.unwrap_err();
    assert_eq!(client.token_request_count(), 2);
}

#[tokio::test]
async fn no_message_shows_a_secret_or_userinfo() {
    // Options and the client.
    let options = password_auth("http://alice:pw-in-url@127.0.0.1:1/v3");
    assert_clean(&options, None);
    let client = Client::new(options).unwrap();
    assert_clean(&client, None);

    // Transport: nothing listens on port 1.
    let err = client.endpoint().await.unwrap_err();
    assert!(matches!(err, NeutronError::Transport { .. }), "{err:?}");
    assert_clean(&err, Some(&err));
    // The cached copy other callers get is as clean.
    let again = client.endpoint().await.unwrap_err();
    assert_clean(&again, Some(&again));

    // Api (Keystone refuses) and Decode (Keystone sends garbage).
    let refusing = raw_server(
        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: 0".into(),
        false,
    )
    .await;
    let garbage = raw_server(
        "HTTP/1.1 201 Created\r\nx-subject-token: token-1\r\ncontent-length: 0".into(),
        false,
    )
    .await;
    for (addr, check) in [
        (
            refusing,
            (|e: &NeutronError| matches!(e, NeutronError::Api { status: 401, .. }))
                as fn(&NeutronError) -> bool,
        ),
        (garbage, |e: &NeutronError| {
            matches!(e, NeutronError::Decode { .. })
        }),
    ] {
        let client =
            Client::new(password_auth(&format!("http://alice:pw-in-url@{addr}/v3"))).unwrap();
        let err = client.endpoint().await.unwrap_err();
        assert!(check(&err), "{err:?}");
        assert_clean(&err, Some(&err));
    }
}

#[test]
fn switching_tls_verification_off_is_warned_about() {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut options = password_auth("https://keystone:5000/v3");
        Client::new(options.clone()).unwrap();
        assert!(captured.0.lock().unwrap().is_empty());
        options.insecure = true;
        Client::new(options).unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("TLS certificate verification"),
        "{text}"
    );
}
