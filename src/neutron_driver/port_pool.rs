//! Port pools (`[vif_pool]`): ports made ahead of time, so RequestAddress hands one
//! out instead of waiting ~300 ms for Neutron to create and bind it.
//!
//! kuryr-kubernetes' design: per subnet (a pool port is made with one address) and
//! binding host, between `ports_pool_min` and `ports_pool_max` ready ports, created
//! `ports_pool_batch` at a time in one bulk POST, refilled in the background after
//! each hand-out and every `ports_pool_update_frequency` seconds.
//!
//! A pool port is named `kuryr-pool-port`, owned `compute:kuryr`, bound to this host
//! and tagged `kuryr.port.pool` in its POST body. Neutron keeps tags there only with
//! its `tag-ports-during-bulk-creation` extension; without it pools stay off, since
//! an untagged pool port could not be found again. Not the `compute:kuryr` tag: that
//! marks a container's port, which kuryr-libnetwork deletes when its address is
//! released; it leaves pool ports alone.
//!
//! Handing a port out takes it from the pool in memory and journals its id (one
//! fsync, `neutron-port-pool.redb`) instead of retagging it in Neutron: a request
//! saved on the path `docker run` waits for. CreateEndpoint's tag request then
//! replaces the pool tag with the endpoint's, and the journal entry goes. After a
//! restart the pools are found again by their tag and host, less the journaled ports,
//! which containers hold.
//!
//! DeleteNetwork closes its subnets' pools: it waits for a refill in flight and
//! deletes the ready ports in the network's teardown lane, ahead of the network.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::config::PortPools as Sizes;
use crate::neutron::{Client, FixedIpRequest, Kind, Port, PortCreate, Query};
use crate::store::{Journal, StoreError};

use super::locks::KeyedLocks;
use super::names;
use super::state::SubnetInfo;
use super::teardown::{Job, Step, Teardown};
use super::undo::Marker;

/// The journal of handed-out pool ports, inside `state_dir`.
pub const JOURNAL_FILE: &str = "neutron-port-pool.redb";

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Taken {
    port_id: String,
}

struct Pool {
    network_id: String,
    ready: VecDeque<Port>,
}

#[derive(Default)]
struct State {
    /// Neutron subnet id → its pool. A subnet without an entry has no pool (never
    /// started, or closed by DeleteNetwork).
    pools: HashMap<String, Pool>,
    /// Handed-out port id → its journal key (`None` while the append is in flight:
    /// the port counts as taken from the moment it leaves `pools`).
    taken: HashMap<String, Option<u64>>,
}

pub struct PortPools {
    sizes: Sizes,
    host: String,
    client: Client,
    teardown: Arc<Teardown>,
    journal: Journal<Taken>,
    state: Mutex<State>,
    /// One refill at a time per subnet; DeleteNetwork takes it to wait for one in flight.
    fills: KeyedLocks,
    /// The pools found in Neutron, once per process.
    found: OnceCell<()>,
}

