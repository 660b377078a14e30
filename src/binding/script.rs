//! kuryr-lib binding scripts (`<bindir>/<vif_type>`) for vif_types this
//! plugin does not plug natively: finding an executable script, building its
//! argv exactly as kuryr-lib does (including the Python `repr` of
//! `binding:vif_details`), and running it. It never writes or installs
//! scripts, and never runs one for "unbound" or "binding_failed".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{BindError, Vif, exec};

/// kuryr-lib waits for its scripts forever; a hung script would hang the
/// Docker call, so give up after this.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The vif_types kuryr-lib ships a script for and this plugin does not plug
/// natively ("ovs", "bridge" and "tap" are native; "unbound" only fails).
/// Any other vif_type would run whatever executable happens to be called
/// that in `bindir`, chosen by a field Neutron sends.
pub(super) const SCRIPT_VIF_TYPES: &[&str] = &["midonet", "iovisor"];

/// `<bindir>/<vif_type>` if the vif_type is one of [`SCRIPT_VIF_TYPES`] and
/// the file is executable; otherwise why not.
pub(super) async fn find(bindir: &Path, vif_type: &str) -> Result<PathBuf, String> {
    if !SCRIPT_VIF_TYPES.contains(&vif_type) {
        return Err(format!(
            "kuryr-lib has no binding script for it (scripts run only for {})",
            SCRIPT_VIF_TYPES.join(", ")
        ));
    }
    let path = bindir.join(vif_type);
    let missing = || format!("no executable binding script {}", path.display());
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return Err(missing());
    };
    if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
        Ok(path)
    } else {
        Err(missing())
    }
}

/// Characters an id or a vif_details atom may hold. kuryr-lib's bash scripts
/// expand their arguments unquoted, so anything a shell would split, glob or
/// reinterpret (spaces, `*`, `$`, quotes, ...) is refused before a script runs.
fn safe(value: &str) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.:/@+=".contains(c))
}

/// Refuses a `Vif` whose script arguments are not all plain: the port,
/// endpoint and network ids non-empty and [`safe`], the project id [`safe`]
/// (it may be empty without Keystone), and every key and string of
/// vif_details [`safe`] (its Python repr adds only our own quoting).
pub(super) fn check_args(vif: &Vif) -> Result<(), BindError> {
    let bad = |reason: String| BindError::BadVif {
        port_id: vif.port_id.clone(),
        reason,
    };
    for (what, value, may_be_empty) in [
        ("port id", &vif.port_id, false),
        ("endpoint id", &vif.endpoint_id, false),
        ("network id", &vif.network_id, false),
        ("project id", &vif.project_id, true),
    ] {
        if (value.is_empty() && !may_be_empty) || value.len() > 255 || !safe(value) {
            return Err(bad(format!(
                "{what} {value:?} cannot be passed to a binding script \
                 (only letters, digits and -_.:/@+=)"
            )));
        }
    }
    check_details(&vif.vif_details).map_err(|atom| {
        bad(format!(
            "binding:vif_details holds {atom:?}, which cannot be passed to a binding \
             script (only letters, digits and -_.:/@+=)"
        ))
    })
}

fn check_details(value: &Value) -> Result<(), String> {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        Value::String(s) if safe(s) => Ok(()),
        Value::String(s) => Err(s.clone()),
        Value::Array(items) => items.iter().try_for_each(check_details),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            if safe(k) {
                check_details(v)
            } else {
                Err(k.clone())
            }
        }),
    }
}

/// kuryr-lib's bind argv:
/// `bind <port_id> <tap> <endpoint_id> <mac> <network_id> <project_id> <vif_details>`.
pub(super) fn bind_args(vif: &Vif, tap: &str, mac: &str) -> Result<Vec<String>, BindError> {
    check_args(vif)?;
    Ok(vec![
        "bind".into(),
        vif.port_id.clone(),
        tap.into(),
        vif.endpoint_id.clone(),
        mac.into(),
        vif.network_id.clone(),
        vif.project_id.clone(),
        vif_details_arg(&vif.vif_details),
    ])
}

/// kuryr-lib's unbind argv; note the order differs from bind:
/// `unbind <port_id> <tap> <endpoint_id> <mac> <vif_details> <network_id>`.
pub(super) fn unbind_args(vif: &Vif, tap: &str, mac: &str) -> Result<Vec<String>, BindError> {
    check_args(vif)?;
    Ok(vec![
        "unbind".into(),
        vif.port_id.clone(),
        tap.into(),
        vif.endpoint_id.clone(),
        mac.into(),
        vif_details_arg(&vif.vif_details),
        vif.network_id.clone(),
    ])
}

