//! The plugin's Prometheus metrics, in the Prometheus text format (0.0.4).
//!
//! Three sources. Plugin calls are counted by `server`'s call middleware
//! ([`Metrics::observe_call`]). Neutron and Keystone requests arrive through the client's
//! [`Observer`] hook ([`NeutronRequests`], which the daemon gives the client when it
//! builds it). Pools and background deletes are read from the `Driver` at each scrape
//! (`Driver::pool_usage`, `Driver::backlog`), so they are never stale and cost nothing
//! between scrapes.
//!
//! Only this module knows `prometheus_client`; it knows no HTTP (`server` serves the
//! text [`Metrics::encode`] returns). Every label value comes from a bounded set: a
//! route of the plugin protocol, an HTTP method, status and Neutron collection, or a
//! pool the backend holds.

use crate::driver::Driver;
use crate::model::PoolUsage;
use crate::neutron::{Exchange, Observer, Service};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The prefix of every series.
const PREFIX: &str = "kuryr";

/// The method label of a request that matched no protocol route.
pub const UNKNOWN_METHOD: &str = "unknown";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallOutcome {
    method: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallMethod {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NeutronStatus {
    method: String,
    resource: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NeutronRoute {
    method: String,
    resource: String,
}

type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

/// Plugin calls take from well under a millisecond (embedded) to seconds (Neutron):
/// 0.5 ms to about 16 s.
fn call_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Neutron and Keystone requests: 5 ms to about 41 s.
fn neutron_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// Every series of one plugin process.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallOutcome, Counter>,
    call_seconds: Latencies<CallMethod>,
}

impl Metrics {
    /// The registry over `driver`, with `neutron`'s series when the backend has a
    /// Neutron client.
    pub fn new(driver: Arc<dyn Driver>, neutron: Option<NeutronRequests>) -> Metrics {
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register(
            "build",
            "The running kuryr: its version and backend (always 1)",
            Info::new([
                ("version", env!("CARGO_PKG_VERSION")),
                ("backend", driver.name()),
            ]),
        );
        let calls = Family::<CallOutcome, Counter>::default();
        registry.register(
            "plugin_requests",
            "Plugin calls answered, by protocol method and outcome (ok: 200, err: any other status)",
            calls.clone(),
        );
        let call_seconds = Latencies::<CallMethod>::new_with_constructor(call_buckets);
        registry.register(
            "plugin_request_duration_seconds",
            "Time to answer a plugin call, by protocol method",
            call_seconds.clone(),
        );
        if let Some(neutron) = neutron {
            registry.register(
                "neutron_requests",
                "Neutron requests, by HTTP method, collection and status (error: no answer)",
                neutron.neutron.requests,
            );
            registry.register(
                "neutron_request_duration_seconds",
                "Time from sending a Neutron request to the end of its answer",
                neutron.neutron.seconds,
            );
            registry.register(
                "keystone_requests",
                "Keystone token requests, by status (error: no answer or a redirect)",
                neutron.keystone.requests,
            );
            registry.register(
                "keystone_request_duration_seconds",
                "Time from sending a Keystone token request to the end of its answer",
                neutron.keystone.seconds,
            );
        }
        registry.register_collector(Box::new(BackendGauges(driver)));
        Metrics {
            registry,
            calls,
            call_seconds,
        }
    }

    /// One plugin call, answered. `method` is the protocol method
    /// (`IpamDriver.RequestPool`) or [`UNKNOWN_METHOD`].
    pub fn observe_call(&self, method: &str, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "err" };
        self.calls
            .get_or_create(&CallOutcome {
                method: method.to_owned(),
                outcome,
            })
            .inc();
        self.call_seconds
            .get_or_create(&CallMethod {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Every series, now, as Prometheus text.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// One service's requests by method, collection and status, and their latency.
#[derive(Clone)]
struct Requests {
    requests: Family<NeutronStatus, Counter>,
    seconds: Latencies<NeutronRoute>,
}

impl Default for Requests {
    fn default() -> Self {
        Requests {
            requests: Family::default(),
            seconds: Latencies::new_with_constructor(neutron_buckets),
        }
    }
}

impl Requests {
    fn observe(&self, exchange: &Exchange<'_>) {
        let status = exchange
            .status
            .map_or_else(|| "error".to_owned(), |status| status.to_string());
        self.requests
            .get_or_create(&NeutronStatus {
                method: exchange.method.to_owned(),
                resource: exchange.resource.to_owned(),
                status,
            })
            .inc();
        self.seconds
            .get_or_create(&NeutronRoute {
                method: exchange.method.to_owned(),
                resource: exchange.resource.to_owned(),
            })
            .observe(exchange.elapsed.as_secs_f64());
    }
}

/// The Neutron client's [`Observer`]: Neutron's and Keystone's requests, each by
/// method, collection and status, and their latency. Clones share their series.
#[derive(Clone, Default)]
pub struct NeutronRequests {
    neutron: Requests,
    keystone: Requests,
}

impl Observer for NeutronRequests {
    fn exchange(&self, exchange: &Exchange<'_>) {
        match exchange.service {
            Service::Neutron => self.neutron.observe(exchange),
            Service::Keystone => self.keystone.observe(exchange),
        }
    }
}

/// A per-pool gauge: name, help, and the value of one pool.
type PoolSeries = (&'static str, &'static str, fn(&PoolUsage) -> u128);

/// What the backend holds, read at each scrape: pool sizes and use, and the deletes
/// it still owes. (Help texts end with a period, as the registry adds one to those of
/// registered metrics.)
struct BackendGauges(Arc<dyn Driver>);

impl std::fmt::Debug for BackendGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BackendGauges")
            .field(&self.0.name())
            .finish()
    }
}

impl Collector for BackendGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(pools) = self.0.pool_usage() {
            let labels: Vec<_> = pools
                .iter()
                .map(|pool| {
                    [
                        ("pool_id", pool.pool_id.clone()),
                        ("cidr", pool.cidr.to_string()),
                    ]
                })
                .collect();
            let series: [PoolSeries; 2] = [
                (
                    "pool_size_addresses",
                    "Addresses a pool can hand out (network and broadcast addresses excluded).",
                    |pool| pool.size,
                ),
                (
                    "pool_used_addresses",
                    "Addresses of a pool handed out now: by the embedded backend, gateways \
                     included; on Neutron, those of this host's endpoints (Neutron's other \
                     ports are not asked for at a scrape).",
                    |pool| pool.used,
                ),
            ];
            for (name, help, value) in series {
                let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                for (pool, labels) in pools.iter().zip(&labels) {
                    // A gauge is a float; an IPv6 pool's size is exact enough as one.
                    ConstGauge::new(value(pool) as f64).encode(family.encode_family(labels)?)?;
                }
            }
        }
        let backlog = self.0.backlog();
        let gauges = [
            (
                "background_deletes_pending",
                "Deletes promised to Docker and not done yet.",
                backlog.pending,
            ),
            (
                "background_deletes_failing",
                "Pending deletes whose last attempt failed (being retried).",
                backlog.errors.len(),
            ),
        ];
        for (name, help, value) in gauges {
            let value = i64::try_from(value).unwrap_or(i64::MAX);
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}