impl PortPools {
    /// Opens the journal of handed-out ports and starts the periodic refill.
    pub fn open(
        sizes: Sizes,
        host: &str,
        client: Client,
        teardown: Arc<Teardown>,
        state_dir: &Path,
    ) -> Result<Arc<PortPools>, StoreError> {
        let (journal, records) = Journal::<Taken>::open(&state_dir.join(JOURNAL_FILE))?;
        let taken = records
            .into_iter()
            .map(|(k, t)| (t.port_id, Some(k)))
            .collect();
        let pools = Arc::new(PortPools {
            sizes,
            host: host.to_string(),
            client,
            teardown,
            journal,
            state: Mutex::new(State {
                pools: HashMap::new(),
                taken,
            }),
            fills: KeyedLocks::default(),
            found: OnceCell::new(),
        });
        tokio::spawn(tick(Arc::downgrade(&pools), sizes.update_frequency));
        // Found now, so the first hand-out does not wait for the listing.
        let early = pools.clone();
        tokio::spawn(async move { early.find().await });
        Ok(pools)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts (or tops up) the pool of subnet `s`, in the background.
    pub fn start(self: &Arc<Self>, s: &SubnetInfo) {
        self.state()
            .pools
            .entry(s.id.clone())
            .or_insert_with(|| Pool {
                network_id: s.network_id.clone(),
                ready: VecDeque::new(),
            });
        self.refill(&s.id);
    }

    /// A ready port of subnet `s`, now the caller's, with the pool tag gone from this
    /// copy (CreateEndpoint's tag request removes it in Neutron). `None` when the
    /// pool is empty: the caller makes a port as without pools, and a refill starts.
    pub async fn take(self: &Arc<Self>, s: &SubnetInfo) -> Option<Port> {
        self.find().await;
        let port = {
            let mut st = self.state();
            let pool = st.pools.entry(s.id.clone()).or_insert_with(|| Pool {
                network_id: s.network_id.clone(),
                ready: VecDeque::new(),
            });
            let port = pool.ready.pop_front();
            if let Some(port) = &port {
                st.taken.insert(port.id.clone(), None);
            }
            port
        };
        self.refill(&s.id);
        let Some(mut port) = port else {
            tracing::debug!(subnet = %s.id, "port pool empty");
            return None;
        };
        if let Err(error) = self.note_taken(&port.id).await {
            tracing::warn!(port = %port.id, %error, "cannot journal a pool port; making a new one instead");
            self.give_back(port);
            return None;
        }
        strip(&mut port);
        Some(port)
    }

    /// Puts a port `take` gave back in front of its pool (the caller could not use it).
    pub fn give_back(&self, mut port: Port) {
        let Some(subnet) = port.fixed_ips.first().map(|f| f.subnet_id.clone()) else {
            return;
        };
        let key = {
            let mut st = self.state();
            let key = st.taken.remove(&port.id).flatten();
            if !port.tags.iter().any(|t| t == names::POOL_PORT_TAG) {
                port.tags.push(names::POOL_PORT_TAG.to_string());
            }
            if let Some(pool) = st.pools.get_mut(&subnet) {
                pool.ready.push_front(port);
            }
            key
        };
        if let Some(key) = key {
            self.forget(key);
        }
    }

    /// Takes the ready port `port_id` out of its pool, for a request naming its
    /// address; false when it is not a ready port of this host's pools.
    pub async fn claim(&self, port_id: &str) -> bool {
        self.find().await;
        let claimed = {
            let mut st = self.state();
            let claimed = st.pools.values_mut().any(|pool| {
                let before = pool.ready.len();
                pool.ready.retain(|p| p.id != port_id);
                pool.ready.len() != before
            });
            if claimed {
                st.taken.insert(port_id.to_string(), None);
            }
            claimed
        };
        if claimed && let Err(error) = self.note_taken(port_id).await {
            tracing::warn!(port = %port_id, %error, "cannot journal a claimed pool port");
        }
        claimed
    }

    /// A handed-out port's pool tag is gone from Neutron, or the port is: drop its
    /// journal entry (in the background; a stale entry is dropped at the next start).
    pub fn settle(&self, port_id: &str) {
        let key = self.state().taken.remove(port_id).flatten();
        if let Some(key) = key {
            self.forget(key);
        }
    }

    /// How a port read from Neutron looks to the rest of the driver: a handed-out
    /// port still carrying the pool tag (CreateEndpoint has not retagged it yet, or a
    /// restart came in between) is a container's, without it.
    pub fn normalize(&self, port: &mut Port) {
        if names::is_pool_port(&port.tags) && self.state().taken.contains_key(&port.id) {
            strip(port);
        }
    }

    /// DeleteNetwork: removes the pools of `subnets`, after any refill in flight, and
    /// returns their ready ports for the network's teardown lane.
    pub async fn close(&self, subnets: &[String]) -> Vec<String> {
        self.find().await;
        let mut ports = Vec::new();
        for subnet in subnets {
            let _fill = self.fills.lock(subnet).await;
            if let Some(pool) = self.state().pools.remove(subnet) {
                ports.extend(pool.ready.into_iter().map(|p| p.id));
            }
        }
        ports
    }

    async fn note_taken(&self, port_id: &str) -> Result<(), StoreError> {
        let key = self
            .journal
            .append(&Taken {
                port_id: port_id.to_string(),
            })
            .await?;
        let settled = match self.state().taken.get_mut(port_id) {
            Some(entry) => {
                *entry = Some(key);
                false
            }
            None => true,
        };
        if settled {
            self.forget(key);
        }
        Ok(())
    }

    fn forget(&self, key: u64) {
        let journal = self.journal.clone();
        tokio::spawn(async move {
            if let Err(error) = journal.remove(key).await {
                tracing::warn!(%error, "cannot drop a pool port from the journal");
            }
        });
    }

    /// Once per process: this host's pool ports in Neutron become the pools again,
    /// less the handed-out ones; journal entries of ports no longer in a pool go.
    async fn find(&self) {
        let found = self
            .found
            .get_or_try_init(|| async {
                let query = Query::new()
                    .tags(&[names::POOL_PORT_TAG])
                    .eq("binding:host_id", &self.host);
                let ports: Vec<Port> = self.client.list(&query).await?;
                let stale = {
                    let mut st = self.state();
                    for port in &ports {
                        if st.taken.contains_key(&port.id) {
                            continue;
                        }
                        let Some(fixed) = port.fixed_ips.first() else {
                            continue;
                        };
                        let pool = st.pools.entry(fixed.subnet_id.clone()).or_insert_with(|| Pool {
                            network_id: port.network_id.clone(),
                            ready: VecDeque::new(),
                        });
                        if !pool.ready.iter().any(|p| p.id == port.id) {
                            pool.ready.push_back(port.clone());
                        }
                    }
                    let held: Vec<String> = st
                        .taken
                        .keys()
                        .filter(|id| !ports.iter().any(|p| &p.id == *id))
                        .cloned()
                        .collect();
                    held.iter()
                        .filter_map(|id| st.taken.remove(id).flatten())
                        .collect::<Vec<u64>>()
                };
                for key in stale {
                    self.forget(key);
                }
                tracing::info!(ports = ports.len(), host = %self.host, "port pools found in Neutron");
                Ok::<(), crate::neutron::NeutronError>(())
            })
            .await;
        if let Err(error) = found {
            tracing::warn!(%error, "cannot list the pool ports in Neutron; will try again");
        }
    }

    fn refill(self: &Arc<Self>, subnet: &str) {
        let pools = self.clone();
        let subnet = subnet.to_string();
        tokio::spawn(async move { pools.fill(&subnet).await });
    }

    /// Creates what the pool of `subnet` lacks, in one bulk POST.
    async fn fill(&self, subnet: &str) {
        let _fill = self.fills.lock(subnet).await;
        let (network_id, wanted) = {
            let st = self.state();
            let Some(pool) = st.pools.get(subnet) else {
                return;
            };
            (
                pool.network_id.clone(),
                self.sizes.shortfall(pool.ready.len(), 0),
            )
        };
        if wanted == 0 {
            return;
        }
        let marker = Marker::new();
        let body = PortCreate {
            description: marker.description(),
            network_id: network_id.clone(),
            name: Some(names::POOL_PORT.to_string()),
            admin_state_up: Some(true),
            fixed_ips: Some(vec![FixedIpRequest {
                subnet_id: Some(subnet.to_string()),
                ip_address: None,
            }]),
            device_owner: Some(names::DEVICE_OWNER.to_string()),
            binding_host_id: Some(self.host.clone()),
            tags: Some(vec![names::POOL_PORT_TAG.to_string()]),
            ..PortCreate::default()
        };
        let made = match self
            .client
            .create_many::<Port, _>(&vec![body; wanted])
            .await
        {
            Ok(made) => made,
            Err(error) => {
                tracing::warn!(%subnet, %error, "refilling a port pool failed; the next check retries");
                if error.outcome_unknown() {
                    let step = Step::Marked {
                        kind: Kind::Ports,
                        marker: marker.as_str().to_string(),
                    };
                    self.delete(&network_id, vec![step]).await;
                }
                return;
            }
        };
        // Neutron without tag-ports-during-bulk-creation drops the tags silently: such
        // ports could never be found again, so they go.
        let untagged = made.iter().any(|p| !names::is_pool_port(&p.tags));
        let orphans = {
            let mut st = self.state();
            let st = &mut *st;
            match st.pools.get_mut(subnet) {
                Some(pool) if !untagged => {
                    // The listing at start may have found some of them already.
                    for port in made {
                        if !st.taken.contains_key(&port.id)
                            && !pool.ready.iter().any(|p| p.id == port.id)
                        {
                            pool.ready.push_back(port);
                        }
                    }
                    Vec::new()
                }
                _ => made,
            }
        };
        if untagged {
            tracing::error!(%subnet, "Neutron dropped the tags of new pool ports; deleting them");
        }
        if !orphans.is_empty() {
            let steps = orphans.into_iter().map(|p| Step::Port(p.id)).collect();
            self.delete(&network_id, steps).await;
        }
    }

    async fn delete(&self, lane: &str, steps: Vec<Step>) {
        if let Err(error) = self.teardown.submit(Job::new(lane, steps)).await {
            tracing::warn!(%error, "cannot delete pool ports");
        }
    }

    /// Ready ports per subnet id, as this process holds them (for status and tests:
    /// Neutron shows a refill's ports a moment before its answer arrives here).
    pub fn ready(&self) -> HashMap<String, usize> {
        self.state()
            .pools
            .iter()
            .map(|(s, p)| (s.clone(), p.ready.len()))
            .collect()
    }
}

fn strip(port: &mut Port) {
    port.tags.retain(|t| t != names::POOL_PORT_TAG);
}

/// Every `every`, tops up each pool, until the pools are dropped.
async fn tick(pools: Weak<PortPools>, every: std::time::Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(pools) = pools.upgrade() else {
            return;
        };
        pools.find().await;
        let subnets: Vec<String> = pools.state().pools.keys().cloned().collect();
        for subnet in subnets {
            pools.fill(&subnet).await;
        }
    }
}
