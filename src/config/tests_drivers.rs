//! The port and binding driver matrix of `drivers.rs`.

use super::tests::{invalid, load_str, no_env, warning_keys};
use super::{NestedDriver, Nesting};

const NEUTRON: &str = "[neutron]\nendpoint = http://127.0.0.1:9696\nauth_type = none\n";

fn nesting(text: &str) -> Option<Nesting> {
    load_str(&format!("{text}{NEUTRON}")).config.nesting
}

/// The (section, key) of each invalid value, and whether any message holds `needle`.
fn refused(text: &str, needle: &str) -> Vec<(String, String)> {
    let errors = invalid(&format!("{text}{NEUTRON}"), &no_env());
    assert!(
        errors.iter().any(|e| e.message.contains(needle)),
        "no message with {needle:?} in {errors:?}"
    );
    errors.into_iter().map(|e| (e.section, e.key)).collect()
}

fn keys(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(s, k)| (s.to_string(), k.to_string()))
        .collect()
}

#[test]
fn veth_is_the_default_and_its_names_are_quiet() {
    assert_eq!(nesting(""), None);
    let quiet = load_str(
        "[DEFAULT]\ndefault_port_driver = kuryr_libnetwork.port_driver.drivers.veth\n\
         enabled_port_drivers = kuryr_libnetwork.port_driver.drivers.veth\n\
         [binding]\ndefault_driver = kuryr.lib.binding.drivers.veth\nlink_iface =\n",
    );
    assert!(quiet.warnings.is_empty(), "{:?}", quiet.warnings);
    assert_eq!(quiet.config.nesting, None);
}

#[test]
fn the_binding_driver_alone_picks_nested_mode_as_kuryr_libnetworks_recipe_does() {
    let want = |driver| {
        Some(Nesting {
            driver,
            link_iface: "eth0".into(),
            vm_port: None,
        })
    };
    for (text, driver) in [
        (
            "[binding]\ndefault_driver = kuryr.lib.binding.drivers.macvlan\nlink_iface = eth0\n",
            NestedDriver::Macvlan,
        ),
        (
            "[binding]\ndriver = kuryr.lib.binding.drivers.vlan\nlink_iface = eth0\n",
            NestedDriver::Vlan,
        ),
        (
            "[binding]\ndefault_driver = macvlan\nlink_iface = eth0\n",
            NestedDriver::Macvlan,
        ),
        (
            "[DEFAULT]\ndefault_port_driver = kuryr_libnetwork.port_driver.drivers.nested\n[binding]\nlink_iface = eth0\n",
            NestedDriver::Macvlan,
        ),
        (
            "[DEFAULT]\ndefault_port_driver = vlan\nenabled_port_drivers = veth, vlan\n\
          [binding]\ndefault_driver = vlan\nenabled_drivers = kuryr.lib.binding.drivers.veth,kuryr.lib.binding.drivers.vlan\nlink_iface = eth0\n",
            NestedDriver::Vlan,
        ),
    ] {
        assert_eq!(nesting(text), want(driver), "{text}");
    }
    let with_port =
        nesting("[binding]\ndefault_driver = macvlan\nlink_iface = ens3\nvm_port = vm-1-port\n");
    assert_eq!(
        with_port.and_then(|n| n.vm_port).as_deref(),
        Some("vm-1-port")
    );
}

#[test]
fn mismatched_drivers_are_refused_naming_both_keys() {
    let got = refused(
        "[DEFAULT]\ndefault_port_driver = nested\n[binding]\ndefault_driver = kuryr.lib.binding.drivers.vlan\nlink_iface = eth0\n",
        "[binding] default_driver",
    );
    assert_eq!(got, keys(&[("DEFAULT", "default_port_driver")]));
    refused(
        "[DEFAULT]\ndefault_port_driver = veth\n[binding]\ndefault_driver = macvlan\nlink_iface = eth0\n",
        "nested takes macvlan",
    );
}

#[test]
fn an_enabled_list_must_name_the_chosen_driver() {
    let got = refused(
        "[DEFAULT]\ndefault_port_driver = nested\nenabled_port_drivers = kuryr_libnetwork.port_driver.drivers.veth\n\
         [binding]\nlink_iface = eth0\n",
        "does not include the driver chosen by default_port_driver",
    );
    assert_eq!(got, keys(&[("DEFAULT", "enabled_port_drivers")]));
    let got = refused(
        "[binding]\ndefault_driver = vlan\nenabled_drivers = kuryr.lib.binding.drivers.macvlan\nlink_iface = eth0\n",
        "chosen by default_driver",
    );
    assert_eq!(got, keys(&[("binding", "enabled_drivers")]));
    refused(
        "[binding]\ndefault_driver = macvlan\nenabled_drivers = macvlan, bogus\nlink_iface = eth0\n",
        "unknown binding driver \"bogus\"",
    );
}

