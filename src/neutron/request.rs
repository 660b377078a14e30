//! Sans-IO request building: resource kinds, paths relative to the network endpoint,
//! and neutronclient-compatible query strings. Sending them is `mod.rs`'s job.

/// A Neutron collection. Serialized by its URL segment's name in journals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Networks,
    Subnets,
    SubnetPools,
    AddressScopes,
    Ports,
    SecurityGroups,
    SecurityGroupRules,
    /// Read only: which hosts Neutron's agents report (`kuryr doctor`).
    Agents,
}

impl Kind {
    /// The URL path segment (`address-scopes`).
    pub fn path(self) -> &'static str {
        match self {
            Kind::Networks => "networks",
            Kind::Subnets => "subnets",
            Kind::SubnetPools => "subnetpools",
            Kind::AddressScopes => "address-scopes",
            Kind::Ports => "ports",
            Kind::SecurityGroups => "security-groups",
            Kind::SecurityGroupRules => "security-group-rules",
            Kind::Agents => "agents",
        }
    }

    /// The JSON key of a list (`address_scopes`); `{key}_links` holds pagination.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::AddressScopes => "address_scopes",
            Kind::SecurityGroups => "security_groups",
            Kind::SecurityGroupRules => "security_group_rules",
            other => other.path(),
        }
    }

    /// The JSON key of one item (`address_scope`).
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Networks => "network",
            Kind::Subnets => "subnet",
            Kind::SubnetPools => "subnetpool",
            Kind::AddressScopes => "address_scope",
            Kind::Ports => "port",
            Kind::SecurityGroups => "security_group",
            Kind::SecurityGroupRules => "security_group_rule",
            Kind::Agents => "agent",
        }
    }
}

/// Percent-encodes one path segment, leaving `:` `.` `@` and friends readable, as
/// kuryr's tags (`kuryr.net.uuid.lh:<hex>`) are sent unescaped.
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `v2.0/{kind}`.
pub fn collection_path(kind: Kind) -> String {
    format!("v2.0/{}", kind.path())
}

/// `v2.0/{name}` for collections that are not a `Kind` (extensions).
pub fn collection_path_raw(name: &str) -> String {
    format!("v2.0/{name}")
}

/// `v2.0/{kind}/{id}`.
pub fn item_path(kind: Kind, id: &str) -> String {
    format!("v2.0/{}/{}", kind.path(), segment(id))
}

/// `v2.0/{kind}/{id}/tags[/{tag}]`.
pub fn tags_path(kind: Kind, id: &str, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("{}/tags/{}", item_path(kind, id), segment(tag)),
        None => format!("{}/tags", item_path(kind, id)),
    }
}

/// `v2.0/extensions/{alias}`.
pub fn extension_path(alias: &str) -> String {
    format!("v2.0/extensions/{}", segment(alias))
}

/// List filters, encoded like neutronclient's `urlencode(doseq=1)`: repeated keys for
/// lists, `fixed_ips=subnet_id%3D...`, and `tags` as one comma-joined value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn new() -> Query {
        Query::default()
    }

    /// Adds `key=value` (repeat the call for a list-valued filter).
    pub fn eq(mut self, key: &str, value: &str) -> Query {
        self.0.push((key.to_string(), value.to_string()));
        self
    }

    /// `tags=a,b`: items that have all of these tags.
    pub fn tags<S: AsRef<str>>(self, tags: &[S]) -> Query {
        let joined = tags.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(",");
        self.eq("tags", &joined)
    }

    /// `fixed_ips=subnet_id=<id>`.
    pub fn fixed_ip_subnet(self, subnet_id: &str) -> Query {
        self.eq("fixed_ips", &format!("subnet_id={subnet_id}"))
    }

    /// `fixed_ips=ip_address=<ip>`.
    pub fn fixed_ip_address(self, ip: &str) -> Query {
        self.eq("fixed_ips", &format!("ip_address={ip}"))
    }

    /// `fields=<f>` for each field: ask Neutron for only these attributes.
    pub fn fields(mut self, fields: &[&str]) -> Query {
        for f in fields {
            self = self.eq("fields", f);
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoded query string, without `?`.
    pub fn encode(&self) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            ser.append_pair(k, v);
        }
        ser.finish()
    }

    /// `path` plus `?query` when there is one.
    pub fn apply(&self, path: &str) -> String {
        if self.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", self.encode())
        }
    }
}

/// The query of a `rel=next` link, re-applied to our own path: like neutronclient we
/// trust only the link's query, not its host (proxies rewrite hosts badly).
pub fn next_page(path: &str, links: Option<&serde_json::Value>) -> Option<String> {
    let links = links?.as_array()?;
    let href = links
        .iter()
        .find(|l| l.get("rel").and_then(|r| r.as_str()) == Some("next"))?
        .get("href")?
        .as_str()?;
    let query = url::Url::parse(href).ok()?.query()?.to_string();
    let base = path.split('?').next().unwrap_or(path);
    Some(format!("{base}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_by_subnet_and_ip() {
        let q = Query::new()
            .fixed_ip_subnet("s1")
            .fixed_ip_address("10.0.0.5");
        assert_eq!(
            q.encode(),
            "fixed_ips=subnet_id%3Ds1&fixed_ips=ip_address%3D10.0.0.5"
        );
    }

    #[test]
    fn tags_joined_and_fields_repeated() {
        let q = Query::new()
            .eq("network_id", "X")
            .tags(&["a", "b"])
            .fields(&["id", "name"]);
        assert_eq!(
            q.apply("v2.0/ports"),
            "v2.0/ports?network_id=X&tags=a%2Cb&fields=id&fields=name"
        );
    }

    #[test]
    fn tag_path_keeps_colons_and_dots() {
        assert_eq!(
            tags_path(Kind::Networks, "n1", Some("kuryr.net.uuid.lh:ab/c")),
            "v2.0/networks/n1/tags/kuryr.net.uuid.lh:ab%2Fc"
        );
    }

    #[test]
    fn next_link_keeps_only_the_query() {
        let links = serde_json::json!([{"rel": "next", "href": "http://other:1/v2.0/ports?limit=2&marker=p2"}]);
        assert_eq!(
            next_page("v2.0/ports?x=1", Some(&links)).unwrap(),
            "v2.0/ports?limit=2&marker=p2"
        );
        assert_eq!(
            next_page(
                "v2.0/ports",
                Some(&serde_json::json!([{"rel": "previous", "href": "http://h/?a=1"}]))
            ),
            None
        );
    }

    #[test]
    fn kinds_name_their_keys() {
        assert_eq!(item_path(Kind::AddressScopes, "a"), "v2.0/address-scopes/a");
        assert_eq!(Kind::SecurityGroupRules.plural(), "security_group_rules");
        assert_eq!(Kind::SubnetPools.singular(), "subnetpool");
    }
}
