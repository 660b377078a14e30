//! What a client that is not dockerd can do to a running server: a web page's
//! requests (Origin, a foreign Host) are refused before any handler, a connection that
//! never finishes its headers is closed, a hung call ends at its deadline, and shutdown
//! does not wait for it forever. Real `serve` on real sockets, the embedded backend over
//! a real store and the recording host.

mod support;

use kuryr::hostnet::Recorder;
use kuryr::server::{Limits, Listener, serve_with};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Send one raw HTTP/1.1 request and read the whole reply (the request closes).
async fn raw<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    path: &str,
    headers: &str,
    body: &str,
) -> (u16, Value) {
    let request = format!(
        "POST {path} HTTP/1.1\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let status = reply[9..12].parse().unwrap();
    let body = reply.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

const DEFAULT_POOL: &str =
    r#"{"AddressSpace":"no_address_space","Pool":"","SubPool":"","Options":{},"V6":false}"#;

#[tokio::test]
async fn web_page_requests_get_403_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(Recorder::new());
    let router = support::backend(dir.path(), host.clone()).await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        Listener::Tcp(tcp),
        router,
        async move {
            let _ = stopped.await;
        },
        Limits::default(),
    ));
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", port));

    let refused = [
        format!("Host: 127.0.0.1:{port}\r\nOrigin: http://evil\r\n"),
        format!("Host: evil.example:{port}\r\n"),
        format!("Host: 127.0.0.1:{}\r\n", port.wrapping_add(1)),
        String::new(),
    ];
    for headers in &refused {
        let (status, reply) = raw(
            connect().await.unwrap(),
            "/IpamDriver.RequestPool",
            headers,
            DEFAULT_POOL,
        )
        .await;
        assert_eq!(status, 403, "{headers:?}: {reply}");
        assert!(reply["Err"].is_string(), "{headers:?}: {reply}");
    }
    // No side effect: the first default pool is still free.
    for host_header in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, reply) = raw(
            connect().await.unwrap(),
            "/Plugin.Activate",
            &format!("Host: {host_header}\r\n"),
            "",
        )
        .await;
        assert_eq!(status, 200, "{host_header}: {reply}");
    }
    let (status, reply) = raw(
        connect().await.unwrap(),
        "/IpamDriver.RequestPool",
        &format!("Host: 127.0.0.1:{port}\r\n"),
        DEFAULT_POOL,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["Pool"], "10.200.0.0/24",
        "nothing was allocated before"
    );
    assert!(host.links().is_empty());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn over_the_unix_socket_dockerds_host_passes_and_origin_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let router = support::backend(&dir.path().join("state"), Arc::new(Recorder::new())).await;
    let path = dir.path().join("kuryr.sock");
    let unix = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(serve_with(
        Listener::Unix(unix),
        router,
        std::future::pending(),
        Limits::default(),
    ));
    for host in ["plugin.moby.localhost", "/run/docker/plugins/kuryr.sock"] {
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        let (status, _) = raw(stream, "/Plugin.Activate", &format!("Host: {host}\r\n"), "").await;
        assert_eq!(status, 200, "{host}");
    }
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (status, reply) = raw(
        stream,
        "/Plugin.Activate",
        "Host: plugin.moby.localhost\r\nOrigin: null\r\n",
        "",
    )
    .await;
    assert_eq!(status, 403, "{reply}");
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuryr.sock");
    let unix = tokio::net::UnixListener::bind(&path).unwrap();
    let limits = Limits {
        header_read_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    tokio::spawn(serve_with(
        Listener::Unix(unix),
        axum::Router::new(),
        std::future::pending(),
        limits,
    ));
    let mut stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    stream
        .write_all(b"POST /Plugin.Activate HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the slow connection is still open after 5 s"
    );
}

#[tokio::test]
async fn a_hung_call_ends_at_its_deadline_and_does_not_block_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuryr.sock");
    let unix = tokio::net::UnixListener::bind(&path).unwrap();
    let router = axum::Router::new().route(
        "/NetworkDriver.CreateNetwork",
        axum::routing::post(std::future::pending::<&'static str>),
    );
    let limits = Limits {
        call_deadline: Duration::from_millis(300),
        shutdown_grace: Duration::from_millis(300),
        ..Limits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_with(
        Listener::Unix(unix),
        router,
        async move {
            let _ = stopped.await;
        },
        limits,
    ));
    let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (status, reply) = raw(stream, "/NetworkDriver.CreateNetwork", "", "{}").await;
    assert_eq!(status, 504, "{reply}");
    assert!(
        reply["Err"].as_str().unwrap().contains("deadline"),
        "{reply}"
    );

    // A call still hanging at shutdown delays it by the grace period only.
    let mut hung = tokio::net::UnixStream::connect(&path).await.unwrap();
    hung.write_all(
        b"POST /NetworkDriver.CreateNetwork HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("shutdown finished")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// D1/D2: when the commit of a delete fails, the call fails and the store reports
/// itself failed, which `daemon::run` turns into a non-zero exit (a restart reloads
/// the record from disk instead of acknowledging further calls on top of it).
#[tokio::test]
async fn a_failed_delete_commit_fails_the_call_and_stops_the_store() {
    use kuryr::store::{Faults, Store};
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let (store, snapshot) = Store::open_with_faults(dir.path(), faults.clone()).unwrap();
    let embedded = kuryr::embedded::Embedded::start(
        support::settings(),
        store.clone(),
        snapshot,
        Arc::new(Recorder::new()),
    )
    .await;
    let router = kuryr::server::router(Arc::new(embedded));
    let pool = support::ok(
        &router,
        "/IpamDriver.RequestPool",
        serde_json::from_str(DEFAULT_POOL).unwrap(),
    )
    .await;
    faults.fail_commits();
    let (status, reply) = support::call(
        &router,
        "/IpamDriver.ReleasePool",
        serde_json::json!({"PoolID": pool["PoolID"]}),
    )
    .await;
    assert_ne!(status, 200, "{reply}");
    let reason = tokio::time::timeout(Duration::from_secs(5), store.failed())
        .await
        .expect("the store reports the failure");
    assert!(!reason.is_empty());
}
