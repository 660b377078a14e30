//! `[DEFAULT] kuryr_uri`: where the plugin listens. kuryr-libnetwork only
//! ever took `urlparse(uri).hostname/.port` and ignored the scheme; we accept
//! its `http://HOST:PORT` form, Docker's `tcp://HOST:PORT`, and a unix socket,
//! which is what Docker prefers for local plugins.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The default listener: Docker discovers a socket in this directory without
/// a spec file.
pub const DEFAULT_KURYR_URI: &str = "unix:///run/docker/plugins/kuryr.sock";

/// The port of kuryr-libnetwork's `kuryr.spec`. Python fell back to Flask's
/// 5000 when the URI had no port, which nobody relied on.
pub const DEFAULT_HTTP_PORT: u16 = 23750;

/// Where the plugin API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Listen {
    /// Whether another host could reach the listener. The plugin API has no
    /// authentication and whoever reaches it controls host bridges (and spends
    /// kuryr's Neutron credentials), so only a unix socket or loopback TCP is
    /// safe without an explicit opt-in.
    pub fn is_remote(&self) -> bool {
        match self {
            Listen::Unix(_) => false,
            Listen::Tcp(address) => !is_loopback(address.ip()),
        }
    }
}

/// As `kuryr_uri` would write it: `unix:///PATH` or `http://HOST:PORT`.
impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(path) => write!(f, "unix://{}", path.display()),
            Listen::Tcp(address) => write!(f, "http://{address}"),
        }
    }
}

/// 127.0.0.0/8, `::1`, and IPv4-mapped loopback (`::ffff:127.0.0.1`), which a
/// dual-stack socket treats as 127.0.0.1.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

pub fn parse_listen(uri: &str) -> Result<Listen, String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err("expected unix:///PATH, http://HOST:PORT or tcp://HOST:PORT".to_owned());
    };
    // urlparse lower-cases the scheme, so `HTTP://` worked before.
    match scheme.to_ascii_lowercase().as_str() {
        "unix" => parse_unix(rest),
        "http" => parse_tcp(rest, Some(DEFAULT_HTTP_PORT)),
        "tcp" => parse_tcp(rest, None),
        "https" => Err("TLS on the plugin listener is not supported; use a unix socket".to_owned()),
        _ => Err(format!(
            "unsupported scheme {scheme:?}; expected unix, http or tcp"
        )),
    }
}

/// `[DEFAULT] metrics_listen`: `HOST:PORT` (or `http://HOST:PORT`), where
/// `/metrics` and `/healthz` are served alone; empty is no such listener.
pub fn parse_metrics_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let uri = if value.contains("://") {
        value.to_owned()
    } else {
        format!("tcp://{value}")
    };
    match parse_listen(&uri)? {
        Listen::Tcp(address) => Ok(Some(address)),
        Listen::Unix(_) => Err("expected HOST:PORT: a scraper cannot reach a unix socket".into()),
    }
}

fn parse_unix(path: &str) -> Result<Listen, String> {
    // `unix://run/x.sock` would make `run` the URL host; reject rather than
    // guess a relative path against whatever the working directory is.
    if !path.starts_with('/') {
        return Err(
            "the socket path must be absolute: unix:///run/docker/plugins/kuryr.sock".to_owned(),
        );
    }
    if path.ends_with('/') {
        return Err("the socket path names a directory".to_owned());
    }
    Ok(Listen::Unix(PathBuf::from(path)))
}

fn parse_tcp(rest: &str, default_port: Option<u16>) -> Result<Listen, String> {
    // Python ignored any path; `/` is harmless, anything longer suggests the
    // operator expected a URL prefix we would not serve under.
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#', '@']) {
        return Err("expected only HOST:PORT after the scheme".to_owned());
    }
    let (host, port) = split_host_port(authority)?;
    let ip = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "" => return Err("missing host".to_owned()),
        _ => host
            .parse::<IpAddr>()
            .map_err(|_| format!("host {host:?} must be an IP address or localhost"))?,
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("port {p:?} must be 1 to 65535")),
            Ok(port) => port,
        },
        None => default_port.ok_or_else(|| "missing :PORT".to_owned())?,
    };
    Ok(Listen::Tcp(SocketAddr::new(ip, port)))
}

