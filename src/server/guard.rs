//! Refuses requests that cannot come from dockerd before any handler sees them.
//!
//! dockerd sends neither `Origin` nor, on TCP, a `Host` other than the address in the
//! spec file. A browser does: every cross-origin POST carries `Origin`, and a DNS
//! rebinding page carries its own host name in `Host`. So on loopback TCP a web page
//! cannot drive the plugin (create bridges with attacker-chosen gateways, spend Neutron
//! credentials). The `Origin` check applies everywhere; the `Host` check only on TCP,
//! where `serve` marks each request with the bound address ([`TcpBound`]). Over the unix
//! socket dockerd sends `plugin.moby.localhost` or, in older releases, the socket path,
//! and no browser can reach a unix socket, so `Host` is not checked there.

use super::response::error_response;
use crate::Error;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{HOST, ORIGIN};
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The address a TCP listener is bound to, put on each of its requests by `serve`.
#[derive(Debug, Clone, Copy)]
pub struct TcpBound(pub SocketAddr);

/// The middleware: 403 `{"Err"}` for a request with `Origin`, or on TCP with a foreign
/// or missing `Host`.
pub(super) async fn guard(request: Request, next: Next) -> Response {
    if request.headers().contains_key(ORIGIN) {
        return forbidden("requests carrying an Origin header (a web page) are refused".into());
    }
    if let Some(TcpBound(bound)) = request.extensions().get::<TcpBound>().copied() {
        let host = request.headers().get(HOST).map(|h| h.to_str());
        match host {
            Some(Ok(host)) if host_allowed(host, bound) => {}
            Some(Ok(host)) => {
                let shown: String = host.chars().take(64).collect();
                return forbidden(format!(
                    "Host {shown:?} is not this plugin's address {bound}"
                ));
            }
            _ => return forbidden("a Host header naming this plugin's address is required".into()),
        }
    }
    next.run(request).await
}

fn forbidden(message: String) -> Response {
    error_response(StatusCode::FORBIDDEN, Error::BadRequest(message))
}

/// `HOST:PORT` with the bound port, and as host the bound address, a loopback name
/// (`127.0.0.1`, `[::1]`, `localhost`), or, when bound to every address (`0.0.0.0`,
/// `::`, an explicit opt-in), any IP literal. Never another name: a DNS rebinding page
/// reaches us only under its own name.
fn host_allowed(host: &str, bound: SocketAddr) -> bool {
    let Some((name, port)) = host.rsplit_once(':') else {
        return false;
    };
    if port.parse::<u16>().ok() != Some(bound.port()) {
        return false;
    }
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let literal = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .map_or_else(
            || name.parse::<Ipv4Addr>().map(IpAddr::V4),
            |n| n.parse::<Ipv6Addr>().map(IpAddr::V6),
        );
    let Ok(ip) = literal else {
        return false;
    };
    ip == bound.ip() || ip.is_loopback() || bound.ip().is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let loopback: SocketAddr = "127.0.0.1:23750".parse().unwrap();
        for ok in [
            "127.0.0.1:23750",
            "localhost:23750",
            "LocalHost:23750",
            "[::1]:23750",
        ] {
            assert!(host_allowed(ok, loopback), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.0.0.1:80",
            "evil.example:23750",
            "localhost.evil.example:23750",
            "10.0.0.1:23750",
            "[::1:23750",
            "::1:23750",
            "",
            "plugin.moby.localhost",
        ] {
            assert!(!host_allowed(bad, loopback), "{bad}");
        }
        let every: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert!(host_allowed("10.0.0.1:1", every));
        assert!(!host_allowed("evil.example:1", every));
        let lan: SocketAddr = "10.0.0.1:1".parse().unwrap();
        assert!(host_allowed("10.0.0.1:1", lan));
        assert!(!host_allowed("10.0.0.2:1", lan));
    }
}
