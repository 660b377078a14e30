//! An in-memory [`HostNet`] for testing the backend without root: it records
//! every call, keeps a model of which links exist (bridges, veth pairs and
//! links seeded by the test) that follows the same idempotency rules as the
//! kernel-backed [`Netlink`](super::Netlink), and can be told to fail the next
//! call of a given kind. It models names only, not addresses, MACs or MTUs:
//! tests that care about those inspect the recorded specs. The recording and
//! failure injection are the generic [`Fake`], which the binding's fake of
//! nested mode's links reuses with calls and a link model of its own.

use std::collections::BTreeMap;
use std::num::NonZeroI32;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use rtnetlink::packet_core::ErrorMessage;

use super::{BridgeSpec, HostNet, HostNetError, NetworkRules, VethSpec, validate_ifname};

/// One call made on the [`Recorder`], with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    EnsureBridge(BridgeSpec),
    DeleteLink(String),
    CreateVeth(VethSpec),
    LinksWithPrefix(String),
    LinkExists(String),
    Firewall(Vec<NetworkRules>),
    RemoveAddresses(String, Vec<ipnet::IpNet>),
}

/// The method a [`Call`] is for, used to pick which call to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallKind {
    EnsureBridge,
    DeleteLink,
    CreateVeth,
    LinksWithPrefix,
    LinkExists,
    Firewall,
    RemoveAddresses,
}

impl Call {
    pub fn kind(&self) -> CallKind {
        match self {
            Call::EnsureBridge(_) => CallKind::EnsureBridge,
            Call::DeleteLink(_) => CallKind::DeleteLink,
            Call::CreateVeth(_) => CallKind::CreateVeth,
            Call::LinksWithPrefix(_) => CallKind::LinksWithPrefix,
            Call::LinkExists(_) => CallKind::LinkExists,
            Call::Firewall(_) => CallKind::Firewall,
            Call::RemoveAddresses(..) => CallKind::RemoveAddresses,
        }
    }
}

/// What the [`Recorder`]'s model knows about an existing link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Bridge,
    Veth {
        peer: String,
    },
    /// Seeded by a test; deletable but not usable as a bridge.
    Other,
}

/// A call an in-memory [`Fake`] records, with the kind `fail_next` picks it by.
pub trait Recorded: Clone {
    type Kind: Ord + Copy + std::fmt::Debug;
    fn kind(&self) -> Self::Kind;
}

impl Recorded for Call {
    type Kind = CallKind;
    fn kind(&self) -> CallKind {
        Call::kind(self)
    }
}

/// What a [`Fake`] holds: every call so far, the failures it was asked to
/// inject, and its model of the links that exist, by name.
#[derive(Debug)]
pub struct FakeState<C: Recorded, L> {
    calls: Vec<C>,
    /// Pending injected failures, consumed one per call of that kind.
    failures: BTreeMap<C::Kind, Vec<Errno>>,
    pub(crate) links: BTreeMap<String, L>,
}

/// An in-memory fake of a netlink layer, recording calls of type `C` over
/// links modelled as `L`: [`Recorder`] fakes [`HostNet`], the binding's
/// `RecordingLinks` its `NestedLinks`.
#[derive(Debug)]
pub struct Fake<C: Recorded, L> {
    state: Mutex<FakeState<C, L>>,
}

impl<C: Recorded, L> Default for Fake<C, L> {
    fn default() -> Self {
        let state = FakeState {
            calls: Vec::new(),
            failures: BTreeMap::new(),
            links: BTreeMap::new(),
        };
        Fake {
            state: Mutex::new(state),
        }
    }
}

