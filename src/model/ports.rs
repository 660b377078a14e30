//! Exposed ports and port bindings, as `--expose`, `-p` and `-P` give them. dockerd
//! sends them as JSON arrays of Go structs under its own option keys; `api::decode`
//! reads those once into these types.

use std::fmt;
use std::net::IpAddr;

/// The IP protocols Docker publishes; dockerd sends their protocol numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// From the IP protocol number dockerd sends (6, 17, 132).
    pub fn from_number(number: u64) -> Option<Protocol> {
        match number {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container port the image or `--expose` declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExposedPort {
    pub proto: Protocol,
    pub port: u16,
}

/// A published port: `-p [host_ip:]host_port[-host_port_end]:port[/proto]`, or `-P`
/// (host port 0: the driver picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortBinding {
    pub proto: Protocol,
    pub port: u16,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    /// Equal to `host_port` for a single port; 0 means "not a range".
    pub host_port_end: u16,
}
