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

/// `<bindir>/<vif_type>` if it is an executable file. vif_types that are not
/// a plain file name (empty, ".", "..", containing '/') never name a script.
pub(super) async fn find(bindir: &Path, vif_type: &str) -> Option<PathBuf> {
    if vif_type.is_empty() || vif_type == "." || vif_type == ".." || vif_type.contains('/') {
        return None;
    }
    let path = bindir.join(vif_type);
    let meta = tokio::fs::metadata(&path).await.ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(path)
}

/// kuryr-lib's bind argv:
/// `bind <port_id> <tap> <endpoint_id> <mac> <network_id> <project_id> <vif_details>`.
pub(super) fn bind_args(vif: &Vif, tap: &str, mac: &str) -> Vec<String> {
    vec![
        "bind".into(),
        vif.port_id.clone(),
        tap.into(),
        vif.endpoint_id.clone(),
        mac.into(),
        vif.network_id.clone(),
        vif.project_id.clone(),
        vif_details_arg(&vif.vif_details),
    ]
}

/// kuryr-lib's unbind argv; note the order differs from bind:
/// `unbind <port_id> <tap> <endpoint_id> <mac> <vif_details> <network_id>`.
pub(super) fn unbind_args(vif: &Vif, tap: &str, mac: &str) -> Vec<String> {
    vec![
        "unbind".into(),
        vif.port_id.clone(),
        tap.into(),
        vif.endpoint_id.clone(),
        mac.into(),
        vif_details_arg(&vif.vif_details),
        vif.network_id.clone(),
    ]
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
            bind_args(&v, "tapp1", "fa:16:3e:00:00:01"),
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
            unbind_args(&vif(json!({})), "tapp1", "fa:16:3e:00:00:01"),
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
    async fn only_executable_files_named_by_the_vif_type_are_scripts() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("midonet", 0o755);
        write("plain", 0o644);
        std::fs::create_dir(dir.path().join("adir")).unwrap();
        assert_eq!(
            find(dir.path(), "midonet").await,
            Some(dir.path().join("midonet"))
        );
        for none in [
            "plain",
            "adir",
            "missing",
            "",
            ".",
            "..",
            "../midonet",
            "a/b",
        ] {
            assert_eq!(find(dir.path(), none).await, None, "{none:?}");
        }
    }
}
