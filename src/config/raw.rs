//! Stage one: INI text → [`RawConfig`], the strings exactly as oslo.config
//! would see them, with the line each came from. Nothing here knows what an
//! option means; [`super::validate`] does that.
//!
//! This is a port of `oslo_config/iniparser.py` plus the section handling of
//! `oslo_config.cfg.ConfigParser`, not a general INI reader. rust-ini was the
//! first choice, but it disagrees with oslo on files that exist in the wild:
//! oslo strips one pair of matching surrounding quotes, joins indented
//! continuation lines with `\n`, treats `\` literally, and rejects a line
//! without `=`/`:`, a missing `]` and an assignment before any section. A
//! drop-in must accept and refuse the same files, so the parser follows oslo
//! line for line. It also gives us line numbers, which rust-ini does not.

use std::fmt;

/// oslo's name for the section of options registered without a group. It is
/// the only section name that is case-sensitive.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// One `key = value` assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub key: String,
    pub value: String,
    /// 1-based line of the key (continuation lines follow it).
    pub line: usize,
}

/// All assignments of one section name, merged over repeated headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    /// The name as oslo looks it up: `DEFAULT` kept, any other lower-cased.
    pub name: String,
    /// 1-based line of the first header with this name.
    pub line: usize,
    /// In order of first appearance; a repeated key keeps its place and takes
    /// the last value, because oslo returns the last value of a single opt.
    pub entries: Vec<RawEntry>,
}

impl RawSection {
    pub fn get(&self, key: &str) -> Option<&RawEntry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// A parsed file: sections in order of first appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawConfig {
    pub sections: Vec<RawSection>,
}

impl RawConfig {
    pub fn section(&self, name: &str) -> Option<&RawSection> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn get(&self, section: &str, key: &str) -> Option<&RawEntry> {
        self.section(section).and_then(|s| s.get(key))
    }

    fn section_index(&mut self, name: String, line: usize) -> usize {
        if let Some(i) = self.sections.iter().position(|s| s.name == name) {
            return i;
        }
        self.sections.push(RawSection {
            name,
            line,
            entries: Vec::new(),
        });
        self.sections.len() - 1
    }

    fn assign(&mut self, section: usize, entry: RawEntry) {
        let Some(sec) = self.sections.get_mut(section) else {
            return;
        };
        match sec.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => sec.entries.push(entry),
        }
    }
}

/// An INI syntax error, with oslo's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// oslo normalises group names so `[Neutron]` is `[neutron]`, but leaves
/// `DEFAULT` alone, which makes `[default]` a different, unknown group.
fn normalize_section(name: &str) -> String {
    if name == DEFAULT_SECTION {
        name.to_owned()
    } else {
        name.to_lowercase()
    }
}

/// An assignment whose value may still grow by continuation lines.
struct Pending {
    key: String,
    lines: Vec<String>,
    line: usize,
}

/// Parse INI text the way oslo.config does.
pub fn parse(text: &str) -> Result<RawConfig, SyntaxError> {
    // Python would read a UTF-8 BOM as part of the first line and then fail
    // on it; accepting it costs nothing and helps files saved on Windows.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut raw = RawConfig::default();
    let mut section: Option<usize> = None;
    let mut pending: Option<Pending> = None;

    for (index, line) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = line.trim_end();
        if line.is_empty() {
            // A blank line ends a multi-line value.
            flush(&mut raw, section, pending.take())?;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match pending.as_mut() {
                Some(p) => p.lines.push(line.trim_start().to_owned()),
                None => {
                    return Err(SyntaxError {
                        line: lineno,
                        message: "unexpected continuation line".to_owned(),
                    });
                }
            }
            continue;
        }
        flush(&mut raw, section, pending.take())?;

        if line.starts_with('[') {
            // The header text is safe to echo; values are not (see below).
            let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
                return Err(SyntaxError {
                    line: lineno,
                    message: format!("invalid section (must end with ]): {line:?}"),
                });
            };
            if name.is_empty() {
                return Err(SyntaxError {
                    line: lineno,
                    message: "empty section name".to_owned(),
                });
            }
            section = Some(raw.section_index(normalize_section(name), lineno));
        } else if line.starts_with(['#', ';']) {
            // Comment.
        } else {
            let (key, value) = split_key_value(line).ok_or_else(|| SyntaxError {
                line: lineno,
                // oslo echoes the line; it may be a stray piece of a password.
                message: "no ':' or '=' found in assignment".to_owned(),
            })?;
            if key.is_empty() {
                return Err(SyntaxError {
                    line: lineno,
                    message: "key cannot be empty".to_owned(),
                });
            }
            pending = Some(Pending {
                key: key.to_owned(),
                lines: vec![value],
                line: lineno,
            });
        }
    }
    flush(&mut raw, section, pending)?;
    Ok(raw)
}

fn flush(
    raw: &mut RawConfig,
    section: Option<usize>,
    pending: Option<Pending>,
) -> Result<(), SyntaxError> {
    let Some(p) = pending else {
        return Ok(());
    };
    let Some(section) = section else {
        return Err(SyntaxError {
            line: p.line,
            message: format!("section must be started before assignment of {:?}", p.key),
        });
    };
    raw.assign(
        section,
        RawEntry {
            key: p.key,
            value: p.lines.join("\n"),
            line: p.line,
        },
    );
    Ok(())
}

