//! What `Client::new` needs, as typed values: `config` builds them from `[neutron]`,
//! `clouds.yaml` and `OS_*` (this module parses no option), and tests build them
//! directly. [`ClientOptions::http_client`] is the one place the HTTP client is
//! made, so a `cafile` that `config` accepts is one the client can use.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::{AuthMethod, Interface};
use super::error::NeutronError;

/// Everything `Client::new` needs. `Debug` shows no secret (see [`AuthMethod`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    pub auth: AuthMethod,
    /// PEM bundle trusted in addition to the built-in roots.
    pub cafile: Option<PathBuf>,
    /// Skip TLS verification (`insecure = true`).
    pub insecure: bool,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
    pub region: Option<String>,
    pub interface: Interface,
}

impl ClientOptions {
    /// Options with defaults around `auth`.
    pub fn new(auth: AuthMethod) -> ClientOptions {
        ClientOptions {
            auth,
            cafile: None,
            insecure: false,
            timeout: Duration::from_secs(30),
            region: None,
            interface: Interface::Public,
        }
    }

    /// The HTTP client these options make: the `cafile` bundle read now and trusted
    /// besides the built-in roots, the timeouts, and no redirects. Nothing is sent.
    pub fn http_client(&self) -> Result<reqwest::Client, NeutronError> {
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .danger_accept_invalid_certs(self.insecure)
            // A redirect would carry X-Auth-Token (reqwest strips only
            // Authorization and Cookie across hosts) and, on a 307, the Keystone
            // body with the password to another host. See `check_redirect`.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("kuryr/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &self.cafile {
            let error = |e: &dyn std::fmt::Display| {
                NeutronError::Config(format!("cafile {}: {e}", path.display()))
            };
            let pem = std::fs::read(path).map_err(|e| error(&e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| error(&e))?;
            if certs.is_empty() {
                return Err(error(&"no PEM certificate in it"));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder
            .build()
            .map_err(|e| NeutronError::Config(format!("HTTP client: {e}")))
    }
}