impl<C: Recorded, L: Clone> Fake<C, L> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next call of `kind` fail with EIO as a kernel would, without
    /// changing any link. Queued failures are consumed in order.
    pub fn fail_next(&self, kind: C::Kind) {
        self.fail_next_with(kind, Errno::EIO);
    }

    /// Like [`fail_next`](Self::fail_next) with a chosen errno.
    pub fn fail_next_with(&self, kind: C::Kind, errno: Errno) {
        self.lock().failures.entry(kind).or_default().push(errno);
    }

    /// Every call so far, oldest first (failed ones included).
    pub fn calls(&self) -> Vec<C> {
        self.lock().calls.clone()
    }

    /// Returns the calls so far and forgets them.
    pub fn take_calls(&self) -> Vec<C> {
        std::mem::take(&mut self.lock().calls)
    }

    /// Names of the links that currently exist, sorted.
    pub fn links(&self) -> Vec<String> {
        self.lock().links.keys().cloned().collect()
    }

    pub fn has_link(&self, name: &str) -> bool {
        self.lock().links.contains_key(name)
    }

    /// What the model knows about the link called `name`.
    pub fn link(&self, name: &str) -> Option<L> {
        self.lock().links.get(name).cloned()
    }

    /// A panicking test thread must not turn every later assertion into a
    /// second, confusing panic: the state is plain data, so use it anyway.
    pub(crate) fn lock(&self) -> MutexGuard<'_, FakeState<C, L>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `call` and returns the failure injected for it, if any, as
    /// the kernel would refuse `op` on `ifname`.
    pub(crate) fn begin(
        &self,
        call: C,
        op: &'static str,
        ifname: &str,
    ) -> (MutexGuard<'_, FakeState<C, L>>, Result<(), HostNetError>) {
        let mut state = self.lock();
        let kind = call.kind();
        state.calls.push(call);
        let queue = state.failures.get_mut(&kind).filter(|q| !q.is_empty());
        let result = match queue.map(|q| q.remove(0)) {
            Some(errno) => Err(netlink_error(op, ifname, errno)),
            None => Ok(()),
        };
        (state, result)
    }
}

/// The [`HostNet`] fake.
pub type Recorder = Fake<Call, Link>;

impl Recorder {
    /// A recorder that already "has" these links (of no particular kind), as
    /// left behind by an earlier run, for reconciliation tests.
    pub fn with_links<I, S>(names: I) -> Recorder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let recorder = Recorder::new();
        for name in names {
            recorder.add_link(name);
        }
        recorder
    }

    /// Makes a bridge exist that someone else made (such as `docker0`).
    pub fn add_bridge(&self, name: impl Into<String>) {
        self.lock().links.insert(name.into(), Link::Bridge);
    }

    /// Makes a link of no particular kind exist.
    pub fn add_link(&self, name: impl Into<String>) {
        self.lock().links.insert(name.into(), Link::Other);
    }
}

/// The same error shape [`Netlink`](super::Netlink) produces for a kernel
/// NACK, so callers' errno handling is exercised too (also by the binding's
/// fakes).
pub fn netlink_error(op: &'static str, ifname: &str, errno: Errno) -> HostNetError {
    let mut message = ErrorMessage::default();
    message.code = NonZeroI32::new(-(errno as i32));
    HostNetError::Netlink {
        op,
        ifname: ifname.to_owned(),
        source: rtnetlink::Error::NetlinkError(message),
    }
}

#[async_trait::async_trait]
impl HostNet for Recorder {
    async fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<(), HostNetError> {
        let (mut state, injected) = self.begin(
            Call::EnsureBridge(spec.clone()),
            "create bridge",
            &spec.name,
        );
        injected?;
        validate_ifname(&spec.name)?;
        match state.links.get(&spec.name) {
            None if spec.foreign => Err(HostNetError::BridgeMissing(spec.name.clone())),
            None => {
                state.links.insert(spec.name.clone(), Link::Bridge);
                Ok(())
            }
            Some(Link::Bridge) => Ok(()),
            Some(other) => Err(wrong_kind(&spec.name, "bridge", other)),
        }
    }

