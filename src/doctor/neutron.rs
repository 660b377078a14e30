//! Neutron as kuryr needs it: reachable with these credentials, with the extensions
//! kuryr uses, the default subnet pools networks without `--subnet` carve from, and
//! this host known to Neutron (an agent reporting it), or its ports fail to bind.

use crate::config::{Config, NestedDriver};
use crate::neutron::{Agent, Client, Query, SubnetPool};
use crate::neutron_driver::Settings;

use super::Finding;

/// With the client `serve` builds from the configuration (its options, environment
/// and clouds.yaml included, were checked when it loaded).
pub(super) async fn check(config: &Config) -> Vec<Finding> {
    let Some(options) = config.backend.neutron_client() else {
        return Vec::new();
    };
    let client = match Client::new(options.clone()) {
        Ok(client) => client,
        Err(error) => {
            return vec![Finding::fail(
                "neutron",
                error.to_string(),
                "fix the [neutron] options",
            )];
        }
    };
    let aliases = match client.extensions().await {
        Ok(aliases) => aliases,
        Err(error) => {
            return vec![Finding::fail(
                "neutron",
                format!("cannot list Neutron's extensions: {error}"),
                "check [neutron] endpoint or auth_url, the credentials, and that Neutron runs",
            )];
        }
    };
    let settings = Settings::from_config(config);
    let mut out = vec![Finding::ok(
        "neutron",
        format!("reachable, authenticated, {} extensions", aliases.len()),
    )];
    let has = |a: &str| aliases.iter().any(|x| x == a);
    let vlan = config
        .nesting
        .as_ref()
        .is_some_and(|n| n.driver == NestedDriver::Vlan);
    let pools = config.port_pools.is_some();
    let wanted: [(&str, bool, &str); 5] = [
        (
            "subnet_allocation",
            true,
            "subnet pools, which every Docker pool is",
        ),
        (
            "standard-attr-tag",
            true,
            "the tags both kuryr implementations find objects by",
        ),
        (
            "tag-creation",
            false,
            "nothing kuryr needs (several tags in one POST .../tags)",
        ),
        (
            "tag-ports-during-bulk-creation",
            pools,
            "port pools ([vif_pool])",
        ),
        ("trunk", vlan, "nested mode's vlan driver"),
    ];
    for (alias, needed, used_by) in wanted {
        let check = format!("neutron extension {alias}");
        out.push(match (has(alias), needed) {
            (true, _) => Finding::ok(&check, "present"),
            (false, true) => Finding::fail(
                &check,
                format!("missing; {used_by} need it"),
                format!("enable {alias} in Neutron (service_plugins or ML2 extension_drivers)"),
            ),
            (false, false) => Finding::warn(
                &check,
                format!("missing; used by {used_by}"),
                "nothing to do unless you use that",
            ),
        });
    }
    for name in [&settings.default_pool_v4, &settings.default_pool_v6] {
        let check = format!("default subnet pool {name}");
        let found: Result<Vec<SubnetPool>, _> = client.list(&Query::new().eq("name", name)).await;
        out.push(match found {
            Ok(found) if !found.is_empty() => Finding::ok(&check, found[0].id.clone()),
            Ok(_) => Finding::warn(
                &check,
                "missing: docker network create without --subnet fails",
                format!("openstack subnet pool create {name} --pool-prefix <cidr> --default-prefix-length <n>"),
            ),
            Err(error) => Finding::warn(&check, error.to_string(), "check Neutron's logs"),
        });
    }
    if config.nesting.is_none() {
        out.push(binding_host(&client, &settings.host).await);
    }
    out
}

async fn binding_host(client: &Client, host: &str) -> Finding {
    let check = "binding host";
    let agents: Result<Vec<Agent>, _> = client.list(&Query::new().eq("host", host)).await;
    match agents {
        Ok(agents) if agents.iter().any(|a| a.alive) => Finding::ok(
            check,
            format!(
                "{host}: {} agent(s) alive",
                agents.iter().filter(|a| a.alive).count()
            ),
        ),
        Ok(agents) if !agents.is_empty() => Finding::warn(
            check,
            format!("{host}: Neutron's agents there are not alive"),
            "start the Neutron agent (e.g. neutron-openvswitch-agent) on this host",
        ),
        Ok(_) => Finding::warn(
            check,
            format!(
                "{host}: no Neutron agent reports this host; its ports may fail to bind (vif_type binding_failed)"
            ),
            "run the Neutron agent here, or set [neutron] binding_host to the name it reports",
        ),
        Err(error) if error.is_not_found() => Finding::warn(
            check,
            "Neutron has no agent API to ask",
            "nothing to check (an agentless mechanism driver)",
        ),
        Err(error) => Finding::warn(
            check,
            error.to_string(),
            "check the credentials' rights (agents are admin-only)",
        ),
    }
}