pub(super) async fn run(script: &Path, args: &[String]) -> Result<(), BindError> {
    exec::run(script.as_os_str(), args, SCRIPT_TIMEOUT)
        .await
        .map(drop)
}

/// kuryr-lib's `string_mappings`: `'"' + str(details) + '"'` when the details
/// are truthy in Python, else `str(None)`. The scripts depend on the format
/// (the ovs one greps for `'ovs_hybrid_plug': True`). Keys come out sorted
/// (serde_json's map order) where Python would keep Neutron's order; no
/// script depends on the order.
pub(crate) fn vif_details_arg(details: &Value) -> String {
    if python_truthy(details) {
        format!("\"{}\"", python_repr(details))
    } else {
        "None".to_owned()
    }
}

fn python_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python's `repr` of the value as `json.loads` would have built it.
fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), float_repr),
        Value::Number(n) => n.to_string(),
        Value::String(s) => str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", str_repr(k), python_repr(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Python's float repr. Rust's `{:?}` picks the same shortest digits and the
/// same switch to exponent notation (exponent < -4 or >= 16); Python writes
/// the exponent with a sign and at least two digits ("1e+16", "1e-07").
fn float_repr(f: f64) -> String {
    let rust = format!("{f:?}");
    let Some((mantissa, exp)) = rust.split_once('e') else {
        return rust;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// Python's `str.__repr__`: single quotes unless the text has a single quote
/// and no double quote; backslash escapes for the quote, backslash, \t \n \r,
/// and \x/\u/\U for characters Python does not print. Python's "printable"
/// is approximated by "not a control, format or non-ASCII space character",
/// which covers everything Neutron puts in vif_details.
fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if printable(c) => out.push(c),
            c => {
                let code = u32::from(c);
                let escaped = if code <= 0xff {
                    format!("\\x{code:02x}")
                } else if code <= 0xffff {
                    format!("\\u{code:04x}")
                } else {
                    format!("\\U{code:08x}")
                };
                out.push_str(&escaped);
            }
        }
    }
    out.push(quote);
    out
}

