//! A hook for whoever watches the client's traffic (the daemon's metrics): every
//! Neutron request, and every Keystone token request, is reported once it is over, as
//! an [`Exchange`]. The client does
//! not know what the observer does with it, and the observer gets no URL, id, body or
//! token: only the method, the collection, the status and the time taken.

use std::time::Duration;

/// Which service a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Neutron,
    /// Keystone: token requests only (the client asks it nothing else).
    Keystone,
}

/// One request, over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange<'a> {
    pub service: Service,
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'a str,
    /// The collection asked about (`ports`, `networks`, `extensions`): the first path
    /// segment after the API version, never an id, so the set of values is small.
    /// Keystone's is always `tokens`.
    pub resource: &'a str,
    /// The HTTP status; `None` when no answer came (refused, reset, timed out).
    pub status: Option<u16>,
    /// From sending the request to the end of its answer (or its failure).
    pub elapsed: Duration,
}

/// Told about every request the client sends, to Neutron or to Keystone.
/// Called on the request's task: it must be quick and must not block.
pub trait Observer: Send + Sync + 'static {
    fn exchange(&self, exchange: &Exchange<'_>);
}

/// The collection a request path (`v2.0/ports/ID?x=y`) is about: `ports`.
pub(crate) fn resource_of(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut segments = path.split('/').filter(|segment| !segment.is_empty());
    let first = segments.next().unwrap_or_default();
    let is_version = first.strip_prefix('v').is_some_and(|rest| {
        rest.starts_with(|c: char| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    if is_version {
        segments.next().unwrap_or_default()
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::{Fake, Script};
    use super::super::{AuthMethod, Client, ClientOptions, Port, PortCreate};
    use super::{Exchange, Observer, Service, resource_of};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Every Neutron exchange as `(method, resource, status)`, and Keystone's statuses.
    #[derive(Default)]
    struct Seen(
        Mutex<Vec<(String, String, Option<u16>)>>,
        Mutex<Vec<Option<u16>>>,
    );

    impl Observer for Seen {
        fn exchange(&self, exchange: &Exchange<'_>) {
            if exchange.service == Service::Keystone {
                assert_eq!((exchange.method, exchange.resource), ("POST", "tokens"));
                self.1.lock().unwrap().push(exchange.status);
                return;
            }
            self.0.lock().unwrap().push((
                exchange.method.to_owned(),
                exchange.resource.to_owned(),
                exchange.status,
            ));
        }
    }

    fn observed(endpoint: url::Url) -> (Client, Arc<Seen>) {
        let seen = Arc::new(Seen::default());
        let options = ClientOptions::new(AuthMethod::None { endpoint });
        (Client::with_observer(options, seen.clone()).unwrap(), seen)
    }

    #[tokio::test]
    async fn every_neutron_request_is_observed_and_a_success_remembered() {
        let fake = Fake::start().await;
        fake.state().no_auth = true;
        fake.state().scripts.push(Script {
            method: "POST",
            path: "v2.0/ports".into(),
            status: 409,
            body: serde_json::json!({"NeutronError": {"message": "in use"}}),
            request_id: None,
        });
        let (client, seen) = observed(fake.url("/"));
        let fresh = Duration::from_secs(60);
        assert!(!client.succeeded_within(fresh), "nothing asked yet");
        client
            .create::<Port, _>(&PortCreate::default())
            .await
            .unwrap_err();
        assert!(!client.succeeded_within(fresh), "a 409 is no success");
        client.list::<Port>(&Default::default()).await.unwrap();
        assert!(client.succeeded_within(fresh));
        assert!(!client.succeeded_within(Duration::ZERO));
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                ("POST".to_owned(), "ports".to_owned(), Some(409)),
                ("GET".to_owned(), "ports".to_owned(), Some(200)),
            ]
        );

        // No answer at all: no status.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let (client, seen) = observed(format!("http://{address}/").parse().unwrap());
        client.list::<Port>(&Default::default()).await.unwrap_err();
        assert_eq!(
            *seen.0.lock().unwrap(),
            [("GET".to_owned(), "ports".to_owned(), None)]
        );
        assert!(!client.succeeded_within(fresh));
    }

    #[tokio::test]
    async fn keystone_token_requests_are_observed_apart() {
        let fake = Fake::start().await;
        fake.state().expire_once.insert("token-1".into());
        let seen = Arc::new(Seen::default());
        let options = super::super::tests::password_options(&fake);
        let client = Client::with_observer(options, seen.clone()).unwrap();
        client.list::<Port>(&Default::default()).await.unwrap();
        // The first token was refused by Neutron (401), so a second was issued.
        assert_eq!(*seen.1.lock().unwrap(), [Some(201), Some(201)]);
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                ("GET".to_owned(), "ports".to_owned(), Some(401)),
                ("GET".to_owned(), "ports".to_owned(), Some(200)),
            ]
        );
    }

    #[test]
    fn resources_never_carry_ids_or_queries() {
        for (path, resource) in [
            ("v2.0/ports?device_owner=compute%3Akuryr", "ports"),
            ("v2.0/ports/5e1a0f0e-5b2d-4a7e-9a53-0d1e2f3a4b5c", "ports"),
            ("v2.0/networks/abc/tags/kuryr.net.uuid.uh:1234", "networks"),
            ("v2.0/security-group-rules", "security-group-rules"),
            ("v2.0/trunks/abc/add_subports", "trunks"),
            ("v2.0/extensions", "extensions"),
            ("v2.0", ""),
            ("extensions", "extensions"),
        ] {
            assert_eq!(resource_of(path), resource, "{path}");
        }
    }
}
