//! The option names kuryr-libnetwork, kuryr-lib, oslo.log and keystoneauth
//! register, plus ours. A key in one of these tables never draws an "unknown
//! option" warning; what its value means is decided in `validate`.

/// `[DEFAULT]` options.
pub const DEFAULT_KEYS: &[&str] = &[
    // Read by this plugin.
    "kuryr_uri",
    "capability_scope",
    "local_default_address_space",
    "global_default_address_space",
    "process_external_connectivity",
    "debug",
    // New in the Rust plugin.
    "backend",
    "state_dir",
    "default_address_pools",
    "spec_dir",
    "log_level",
    "allow_remote_listen",
    "socket_group",
    "lock_file",
    "metrics_listen",
    // kuryr-libnetwork options that are unused, or that draw a warning.
    "pybasedir",
    "port_driver",
    "default_port_driver",
    "enabled_port_drivers",
    "ssl_cert_file",
    "ssl_key_file",
    "enable_ssl",
    // kuryr-lib.
    "bindir",
    "subnetpool_name_prefix",
    "deployment_type",
    // oslo.log: accepted so existing files load quietly; logging goes where
    // the binary sends it.
    "log_file",
    "log_dir",
    "log_config_append",
    "log_date_format",
    "use_syslog",
    "use_journal",
    "use_json",
    "use_stderr",
    "log_color",
    "syslog_log_facility",
    "logging_context_format_string",
    "logging_default_format_string",
    "logging_debug_format_suffix",
    "logging_exception_prefix",
    "logging_user_identity_format",
    "default_log_levels",
    "publish_errors",
    "instance_format",
    "instance_uuid_format",
    "rate_limit_interval",
    "rate_limit_burst",
    "rate_limit_except_level",
    "fatal_deprecations",
    "watch_log_file",
    "log_rotation_type",
    "log_rotate_interval",
    "log_rotate_interval_type",
    "max_logfile_count",
    "max_logfile_size_mb",
];

/// `[neutron]` options: kuryr-lib's own, keystoneauth's session, plugin
/// selection and plugin options, and the adapter options.
pub const NEUTRON_KEYS: &[&str] = &[
    "enable_dhcp",
    "default_subnetpool_v4",
    "default_subnetpool_v6",
    "vif_plugging_is_fatal",
    "vif_plugging_timeout",
    "region_name",
    "endpoint_type",
    "cafile",
    "certfile",
    "keyfile",
    "insecure",
    "timeout",
    "collect_timing",
    "split_loggers",
    "tls_ciphers",
    "tls_min_version",
    "auth_type",
    "auth_plugin",
    "auth_section",
    "auth_url",
    "username",
    "user_name",
    "user_id",
    "password",
    "user_domain_name",
    "user_domain_id",
    "project_name",
    "project_id",
    "tenant_name",
    "tenant_id",
    "project_domain_name",
    "project_domain_id",
    "domain_name",
    "domain_id",
    "default_domain_name",
    "default_domain_id",
    "system_scope",
    "trust_id",
    "token",
    "endpoint",
    "application_credential_id",
    "application_credential_name",
    "application_credential_secret",
    "interface",
    "service_type",
    "service_name",
    "valid_interfaces",
    // New, for the Neutron backend.
    "binding_host",
    "ovs_bridge",
];

/// `[binding]` options (kuryr-lib).
pub const BINDING_KEYS: &[&str] = &[
    "veth_dst_prefix",
    "default_driver",
    "driver",
    "enabled_drivers",
    "link_iface",
    // New: the VM's own port for nested mode, instead of finding it by link_iface's MAC.
    "vm_port",
];

/// Old `[neutron]` names and the name that replaced them. keystoneauth
/// registers these as oslo deprecated names, so the new name wins when both
/// are set. The one table: `clouds.yaml` entries are folded with it too.
pub const NEUTRON_ALIASES: &[(&str, &str)] = &[
    ("auth_plugin", "auth_type"),
    ("user_name", "username"),
    ("tenant_name", "project_name"),
    ("tenant_id", "project_id"),
];

/// Old `[binding]` names and the name that replaced them.
pub const BINDING_ALIASES: &[(&str, &str)] = &[("driver", "default_driver")];

/// The sections we know, with their known keys.
pub const SECTIONS: &[(&str, &[&str])] = &[
    (super::raw::DEFAULT_SECTION, DEFAULT_KEYS),
    ("neutron", NEUTRON_KEYS),
    ("binding", BINDING_KEYS),
    (super::vif_pool::SECTION, super::vif_pool::KEYS),
];

/// Shown instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Whether a value must never be printed.
pub fn is_secret(key: &str) -> bool {
    key == "token" || key.contains("secret") || key.contains("password")
}

/// The newer name of a deprecated option, if `key` is one.
pub fn replacement(aliases: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    aliases
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(_, new)| *new)
}