#[test]
fn nested_mode_needs_a_link_and_the_neutron_backend() {
    let got = refused(
        "[binding]\ndefault_driver = macvlan\n",
        "the VM's network interface",
    );
    assert_eq!(got, keys(&[("binding", "link_iface")]));
    refused(
        "[binding]\ndefault_driver = macvlan\nlink_iface = way-too-long-for-linux\n",
        "invalid",
    );
    let errors = invalid(
        "[DEFAULT]\nbackend = embedded\n[binding]\ndefault_driver = macvlan\nlink_iface = eth0\n",
        &no_env(),
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(
        (errors[0].section.as_str(), errors[0].key.as_str()),
        ("binding", "default_driver")
    );
    assert!(
        errors[0].message.contains("neutron backend"),
        "{}",
        errors[0]
    );
}

#[test]
fn ipvlan_and_unknown_names_are_refused_sriov_is_ignored_as_before() {
    refused(
        "[binding]\ndefault_driver = kuryr.lib.binding.drivers.ipvlan\nlink_iface = eth0\n",
        "ipvlan is not supported",
    );
    refused(
        "[DEFAULT]\ndefault_port_driver = kuryr_libnetwork.port_driver.drivers.magic\n",
        "unknown port driver \"magic\"",
    );
    // kuryr-libnetwork never ran its SR-IOV drivers (B1): such files keep working, on veth.
    let loud = load_str(
        "[DEFAULT]\ndefault_port_driver = sriov\nport_driver = veth\n\
         [binding]\ndriver = kuryr.lib.binding.drivers.hw_veb\nlink_iface = eth0\n",
    );
    assert_eq!(loud.config.nesting, None);
    assert_eq!(
        warning_keys(&loud),
        keys(&[
            ("DEFAULT", "port_driver"),
            ("DEFAULT", "default_port_driver"),
            ("binding", "driver"),
            ("binding", "driver"),
            ("binding", "link_iface"),
        ])
    );
}

// `[vif_pool]` (port pools), which depends on the backend and the port driver.

#[test]
fn port_pools_are_off_by_default_and_take_kuryr_kubernetes_names() {
    assert_eq!(load_str(NEUTRON).config.port_pools, None);
    let on = load_str(&format!(
        "{NEUTRON}[vif_pool]\nenabled = True\nports_pool_min = 3\nports_pool_max = 9\n\
         ports_pool_batch = 4\nports_pool_update_frequency = 7\n"
    ));
    assert!(on.warnings.is_empty(), "{:?}", on.warnings);
    let pools = on.config.port_pools.expect("pools on");
    assert_eq!((pools.min, pools.max, pools.batch), (3, 9, 4));
    assert_eq!(pools.update_frequency, std::time::Duration::from_secs(7));
    let defaults = load_str(&format!("{NEUTRON}[vif_pool]\nenabled = yes\n"));
    assert_eq!(
        defaults.config.port_pools,
        Some(super::PortPools::default())
    );
}

#[test]
fn port_pool_mistakes_are_refused_by_name() {
    let pools = |body: &str| format!("[vif_pool]\nenabled = True\n{body}");
    assert_eq!(
        refused(&pools("ports_pool_batch = 0\n"), "at least 1"),
        keys(&[("vif_pool", "ports_pool_batch")])
    );
    assert_eq!(
        refused(
            &pools("ports_pool_min = 6\nports_pool_max = 5\n"),
            "above ports_pool_max"
        ),
        keys(&[("vif_pool", "ports_pool_min")])
    );
    assert_eq!(
        refused(&pools("ports_pool_min = many\n"), "integer"),
        keys(&[("vif_pool", "ports_pool_min")])
    );
    assert_eq!(
        refused(
            &format!(
                "{}[binding]\ndefault_driver = macvlan\nlink_iface = eth0\n",
                pools("")
            ),
            "nested mode"
        ),
        keys(&[("vif_pool", "enabled")])
    );
}

#[test]
fn port_pools_on_the_embedded_backend_are_a_warning() {
    let loaded = load_str("[DEFAULT]\nbackend = embedded\n[vif_pool]\nenabled = True\n");
    assert_eq!(loaded.config.port_pools, None);
    assert_eq!(
        warning_keys(&loaded),
        vec![("vif_pool".to_string(), "enabled".to_string())]
    );
}