/// Split on the first `:` or `=`, whichever comes first, then strip one pair
/// of matching surrounding quotes from the value, as oslo does.
fn split_key_value(line: &str) -> Option<(&str, String)> {
    let at = line.find([':', '='])?;
    let key = line[..at].trim();
    let value = line[at + 1..].trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
    let value = match unquoted {
        Some(inner) => inner,
        // oslo's `value[0] == value[-1]` also holds for a lone quote, which
        // it turns into an empty string.
        None if value == "\"" || value == "'" => "",
        None => value,
    };
    Some((key, value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(raw: &RawConfig, section: &str, key: &str) -> Option<String> {
        raw.get(section, key).map(|e| e.value.clone())
    }

    #[test]
    fn sections_keys_and_lines() {
        let raw = parse("# c\n[DEFAULT]\na = 1\n; c\nb: two words \n\n[neutron]\nc=3\n").unwrap();
        assert_eq!(value(&raw, "DEFAULT", "a").as_deref(), Some("1"));
        assert_eq!(value(&raw, "DEFAULT", "b").as_deref(), Some("two words"));
        assert_eq!(raw.get("DEFAULT", "b").unwrap().line, 5);
        assert_eq!(raw.get("neutron", "c").unwrap().line, 8);
        assert_eq!(raw.section("neutron").unwrap().line, 7);
    }

    #[test]
    fn first_separator_wins() {
        let raw = parse("[DEFAULT]\nkuryr_uri = http://127.0.0.1:23750\nx: a=b\n").unwrap();
        assert_eq!(
            value(&raw, "DEFAULT", "kuryr_uri").as_deref(),
            Some("http://127.0.0.1:23750")
        );
        assert_eq!(value(&raw, "DEFAULT", "x").as_deref(), Some("a=b"));
    }

    #[test]
    fn quotes_are_stripped_like_oslo() {
        let raw = parse("[s]\na = \"x y\"\nb = 'z'\nc = \"mixed'\nd = \"\ne = a \"b\"\nf = ''\n")
            .unwrap();
        assert_eq!(value(&raw, "s", "a").as_deref(), Some("x y"));
        assert_eq!(value(&raw, "s", "b").as_deref(), Some("z"));
        assert_eq!(value(&raw, "s", "c").as_deref(), Some("\"mixed'"));
        assert_eq!(value(&raw, "s", "d").as_deref(), Some(""));
        assert_eq!(value(&raw, "s", "e").as_deref(), Some("a \"b\""));
        assert_eq!(value(&raw, "s", "f").as_deref(), Some(""));
    }

    #[test]
    fn inline_hash_and_backslash_are_literal() {
        let raw = parse("[s]\na = x # not a comment\nb = c:\\dir\\\nc = 1\n").unwrap();
        assert_eq!(value(&raw, "s", "a").as_deref(), Some("x # not a comment"));
        assert_eq!(value(&raw, "s", "b").as_deref(), Some("c:\\dir\\"));
        assert_eq!(value(&raw, "s", "c").as_deref(), Some("1"));
    }

    #[test]
    fn continuation_lines_join_with_newline() {
        let raw = parse("[s]\na = one\n  two\n\tthree\n\n  \nb = x\n").unwrap();
        assert_eq!(value(&raw, "s", "a").as_deref(), Some("one\ntwo\nthree"));
        assert_eq!(value(&raw, "s", "b").as_deref(), Some("x"));
    }

    #[test]
    fn last_value_wins_and_sections_merge() {
        let raw = parse("[s]\na = 1\nb = 2\n[t]\n[s]\na = 3\n").unwrap();
        let s = raw.section("s").unwrap();
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].key, "a");
        assert_eq!(s.entries[0].value, "3");
        assert_eq!(s.entries[0].line, 6);
        assert_eq!(raw.sections.len(), 2);
    }

    #[test]
    fn section_names_normalised_except_default() {
        let raw = parse("[Neutron]\na = 1\n[default]\nb = 2\n").unwrap();
        assert_eq!(value(&raw, "neutron", "a").as_deref(), Some("1"));
        assert!(raw.section(DEFAULT_SECTION).is_none());
        assert_eq!(value(&raw, "default", "b").as_deref(), Some("2"));
    }

    #[test]
    fn crlf_and_bom() {
        let raw = parse("\u{feff}[DEFAULT]\r\na = 1\r\n").unwrap();
        assert_eq!(value(&raw, "DEFAULT", "a").as_deref(), Some("1"));
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("a = 1\n", 1, "section must be started"),
            ("[DEFAULT]\njust a word\n", 2, "no ':' or '='"),
            ("[DEFAULT]\n= 1\n", 2, "key cannot be empty"),
            ("[DEFAULT\n", 1, "must end with ]"),
            ("[]\n", 1, "empty section name"),
            ("[DEFAULT]\n  indented\n", 2, "unexpected continuation"),
            ("# c\n  indented\n", 2, "unexpected continuation"),
        ];
        for (text, line, needle) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.message.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn syntax_error_does_not_echo_value_lines() {
        let err = parse("[neutron]\nhunter2\n").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse(&text);
        }

        #[test]
        fn simple_assignments_round_trip(
            key in "[a-z_]{1,12}",
            value in "[a-zA-Z0-9/_.:= -]{0,30}",
        ) {
            let raw = parse(&format!("[DEFAULT]\n{key} = {value}\n")).unwrap();
            prop_assert_eq!(raw.get("DEFAULT", &key).map(|e| e.value.as_str()), Some(value.trim()));
        }
    }
}
