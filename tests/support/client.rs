//! A dockerd-like client of the real `kuryr` binary: start it on a socket in a temp
//! dir, and POST plugin calls over keep-alive HTTP/1.1 connections. Shared by the crash
//! test and the socket benchmark.

#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::UnixStream;

/// A running `kuryr serve`; killed (SIGKILL) and reaped when dropped.
pub struct Plugin {
    pub child: Child,
    pub socket: PathBuf,
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Write a config for the embedded backend with state under `dir`, and start the binary.
pub fn start_plugin(binary: &str, dir: &Path) -> Plugin {
    let socket = dir.join("kuryr.sock");
    let config = dir.join("kuryr.conf");
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nbackend = embedded\nstate_dir = {}\nkuryr_uri = unix://{}\nlog_level = warn\nlock_file = {}\n",
            dir.join("state").display(),
            socket.display(),
            dir.join("kuryr.lock").display()
        ),
    )
    .expect("write config");
    // `Plugin::drop` kills and reaps it.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(binary)
        .args(["serve", "--config-file"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("start kuryr");
    for _ in 0..400 {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Plugin { child, socket };
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("kuryr did not start");
}

pub type Sender = http1::SendRequest<Full<Bytes>>;

pub async fn connect(socket: &Path) -> std::io::Result<Sender> {
    let stream = UnixStream::connect(socket).await?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(connection);
    Ok(sender)
}

/// POST a call; `Err` for transport failures (the plugin died), `Ok((status, reply))`
/// otherwise.
pub async fn post(sender: &mut Sender, path: &str, body: &Value) -> Result<(u16, Value), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let request = hyper::Request::post(path)
        .header("Host", "plugin.moby.localhost")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// POST a call that must succeed.
pub async fn post_ok(sender: &mut Sender, path: &str, body: &Value) -> Value {
    match post(sender, path, body).await {
        Ok((200, reply)) => reply,
        other => panic!("{path} {body} -> {other:?}"),
    }
}

/// RequestAddress for any address of `pool_id`; the bare IP of the reply.
pub async fn allocate(sender: &mut Sender, pool_id: &str) -> String {
    let reply = post_ok(
        sender,
        "/IpamDriver.RequestAddress",
        &serde_json::json!({"PoolID": pool_id, "Address": "", "Options": null}),
    )
    .await;
    bare_ip(&reply)
}

/// The address of a RequestAddress reply without its prefix length.
pub fn bare_ip(reply: &Value) -> String {
    let cidr = reply["Address"].as_str().unwrap_or_default();
    cidr.split('/').next().unwrap_or_default().to_owned()
}
