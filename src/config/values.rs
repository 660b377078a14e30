//! Scalar value types as oslo.config's `types` module converts them, so a
//! value kuryr-libnetwork accepted is accepted here, and the reverse.

use std::path::PathBuf;

/// oslo's boolean words, in one table. A `BoolOpt` (`types.Boolean`) takes the
/// first [`BOOL_OPT_WORDS`] of each list; `strutils.bool_from_string`, which Neutron
/// applies to a boolean sent as a string (kuryr-lib's `enable_dhcp` is a `StrOpt`)
/// and kuryr-libnetwork to `-o neutron.net.shared`, also takes `t`/`y` and `f`/`n`.
const TRUE_WORDS: [&str; 6] = ["true", "1", "on", "yes", "t", "y"];
const FALSE_WORDS: [&str; 6] = ["false", "0", "off", "no", "f", "n"];
const BOOL_OPT_WORDS: usize = 4;

/// Which of oslo's two boolean vocabularies a value is read with.
#[derive(Clone, Copy)]
enum Words {
    /// `types.Boolean`: case-insensitive, not trimmed, nothing else (not even empty).
    BoolOpt,
    /// `strutils.bool_from_string`: trimmed, case-insensitive, `t`/`y`/`f`/`n` too.
    String,
}

/// The one boolean parser: `None` for a word outside the vocabulary.
fn oslo_bool(value: &str, words: Words) -> Option<bool> {
    let (value, count) = match words {
        Words::BoolOpt => (value.to_lowercase(), BOOL_OPT_WORDS),
        Words::String => (value.trim().to_lowercase(), TRUE_WORDS.len()),
    };
    if TRUE_WORDS[..count].contains(&value.as_str()) {
        Some(true)
    } else if FALSE_WORDS[..count].contains(&value.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// A `BoolOpt` value (`types.Boolean`).
pub fn parse_bool(value: &str) -> Result<bool, String> {
    oslo_bool(value, Words::BoolOpt)
        .ok_or_else(|| "expected a boolean: true/false, yes/no, on/off or 1/0".to_owned())
}

/// A boolean kept as a string option, as `strutils.bool_from_string(strict=True)`
/// reads it.
pub fn parse_bool_string(value: &str) -> Result<bool, String> {
    oslo_bool(value, Words::String)
        .ok_or_else(|| "expected a boolean: true/false, yes/no, on/off, 1/0, t/f or y/n".to_owned())
}

/// `strutils.bool_from_string(value)` (not strict): anything else is false.
pub fn bool_from_string(value: &str) -> bool {
    oslo_bool(value, Words::String).unwrap_or(false)
}

/// `types.Integer` with a lower bound. Python's `int()` allows surrounding
/// whitespace and a sign, which `str::parse` does after trimming.
pub fn parse_int_min(value: &str, min: i64) -> Result<i64, String> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(format!("must be at least {min}")),
        Err(_) => Err("expected an integer".to_owned()),
    }
}

/// A `StrOpt` with `choices`: an exact, case-sensitive match.
pub fn parse_choice<T: Copy>(value: &str, choices: &[(&str, T)]) -> Result<T, String> {
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
            format!("expected {}", or_list(&names))
        })
}

/// "a or b", "a, b or c".
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A directory the plugin owns. Relative paths would depend on the working
/// directory the service manager happens to use.
pub fn parse_absolute_dir(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err("must be an absolute path".to_owned())
    }
}

/// The longest `veth_dst_prefix`: Docker appends the interface index, and
/// Linux names hold 15 bytes, so two digits stay free.
pub const MAX_VETH_DST_PREFIX: usize = 13;

/// `[binding] veth_dst_prefix`: the container-side interface name stem.
pub fn parse_veth_dst_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.len() > MAX_VETH_DST_PREFIX {
        return Err(format!("must be at most {MAX_VETH_DST_PREFIX} bytes"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err("may only contain a-z, 0-9, '_' and '-'".to_owned());
    }
    Ok(value.to_owned())
}

/// A name handed to Docker as is; empty would confuse it.
pub fn parse_non_empty(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_the_oslo_way() {
        for v in ["true", "True", "TRUE", "1", "on", "On", "yes", "YES"] {
            assert_eq!(parse_bool(v), Ok(true), "{v}");
            assert_eq!(parse_bool_string(v), Ok(true), "{v}");
        }
        for v in ["false", "False", "0", "off", "OFF", "no", "No"] {
            assert_eq!(parse_bool(v), Ok(false), "{v}");
            assert_eq!(parse_bool_string(v), Ok(false), "{v}");
        }
        for v in ["", "y", "n", "2", "truee", "enabled", " true"] {
            assert!(parse_bool(v).is_err(), "{v}");
        }
        // strutils: one letter and surrounding blanks too.
        for (v, want) in [
            ("t", true),
            ("Y", true),
            (" yes ", true),
            ("f", false),
            ("N", false),
        ] {
            assert_eq!(parse_bool_string(v), Ok(want), "{v}");
            assert_eq!(bool_from_string(v), want, "{v}");
        }
        for v in ["", "2", "maybe"] {
            assert!(parse_bool_string(v).is_err(), "{v}");
            assert!(!bool_from_string(v), "{v}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_int_min("0", 0), Ok(0));
        assert_eq!(parse_int_min("+30", 0), Ok(30));
        assert!(parse_int_min("-1", 0).unwrap_err().contains("at least 0"));
        assert!(parse_int_min("1.5", 0).unwrap_err().contains("integer"));
    }

    #[test]
    fn choices_are_case_sensitive() {
        let choices = [("local", 1), ("global", 2)];
        assert_eq!(parse_choice("global", &choices), Ok(2));
        assert_eq!(
            parse_choice("Global", &choices),
            Err("expected local or global".to_owned())
        );
        assert_eq!(
            parse_choice("x", &[("a", 1), ("b", 2), ("c", 3)]),
            Err("expected a, b or c".to_owned())
        );
    }

    #[test]
    fn veth_prefix() {
        assert_eq!(parse_veth_dst_prefix("eth"), Ok("eth".to_owned()));
        assert!(parse_veth_dst_prefix("abcdefghij-_0").is_ok());
        assert!(parse_veth_dst_prefix("").is_err());
        assert!(parse_veth_dst_prefix("abcdefghijklmn").is_err());
        assert!(parse_veth_dst_prefix("Eth").is_err());
        assert!(parse_veth_dst_prefix("e th").is_err());
        assert!(parse_veth_dst_prefix("eth/").is_err());
    }

    #[test]
    fn absolute_dirs() {
        assert_eq!(
            parse_absolute_dir("/var/lib/kuryr"),
            Ok("/var/lib/kuryr".into())
        );
        assert!(parse_absolute_dir("var/lib").is_err());
        assert!(parse_absolute_dir("").is_err());
    }
}
