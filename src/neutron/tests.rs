//! Client tests against the in-process fake Keystone + Neutron (`fake.rs`), plus the
//! sans-IO auth rules (`config` parses the options). Each test pins one behaviour the
//! driver relies on.

use serde_json::json;

use super::fake::{Fake, Script};
use super::*;

pub(super) fn password_options(fake: &Fake) -> ClientOptions {
    ClientOptions::new(AuthMethod::Password {
        auth_url: fake.url("/v3"),
        user: UserRef::Name {
            name: "kuryr".into(),
            domain: NameOrId::Name("Default".into()),
        },
        password: "s3cret-pw".into(),
        project: Some(ProjectScope::Name {
            name: "service".into(),
            domain: NameOrId::Name("Default".into()),
        }),
    })
}

fn seed_ports(fake: &Fake, n: usize) {
    let mut st = fake.state();
    let table = st.items.entry("ports".into()).or_default();
    for i in 0..n {
        let id = format!("p{i:02}");
        table.insert(
            id.clone(),
            json!({"id": id, "network_id": "net", "tags": ["a", "b"], "binding:host_id": null}),
        );
    }
}

#[tokio::test]
async fn list_follows_three_pages() {
    let fake = Fake::start().await;
    seed_ports(&fake, 7);
    fake.state().page_size = Some(3);
    let client = Client::new(password_options(&fake)).unwrap();
    let ports: Vec<Port> = client
        .list(&Query::new().eq("network_id", "net"))
        .await
        .unwrap();
    assert_eq!(
        ports.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["p00", "p01", "p02", "p03", "p04", "p05", "p06"]
    );
    assert_eq!(client.request_count(), 3);
    assert_eq!(fake.state().seen[1].path, "v2.0/ports?limit=3&marker=p02");
}