/// Non-ASCII characters Python's `str.isprintable` accepts (approximately:
/// see [`str_repr`]).
fn printable(c: char) -> bool {
    let code = u32::from(c);
    // Format (Cf), private use (Co) and noncharacters (Cn).
    let unprintable = matches!(
        code,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f
            | 0x202a..=0x202e | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb
            | 0xe000..=0xf8ff | 0xe0001..=0xe007f | 0xfdd0..=0xfdef | 0xf0000..=0x10ffff
    ) || code & 0xfffe == 0xfffe;
    !c.is_control() && !c.is_whitespace() && !unprintable
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vif(details: Value) -> Vif {
        Vif {
            port_id: "p1".into(),
            endpoint_id: "e1".into(),
            network_id: "n1".into(),
            project_id: "t1".into(),
            mac: "FA:16:3E:00:00:01".into(),
            mtu: Some(1450),
            vif_type: "midonet".into(),
            vif_details: details,
            vlan: None,
        }
    }

    #[test]
    fn vif_details_are_pythons_repr_in_double_quotes() {
        assert_eq!(
            vif_details_arg(&json!({"port_filter": true, "ovs_hybrid_plug": true})),
            "\"{'ovs_hybrid_plug': True, 'port_filter': True}\""
        );
        assert_eq!(
            vif_details_arg(&json!({"port_filter": false, "connectivity": "l2", "n": null})),
            "\"{'connectivity': 'l2', 'n': None, 'port_filter': False}\""
        );
        assert_eq!(
            vif_details_arg(&json!({"bridge_name": "br-int", "datapath_type": "system",
                "mtu": 1450, "x": [1, -2, "a"], "y": {"z": 0.5}})),
            "\"{'bridge_name': 'br-int', 'datapath_type': 'system', 'mtu': 1450, \
             'x': [1, -2, 'a'], 'y': {'z': 0.5}}\""
        );
    }

    #[test]
    fn falsy_vif_details_are_the_literal_none() {
        for falsy in [
            json!(null),
            json!({}),
            json!([]),
            json!(""),
            json!(0),
            json!(false),
        ] {
            assert_eq!(vif_details_arg(&falsy), "None", "{falsy}");
        }
        assert_eq!(vif_details_arg(&json!([0])), "\"[0]\"");
    }

    #[test]
    fn strings_are_quoted_and_escaped_like_python() {
        assert_eq!(str_repr("plain"), "'plain'");
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(str_repr("both ' and \""), "'both \\' and \"'");
        assert_eq!(str_repr("a\\b\tc\nd\re"), "'a\\\\b\\tc\\nd\\re'");
        assert_eq!(str_repr("\u{1}\u{7f}\u{85}"), "'\\x01\\x7f\\x85'");
        assert_eq!(
            str_repr("\u{a0}\u{200b}\u{10ffff}"),
            "'\\xa0\\u200b\\U0010ffff'"
        );
        assert_eq!(str_repr("ünï 日本"), "'ünï 日本'");
    }

    #[test]
    fn floats_are_written_like_python() {
        for (f, py) in [
            (0.5, "0.5"),
            (1.0, "1.0"),
            (-2.25, "-2.25"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.25e100, "1.25e+100"),
        ] {
            assert_eq!(float_repr(f), py, "{f}");
        }
    }

    #[test]
    fn argv_follows_kuryr_libs_order() {
        let v = vif(json!({"port_filter": true}));
        assert_eq!(
            bind_args(&v, "tapp1", "fa:16:3e:00:00:01").unwrap(),
            [
                "bind",
                "p1",
                "tapp1",
                "e1",
                "fa:16:3e:00:00:01",
                "n1",
                "t1",
                "\"{'port_filter': True}\""
            ]
        );
        assert_eq!(
            unbind_args(&vif(json!({})), "tapp1", "fa:16:3e:00:00:01").unwrap(),
            [
                "unbind",
                "p1",
                "tapp1",
                "e1",
                "fa:16:3e:00:00:01",
                "None",
                "n1"
            ]
        );
    }

    #[tokio::test]
    async fn only_executable_scripts_of_known_vif_types_run() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("midonet", 0o755);
        write("iovisor", 0o644);
        write("vrouter", 0o755);
        write("rm", 0o755);
        assert_eq!(
            find(dir.path(), "midonet").await,
            Ok(dir.path().join("midonet"))
        );
        let err = find(dir.path(), "iovisor").await.unwrap_err();
        assert!(err.contains("no executable binding script"), "{err}");
        for unknown in ["vrouter", "rm", "", ".", "..", "../midonet", "a/b"] {
            let err = find(dir.path(), unknown).await.unwrap_err();
            assert!(
                err.contains("scripts run only for midonet, iovisor"),
                "{err}"
            );
        }
    }

    #[test]
    fn script_arguments_must_be_plain() {
        let uuid = "0b0e8a57-3a4c-4a8f-9d2e-1f5a6b7c8d9e";
        let mut ok = vif(json!({"port_filter": true, "bridge_name": "br-int",
            "vhostuser_socket": "/var/run/openvswitch/vhu1", "bound_drivers": {"0": "openvswitch"}}));
        ok.network_id = uuid.into();
        ok.project_id = String::new();
        check_args(&ok).unwrap();
        let cases: [fn(&mut Vif); 9] = [
            |v| v.endpoint_id = "e1; rm -rf /".into(),
            |v| v.network_id = "$(reboot)".into(),
            |v| v.network_id = String::new(),
            |v| v.project_id = "a b".into(),
            |v| v.endpoint_id = "x".repeat(256),
            |v| v.vif_details = json!({"k": "a b"}),
            |v| v.vif_details = json!({"k": ["ok", "*"]}),
            |v| v.vif_details = json!({"it's": 1}),
            |v| v.vif_details = json!({"k": {"n": "`id`"}}),
        ];
        for (i, change) in cases.iter().enumerate() {
            let mut v = ok.clone();
            change(&mut v);
            let err = check_args(&v).unwrap_err();
            assert!(matches!(err, BindError::BadVif { .. }), "case {i}: {err}");
            assert!(
                bind_args(&v, "tapp1", "fa:16:3e:00:00:01").is_err(),
                "case {i}"
            );
            assert!(
                unbind_args(&v, "tapp1", "fa:16:3e:00:00:01").is_err(),
                "case {i}"
            );
        }
    }
}
