//! The `kuryr` commands that ask the running plugin (`status`, `doctor`): one POST to
//! its own listener, the unix socket or loopback TCP from `kuryr_uri`, with the `Host`
//! header the plugin's guard expects there; and `kuryr gc`'s GETs to dockerd's API.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::Listen;

/// Why the plugin could not be asked: not running (nothing listens), or it answered
/// something other than HTTP.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("nothing answers on {0}: {1}")]
    Unreachable(String, std::io::Error),
    #[error("{0} did not answer within {1:?}")]
    Timeout(String, Duration),
    #[error("talking to {0}: {1}")]
    Http(String, hyper::Error),
}

/// POSTs `body` to `method` (e.g. `/Kuryr.Status`); the status code and body.
pub async fn call(
    listen: &Listen,
    method: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ControlError> {
    request(listen, hyper::Method::POST, method, body, timeout).await
}

/// One request of `method` to `path` on `listen` (also dockerd's API socket, for
/// `kuryr gc`); the status code and body.
pub async fn request(
    listen: &Listen,
    verb: hyper::Method,
    method: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), ControlError> {
    let place = listen.to_string();
    let asked = async {
        match listen {
            Listen::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| ControlError::Unreachable(place.clone(), e))?;
                send(stream, "plugin.moby.localhost", &verb, method, body, &place).await
            }
            Listen::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| ControlError::Unreachable(place.clone(), e))?;
                send(stream, &addr.to_string(), &verb, method, body, &place).await
            }
        }
    };
    tokio::time::timeout(timeout, asked)
        .await
        .map_err(|_| ControlError::Timeout(place.clone(), timeout))?
}

async fn send<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    host: &str,
    verb: &hyper::Method,
    method: &str,
    body: &str,
    place: &str,
) -> Result<(u16, Vec<u8>), ControlError> {
    let http = |e| ControlError::Http(place.to_string(), e);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(verb.clone())
        .uri(method)
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| {
            ControlError::Unreachable(place.to_string(), std::io::Error::other(e.to_string()))
        })?;
    let answer = sender.send_request(request).await.map_err(http)?;
    let status = answer.status().as_u16();
    let bytes = answer.into_body().collect().await.map_err(http)?.to_bytes();
    Ok((status, bytes.to_vec()))
}
