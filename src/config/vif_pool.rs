//! `[vif_pool]`: Neutron ports made ahead of time, per network and host, so that
//! RequestAddress hands one out instead of waiting for Neutron to create and bind it.
//!
//! The option names and defaults are kuryr-kubernetes' (`[vif_pool]`), which solved
//! the same cost the same way. kuryr-kubernetes picks pools with a driver option; here
//! `enabled` turns them on, since there is one kind. Off by default: a pool's ports
//! are visible in Neutron before any container exists.

use std::time::Duration;

use super::BackendKind;
use super::validate::Checker;
use super::values::{parse_bool, parse_int_min};

pub const SECTION: &str = "vif_pool";

/// The port pool settings; `Config::port_pools` is `None` when pools are off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortPools {
    /// `ports_pool_min`: below this many ready ports, a refill starts.
    pub min: usize,
    /// `ports_pool_max`: never more ready ports than this; 0 is no limit.
    pub max: usize,
    /// `ports_pool_batch`: ports created per bulk request.
    pub batch: usize,
    /// `ports_pool_update_frequency`: how often every pool is checked, besides the
    /// refill each hand-out starts.
    pub update_frequency: Duration,
}

impl Default for PortPools {
    /// kuryr-kubernetes' defaults.
    fn default() -> PortPools {
        PortPools {
            min: 5,
            max: 0,
            batch: 10,
            update_frequency: Duration::from_secs(20),
        }
    }
}

impl PortPools {
    /// How many ports a refill of a pool holding `ready` (plus `coming`, being made)
    /// should create now: a batch once below the minimum, never past the maximum.
    pub fn shortfall(&self, ready: usize, coming: usize) -> usize {
        let have = ready + coming;
        if have >= self.min.max(1) {
            return 0;
        }
        let room = if self.max == 0 {
            usize::MAX
        } else {
            self.max.saturating_sub(have)
        };
        self.batch.max(self.min - have.min(self.min)).min(room)
    }
}

pub const KEYS: &[&str] = &[
    "enabled",
    "ports_pool_min",
    "ports_pool_max",
    "ports_pool_batch",
    "ports_pool_update_frequency",
];

impl Checker<'_> {
    /// `Some(None)`: pools off. `None`: invalid (recorded).
    pub(super) fn port_pools(
        &mut self,
        backend: Option<BackendKind>,
        nested: bool,
    ) -> Option<Option<PortPools>> {
        let enabled = self.read(SECTION, "enabled", parse_bool)?.unwrap_or(false);
        let defaults = PortPools::default();
        let count = |c: &mut Self, key: &str, min: i64, default: usize| {
            c.read(SECTION, key, |v| parse_int_min(v, min))
                .map(|v| v.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX)))
        };
        let min = count(self, "ports_pool_min", 0, defaults.min);
        let max = count(self, "ports_pool_max", 0, defaults.max);
        let batch = count(self, "ports_pool_batch", 1, defaults.batch);
        let every = count(
            self,
            "ports_pool_update_frequency",
            1,
            defaults.update_frequency.as_secs() as usize,
        );
        let (min, max, batch, every) = (min?, max?, batch?, every?);
        if max != 0 && min > max {
            let value = self
                .value(SECTION, "ports_pool_min")
                .unwrap_or_default()
                .to_owned();
            self.invalid(
                SECTION,
                "ports_pool_min",
                &value,
                format!("is above ports_pool_max ({max})"),
            );
            return None;
        }
        if !enabled {
            return Some(None);
        }
        if backend == Some(BackendKind::Embedded) {
            self.warn(
                SECTION,
                "enabled",
                "ignored: the embedded backend makes its ports when a container starts, at no cost",
            );
            return Some(None);
        }
        if nested {
            self.invalid(
                SECTION,
                "enabled",
                "True",
                "port pools are not available in nested mode (default_port_driver nested or vlan): \
                 its ports are unbound and paired with the VM's port one by one",
            );
            return None;
        }
        Some(Some(PortPools {
            min,
            max,
            batch,
            update_frequency: Duration::from_secs(every as u64),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools(min: usize, max: usize, batch: usize) -> PortPools {
        PortPools {
            min,
            max,
            batch,
            ..PortPools::default()
        }
    }

    #[test]
    fn a_refill_is_a_batch_once_below_the_minimum_and_stops_at_the_maximum() {
        let p = pools(5, 0, 10);
        assert_eq!(p.shortfall(5, 0), 0);
        assert_eq!(p.shortfall(4, 0), 10);
        assert_eq!(p.shortfall(2, 3), 0, "ports being made count");
        assert_eq!(pools(5, 8, 10).shortfall(4, 0), 4, "capped by the maximum");
        assert_eq!(
            pools(20, 0, 10).shortfall(0, 0),
            20,
            "at least up to the minimum"
        );
        assert_eq!(
            pools(0, 0, 10).shortfall(0, 0),
            10,
            "a minimum of 0 still keeps one batch"
        );
        assert_eq!(pools(0, 0, 10).shortfall(1, 0), 0);
    }
}