    async fn remove_addresses(
        &self,
        name: &str,
        addresses: &[ipnet::IpNet],
    ) -> Result<(), HostNetError> {
        let (_state, injected) = self.begin(
            Call::RemoveAddresses(name.to_owned(), addresses.to_vec()),
            "remove addresses",
            name,
        );
        injected?;
        validate_ifname(name)
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostNetError> {
        let (mut state, injected) =
            self.begin(Call::DeleteLink(name.to_owned()), "delete link", name);
        injected?;
        validate_ifname(name)?;
        // As in the kernel: a veth takes its peer with it; a bridge's ports
        // are released, not deleted; a missing link is fine.
        if let Some(Link::Veth { peer }) = state.links.remove(name) {
            state.links.remove(&peer);
        }
        Ok(())
    }

    async fn create_veth(&self, spec: &VethSpec) -> Result<(), HostNetError> {
        let (mut state, injected) =
            self.begin(Call::CreateVeth(spec.clone()), "create veth", &spec.host);
        // An injected failure models a failure the kernel rolled back:
        // nothing is left behind.
        injected?;
        for name in [&spec.host, &spec.container, &spec.bridge] {
            validate_ifname(name)?;
        }
        match state.links.get(&spec.bridge) {
            None => return Err(HostNetError::BridgeMissing(spec.bridge.clone())),
            Some(Link::Bridge) => {}
            Some(other) => return Err(wrong_kind(&spec.bridge, "bridge", other)),
        }
        match state.links.get(&spec.host) {
            Some(Link::Veth { .. }) => return Ok(()),
            Some(other) => return Err(wrong_kind(&spec.host, "veth", other)),
            None => {}
        }
        if state.links.contains_key(&spec.container) {
            return Err(netlink_error("create veth", &spec.container, Errno::EEXIST));
        }
        let host = Link::Veth {
            peer: spec.container.clone(),
        };
        let container = Link::Veth {
            peer: spec.host.clone(),
        };
        state.links.insert(spec.host.clone(), host);
        state.links.insert(spec.container.clone(), container);
        Ok(())
    }

    async fn links_with_prefix(&self, prefix: &str) -> Result<Vec<String>, HostNetError> {
        let (state, injected) = self.begin(
            Call::LinksWithPrefix(prefix.to_owned()),
            "list links",
            prefix,
        );
        injected?;
        Ok(state
            .links
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn link_exists(&self, name: &str) -> Result<bool, HostNetError> {
        let (state, injected) = self.begin(Call::LinkExists(name.to_owned()), "get link", name);
        injected?;
        validate_ifname(name)?;
        Ok(state.links.contains_key(name))
    }

    async fn firewall(&self, networks: &[NetworkRules]) -> Result<(), HostNetError> {
        let (_state, injected) = self.begin(Call::Firewall(networks.to_vec()), "firewall", "");
        injected
    }
}

fn wrong_kind(name: &str, expected: &'static str, found: &Link) -> HostNetError {
    let found = match found {
        Link::Bridge => "bridge",
        Link::Veth { .. } => "veth",
        Link::Other => "plain",
    };
    HostNetError::WrongKind {
        ifname: name.to_owned(),
        expected,
        found: found.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(name: &str) -> BridgeSpec {
        BridgeSpec {
            name: name.to_owned(),
            addresses: vec!["10.1.0.1/24".parse().unwrap()],
            mtu: Some(1450),
            mac: [0x02, 0, 0, 0, 0, 1],
            foreign: false,
        }
    }

    fn veth(host: &str, container: &str, bridge: &str) -> VethSpec {
        VethSpec {
            host: host.to_owned(),
            container: container.to_owned(),
            bridge: bridge.to_owned(),
            container_mac: None,
            mtu: None,
        }
    }

    #[tokio::test]
    async fn records_calls_in_order() {
        let r = Recorder::new();
        r.ensure_bridge(&bridge("kbr1")).await.unwrap();
        r.create_veth(&veth("kvh1", "kvc1", "kbr1")).await.unwrap();
        assert!(r.link_exists("kvc1").await.unwrap());
        r.delete_link("kvh1").await.unwrap();
        r.links_with_prefix("kv").await.unwrap();
        assert_eq!(
            r.calls(),
            vec![
                Call::EnsureBridge(bridge("kbr1")),
                Call::CreateVeth(veth("kvh1", "kvc1", "kbr1")),
                Call::LinkExists("kvc1".into()),
                Call::DeleteLink("kvh1".into()),
                Call::LinksWithPrefix("kv".into()),
            ]
        );
        assert_eq!(r.take_calls().len(), 5);
        assert!(r.calls().is_empty());
    }

    #[tokio::test]
    async fn models_links_like_the_kernel() {
        let r = Recorder::with_links(["kvhstale", "eth0"]);
        r.ensure_bridge(&bridge("kbr1")).await.unwrap();
        r.ensure_bridge(&bridge("kbr1")).await.unwrap();
        r.create_veth(&veth("kvh1", "kvc1", "kbr1")).await.unwrap();
        // Same pair again: success, nothing new.
        r.create_veth(&veth("kvh1", "kvc1", "kbr1")).await.unwrap();
        r.create_veth(&veth("kvh2", "kvc2", "kbr1")).await.unwrap();
        assert_eq!(
            r.links(),
            ["eth0", "kbr1", "kvc1", "kvc2", "kvh1", "kvh2", "kvhstale"]
        );
        assert_eq!(
            r.links_with_prefix("kvh").await.unwrap(),
            ["kvh1", "kvh2", "kvhstale"]
        );

        // Either end takes the pair; the bridge keeps the other pair.
        r.delete_link("kvc1").await.unwrap();
        assert!(!r.has_link("kvh1"));
        r.delete_link("kbr1").await.unwrap();
        assert!(r.has_link("kvh2"));
        // Missing links delete fine.
        r.delete_link("kbr1").await.unwrap();
        assert!(!r.link_exists("kbr1").await.unwrap());
    }

    #[tokio::test]
    async fn create_veth_checks_the_bridge_and_names() {
        let r = Recorder::with_links(["notabr"]);
        let err = r
            .create_veth(&veth("kvh1", "kvc1", "kbr1"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, HostNetError::BridgeMissing(ref b) if b == "kbr1"),
            "{err}"
        );
        let err = r
            .create_veth(&veth("kvh1", "kvc1", "notabr"))
            .await
            .unwrap_err();
        assert!(matches!(err, HostNetError::WrongKind { .. }), "{err}");
        let err = r
            .create_veth(&veth("kvh1", "kvc1/x", "notabr"))
            .await
            .unwrap_err();
        assert!(matches!(err, HostNetError::BadName(_)), "{err}");
        assert_eq!(r.links(), ["notabr"]);

        r.ensure_bridge(&bridge("kbr1")).await.unwrap();
        r.add_link("kvc1");
        let err = r
            .create_veth(&veth("kvh1", "kvc1", "kbr1"))
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EEXIST as i32));
        assert!(!r.has_link("kvh1"));
        let err = r.ensure_bridge(&bridge("kvc1")).await.unwrap_err();
        assert!(matches!(err, HostNetError::WrongKind { .. }), "{err}");
    }

    #[tokio::test]
    async fn injected_failures_hit_the_next_call_of_that_kind_only() {
        let r = Recorder::new();
        r.ensure_bridge(&bridge("kbr1")).await.unwrap();
        r.fail_next(CallKind::CreateVeth);
        r.fail_next_with(CallKind::DeleteLink, Errno::EBUSY);

        // Other kinds are unaffected.
        assert!(r.link_exists("kbr1").await.unwrap());

        let err = r
            .create_veth(&veth("kvh1", "kvc1", "kbr1"))
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EIO as i32));
        assert_eq!(
            err.to_string(),
            "create veth kvh1: Received a netlink error message Input/output error (os error 5)"
        );
        assert!(
            !r.has_link("kvh1") && !r.has_link("kvc1"),
            "failed create leaves nothing"
        );
        r.create_veth(&veth("kvh1", "kvc1", "kbr1")).await.unwrap();

        let err = r.delete_link("kbr1").await.unwrap_err();
        assert_eq!(err.errno(), Some(Errno::EBUSY as i32));
        assert!(r.has_link("kbr1"), "failed delete changes nothing");
        r.delete_link("kbr1").await.unwrap();

        // Failed calls are recorded too.
        let kinds: Vec<CallKind> = r.calls().iter().map(Call::kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::EnsureBridge,
                CallKind::LinkExists,
                CallKind::CreateVeth,
                CallKind::CreateVeth,
                CallKind::DeleteLink,
                CallKind::DeleteLink,
            ]
        );
    }

    #[tokio::test]
    async fn usable_as_a_trait_object() {
        let r = std::sync::Arc::new(Recorder::new());
        let net: std::sync::Arc<dyn HostNet> = r.clone();
        net.ensure_bridge(&bridge("kbr1")).await.unwrap();
        assert_eq!(r.links(), ["kbr1"]);
    }
}