/// `HOST[:PORT]`, with IPv6 hosts in brackets.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in host".to_owned())?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err("expected :PORT after ']'".to_owned()),
            },
        };
    }
    match authority.split_once(':') {
        Some((_, port)) if port.contains(':') => {
            Err("IPv6 hosts must be in brackets: http://[::1]:23750".to_owned())
        }
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> Listen {
        Listen::Tcp(s.parse().unwrap())
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            (
                DEFAULT_KURYR_URI,
                Listen::Unix("/run/docker/plugins/kuryr.sock".into()),
            ),
            ("http://127.0.0.1:23750", tcp("127.0.0.1:23750")),
            ("http://127.0.0.1:23750/", tcp("127.0.0.1:23750")),
            ("HTTP://127.0.0.1:1", tcp("127.0.0.1:1")),
            ("http://127.0.0.1", tcp("127.0.0.1:23750")),
            ("http://localhost:8080", tcp("127.0.0.1:8080")),
            ("tcp://0.0.0.0:2376", tcp("0.0.0.0:2376")),
            ("http://[::1]:23750", tcp("[::1]:23750")),
            ("http://[fe80::1]", tcp("[fe80::1]:23750")),
        ];
        for (uri, want) in cases {
            assert_eq!(parse_listen(uri), Ok(want), "{uri}");
        }
    }

    #[test]
    fn rejected_forms() {
        let cases = [
            ("https://127.0.0.1:23750", "TLS"),
            ("unix://run/kuryr.sock", "absolute"),
            ("unix:///run/", "directory"),
            ("http://127.0.0.1:0", "1 to 65535"),
            ("http://127.0.0.1:65536", "1 to 65535"),
            ("http://127.0.0.1:port", "1 to 65535"),
            ("tcp://127.0.0.1", "missing :PORT"),
            ("http://example.com:23750", "IP address or localhost"),
            ("http://:23750", "missing host"),
            ("http://::1:23750", "brackets"),
            ("http://[::1", "unclosed"),
            ("http://[::1]x", "after ']'"),
            ("http://127.0.0.1:23750/kuryr", "only HOST:PORT"),
            ("http://user@127.0.0.1:1", "only HOST:PORT"),
            ("127.0.0.1:23750", "expected unix"),
            ("/run/kuryr.sock", "expected unix"),
            ("ftp://127.0.0.1:21", "unsupported scheme"),
            ("", "expected unix"),
        ];
        for (uri, needle) in cases {
            let err = parse_listen(uri).unwrap_err();
            assert!(err.contains(needle), "{uri}: {err}");
        }
    }

    #[test]
    fn metrics_listeners() {
        let address = |s: &str| Some(s.parse().unwrap());
        for (value, want) in [
            ("127.0.0.1:9109", address("127.0.0.1:9109")),
            ("localhost:9109", address("127.0.0.1:9109")),
            ("[::1]:9109", address("[::1]:9109")),
            ("http://127.0.0.1:9109", address("127.0.0.1:9109")),
            ("0.0.0.0:9109", address("0.0.0.0:9109")),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(parse_metrics_listen(value), Ok(want), "{value:?}");
        }
        for (value, needle) in [
            ("127.0.0.1", "missing :PORT"),
            ("unix:///run/kuryr-metrics.sock", "unix socket"),
            ("https://127.0.0.1:9109", "TLS"),
            ("metrics.example:9109", "IP address or localhost"),
        ] {
            let error = parse_metrics_listen(value).unwrap_err();
            assert!(error.contains(needle), "{value}: {error}");
        }
    }

    #[test]
    fn remote_listeners() {
        let remote = [
            "tcp://0.0.0.0:1",
            "http://[::]:1",
            "http://10.0.0.1:1",
            "http://[fe80::1]:1",
            "http://[::ffff:10.0.0.1]:1",
        ];
        for uri in remote {
            assert!(parse_listen(uri).unwrap().is_remote(), "{uri}");
        }
        let local = [
            DEFAULT_KURYR_URI,
            "http://127.0.0.1:23750",
            "http://127.1.2.3:1",
            "http://localhost:1",
            "http://[::1]:1",
            "http://[::ffff:127.0.0.1]:1",
        ];
        for uri in local {
            assert!(!parse_listen(uri).unwrap().is_remote(), "{uri}");
        }
    }
}
