//! How the fake says no: a status with Neutron's `NeutronError` type and message,
//! shared by the core model (`model.rs`) and nested mode's (`nested.rs`).

/// A request Neutron refuses: its status and `NeutronError` type and message.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
}

pub type Outcome<T> = Result<T, Refusal>;

pub fn refuse<T>(status: u16, kind: &'static str, message: String) -> Outcome<T> {
    Err(Refusal {
        status,
        kind,
        message,
    })
}

/// Neutron's `InvalidInput`, which wraps the message.
pub fn invalid<T>(message: String) -> Outcome<T> {
    refuse(
        400,
        "InvalidInput",
        format!("Invalid input for operation: {message}."),
    )
}

/// Neutron's 404 for a missing item of `coll` (`PortNotFound`, ...).
pub fn missing(coll: &str, id: &str) -> Refusal {
    let (kind, what, tail) = match coll {
        "ports" => ("PortNotFound", "Port", "could not be found."),
        "networks" => ("NetworkNotFound", "Network", "could not be found."),
        "subnets" => ("SubnetNotFound", "Subnet", "could not be found."),
        "subnetpools" => ("SubnetPoolNotFound", "Subnet pool", "could not be found."),
        "trunks" => ("TrunkNotFound", "Trunk", "could not be found."),
        "security-groups" => ("SecurityGroupNotFound", "Security group", "does not exist"),
        _ => ("NotFound", "Item", "could not be found."),
    };
    Refusal {
        status: 404,
        kind,
        message: format!("{what} {id} {tail}"),
    }
}

/// [`missing`] as an outcome.
pub fn not_found<T>(coll: &str, id: &str) -> Outcome<T> {
    Err(missing(coll, id))
}