#[tokio::test]
async fn conflict_maps_to_api_error_with_request_id() {
    let fake = Fake::start().await;
    fake.state().scripts.push(Script {
        method: "POST",
        path: "v2.0/ports".into(),
        status: 409,
        body: json!({"NeutronError": {"type": "IpAddressAlreadyAllocated", "message": "IP 10.0.0.5 is in use"}}),
        request_id: Some("req-1234"),
    });
    let client = Client::new(password_options(&fake)).unwrap();
    let body = PortCreate {
        network_id: "net".into(),
        ..Default::default()
    };
    let err = client.create::<Port, _>(&body).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    let NeutronError::Api {
        message,
        request_id,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(message, "IP 10.0.0.5 is in use");
    assert_eq!(request_id.as_deref(), Some("req-1234"));
    let text = err.to_string();
    assert!(
        text.contains("409") && text.contains("IP 10.0.0.5 is in use") && text.contains("req-1234"),
        "{text}"
    );
}

#[tokio::test]
async fn delete_of_missing_is_ok_and_get_of_missing_is_404() {
    let fake = Fake::start().await;
    seed_ports(&fake, 1);
    let client = Client::new(password_options(&fake)).unwrap();
    client.delete(Kind::Ports, "p00").await.unwrap();
    client.delete(Kind::Ports, "p00").await.unwrap();
    let err = client.get::<Port>("p00").await.unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(fake.state().items["ports"].is_empty());
}

#[tokio::test]
async fn expired_token_is_renewed_once_and_the_request_retried() {
    let fake = Fake::start().await;
    seed_ports(&fake, 1);
    fake.state().expire_once.insert("token-1".into());
    let client = Client::new(password_options(&fake)).unwrap();
    let port: Port = client.get("p00").await.unwrap();
    assert_eq!(port.id, "p00");
    assert_eq!(fake.state().tokens_issued, 2);
    assert_eq!(client.token_request_count(), 2);
    let tokens: Vec<_> = fake
        .state()
        .seen
        .iter()
        .map(|s| s.token.clone().unwrap())
        .collect();
    assert_eq!(tokens, ["token-1", "token-2"]);
    // The renewed token is cached.
    let _: Port = client.get("p00").await.unwrap();
    assert_eq!(fake.state().tokens_issued, 2);
}

#[tokio::test]
async fn a_second_401_is_returned_not_looped() {
    let fake = Fake::start().await;
    fake.state().scripts.push(Script {
        method: "GET",
        path: "v2.0/ports/x".into(),
        status: 401,
        body: json!({}),
        request_id: None,
    });
    let client = Client::new(password_options(&fake)).unwrap();
    let err = client.get::<Port>("x").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(fake.state().tokens_issued, 2);
}

#[tokio::test]
async fn catalog_selects_interface_and_region() {
    let fake = Fake::start().await;
    let mut options = password_options(&fake);
    options.interface = Interface::Internal;
    options.region = Some("RegionTwo".into());
    let client = Client::new(options).unwrap();
    assert!(!client.has_extension("tag").await.unwrap());
    assert_eq!(fake.state().seen[0].prefix, "/r2-internal");
    let mut options = password_options(&fake);
    options.interface = Interface::Admin;
    let admin = Client::new(options).unwrap();
    assert_eq!(admin.endpoint().await.unwrap().path(), "/admin/");
    let mut options = password_options(&fake);
    options.region = Some("Nowhere".into());
    let err = Client::new(options).unwrap().endpoint().await.unwrap_err();
    assert!(matches!(err, NeutronError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn auth_none_sends_no_token() {
    let fake = Fake::start().await;
    fake.state().no_auth = true;
    fake.state().extensions.insert("subnet_allocation".into());
    let client = Client::new(ClientOptions::new(AuthMethod::None {
        endpoint: fake.url("/"),
    }))
    .unwrap();
    assert!(client.has_extension("subnet_allocation").await.unwrap());
    assert_eq!(fake.state().tokens_issued, 0);
    assert_eq!(fake.state().seen[0].token, None);
}

#[tokio::test]
async fn bad_password_is_an_api_error_without_the_password() {
    let fake = Fake::start().await;
    let mut options = password_options(&fake);
    if let AuthMethod::Password { password, .. } = &mut options.auth {
        *password = "wrong".into();
    }
    let err = Client::new(options)
        .unwrap()
        .get::<Port>("x")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(!format!("{err} {err:?}").contains("wrong"));
}

#[tokio::test]
async fn create_update_tags_round_trip() {
    let fake = Fake::start().await;
    fake.state()
        .insert("networks", serde_json::json!({"id": "net"}));
    let client = Client::new(password_options(&fake)).unwrap();
    let body = PortCreate {
        network_id: "net".into(),
        name: Some("e1-port".into()),
        binding_host_id: Some("h1".into()),
        ..Default::default()
    };
    let port: Port = client.create(&body).await.unwrap();
    assert_eq!(port.binding_host_id, "h1");
    let port: Port = client
        .update(
            &port.id,
            &PortUpdate {
                device_owner: Some("compute:kuryr".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(port.device_owner, "compute:kuryr");
    client
        .add_tag(Kind::Ports, &port.id, "kuryr.net.uuid.lh:ab")
        .await
        .unwrap();
    client
        .set_tags(Kind::Ports, &port.id, &["x".into(), "y".into()])
        .await
        .unwrap();
    client.remove_tag(Kind::Ports, &port.id, "x").await.unwrap();
    let port: Port = client.get(&port.id).await.unwrap();
    assert_eq!(port.tags, ["y"]);
    let seen: Vec<_> = fake
        .state()
        .seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    assert!(
        seen.contains(&format!(
            "PUT v2.0/ports/{}/tags/kuryr.net.uuid.lh:ab",
            port.id
        )),
        "{seen:?}"
    );
    let tagged: Vec<Port> = client.list(&Query::new().tags(&["y"])).await.unwrap();
    assert_eq!(tagged.len(), 1);
}

#[test]
fn tokens_url_accepts_both_spellings() {
    for raw in [
        "http://ks:5000",
        "http://ks:5000/",
        "http://ks:5000/v3",
        "http://ks:5000/v3/",
    ] {
        assert_eq!(
            auth::tokens_url(&url::Url::parse(raw).unwrap()).as_str(),
            "http://ks:5000/v3/auth/tokens"
        );
    }
    assert_eq!(
        auth::tokens_url(&url::Url::parse("https://h/identity/v3").unwrap()).as_str(),
        "https://h/identity/v3/auth/tokens"
    );
}

#[test]
fn token_bodies_per_method() {
    let url = url::Url::parse("http://ks/v3").unwrap();
    let app = AuthMethod::ApplicationCredential {
        auth_url: url.clone(),
        credential: AppCredentialRef::Id("ac".into()),
        secret: "sh".into(),
    };
    assert_eq!(
        app.token_body().unwrap(),
        json!({"auth": {"identity": {"methods": ["application_credential"], "application_credential": {"id": "ac", "secret": "sh"}}}})
    );
    let token = AuthMethod::Token {
        auth_url: url,
        token: "tk".into(),
        project: Some(ProjectScope::Id("p".into())),
    };
    assert_eq!(
        token.token_body().unwrap(),
        json!({"auth": {"identity": {"methods": ["token"], "token": {"id": "tk"}}, "scope": {"project": {"id": "p"}}}})
    );
}

#[tokio::test]
async fn concurrent_calls_share_one_token() {
    let fake = Fake::start().await;
    seed_ports(&fake, 1);
    let client = Client::new(password_options(&fake)).unwrap();
    let calls = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get::<Port>("p00").await })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(fake.state().tokens_issued, 1);
    assert_eq!(client.request_count(), 8);
}

#[test]
fn unreadable_cafile_is_a_config_error() {
    let mut options = ClientOptions::new(AuthMethod::None {
        endpoint: url::Url::parse("http://n/").unwrap(),
    });
    options.cafile = Some("/nonexistent/ca.pem".into());
    assert!(matches!(Client::new(options), Err(NeutronError::Config(_))));
}

#[test]
fn only_failures_that_may_pass_are_transient() {
    let api = |status| NeutronError::Api {
        method: "DELETE".into(),
        url: "u".into(),
        status,
        message: String::new(),
        request_id: None,
    };
    for status in [500, 503, 408, 429] {
        assert!(api(status).is_transient(), "{status}");
    }
    for status in [400, 403, 409] {
        assert!(!api(status).is_transient(), "{status}");
    }
    assert!(NeutronError::Auth("keystone down".into()).is_transient());
    assert!(!NeutronError::Config("no endpoint".into()).is_transient());
}
