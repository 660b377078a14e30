//! Trunk subports and conditional port updates: the two Neutron calls of nested
//! (VM) mode that are not plain CRUD. The driver decides which port and which VLAN.

use reqwest::Method;
use serde_json::json;

use super::request::{self, Kind};
use super::types::{Body, Port, PortUpdate, SubPort};
use super::{Client, NeutronError};

impl Client {
    /// Updates port `id` only if its `revision_number` is still `revision`
    /// (`If-Match`); a 412 means someone changed it since it was read.
    pub async fn update_port_if_unchanged(
        &self,
        id: &str,
        revision: u64,
        body: &PortUpdate,
    ) -> Result<Port, NeutronError> {
        let key = <PortUpdate as Body>::KIND.singular();
        let body = json!({ key: body });
        let condition = format!("revision_number={revision}");
        let answer = self
            .send_if_match(
                Method::PUT,
                &request::item_path(Kind::Ports, id),
                Some(&body),
                Some(&condition),
            )
            .await?;
        super::resources::decode(&answer, key)
    }

    /// `PUT /v2.0/trunks/{trunk}/add_subports`. Neutron refuses (409) a
    /// segmentation id the trunk already uses.
    pub async fn add_subports(&self, trunk: &str, ports: &[SubPort]) -> Result<(), NeutronError> {
        let body = json!({ "sub_ports": ports });
        self.send(
            Method::PUT,
            &trunk_action(trunk, "add_subports"),
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `PUT /v2.0/trunks/{trunk}/remove_subports`; a trunk already gone is success.
    pub async fn remove_subports(&self, trunk: &str, ports: &[&str]) -> Result<(), NeutronError> {
        let items: Vec<_> = ports.iter().map(|p| json!({ "port_id": p })).collect();
        let body = json!({ "sub_ports": items });
        match self
            .send(
                Method::PUT,
                &trunk_action(trunk, "remove_subports"),
                Some(&body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn trunk_action(trunk: &str, action: &str) -> String {
    format!(
        "{}/{}/{action}",
        request::collection_path_raw("trunks"),
        request::segment(trunk)
    )
}
