//! Keeps the architecture's written rules true: every source file opens with a `//!`
//! doc, the `ipam` core imports nothing that does I/O, only `process` spawns child
//! programs, only `metrics` knows Prometheus, only `config` reads options and the
//! environment, the fake Neutron stays out of plugin builds, and no test skips on an
//! environment variable.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `text` without its `//` comments (which may name what the code must not use).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_module_has_a_doc_paragraph() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let undocumented: Vec<_> = files
        .iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        undocumented.is_empty(),
        "files without a //! doc: {undocumented:?}"
    );
}

#[test]
fn neutron_knows_nothing_of_docker() {
    let mut files = Vec::new();
    rust_files(&src().join("neutron"), &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for word in [
            "crate::api",
            "crate::binding",
            "crate::config",
            "crate::driver",
            "crate::embedded",
            "crate::metrics",
            "crate::neutron_driver",
            "crate::server",
            "prometheus",
            "EndpointID",
            "NetworkID",
        ] {
            assert!(!text.contains(word), "{} mentions {word}", path.display());
        }
    }
}

#[test]
fn binding_knows_neither_docker_nor_the_neutron_client() {
    let mut files = Vec::new();
    rust_files(&src().join("binding"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for word in [
            "crate::api",
            "crate::driver",
            "crate::embedded",
            "crate::neutron",
            "crate::server",
        ] {
            assert!(!text.contains(word), "{} mentions {word}", path.display());
        }
    }
}

#[test]
fn ipam_is_pure() {
    let forbidden = [
        "tokio",
        "std::fs",
        "std::net::TcpStream",
        "serde_json",
        "tracing",
        "SystemTime",
        "Instant",
        "rand",
        "std::env",
        "std::process",
        "crate::api",
        "crate::config",
        "crate::store",
        "crate::hostnet",
        "crate::server",
    ];
    let mut files = Vec::new();
    rust_files(&src().join("ipam"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for word in forbidden {
            let hit = text.lines().any(|line| {
                let code = line.split("//").next().unwrap_or("");
                code.contains(&format!("{word}::")) || code.contains(&format!("use {word}"))
            });
            assert!(!hit, "{} uses {word}", path.display());
        }
    }
}

/// The allocator does no waiting: it is called with the backend's lock held.
#[test]
fn ipam_is_synchronous() {
    let mut files = Vec::new();
    rust_files(&src().join("ipam"), &mut files);
    for path in files {
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        assert!(
            !code.contains("async fn"),
            "{} has an async fn",
            path.display()
        );
    }
}

/// The crate paths each module's non-comment code names (`crate::x`), by first segment.
fn crate_paths(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    assert!(!files.is_empty(), "{} has no files", dir.display());
    let mut found = Vec::new();
    for path in files {
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((path.clone(), name));
        }
    }
    found
}

/// The layering rules no other check covers: the server is an adapter over `api`, the
/// `Driver` and the metrics; the store and the host layer never see the wire format;
/// the two backends never import each other.
#[test]
fn layers_import_only_what_they_may() {
    let rules: [(&str, &[&str]); 5] = [
        ("server", &["Error", "api", "driver", "metrics", "model"]),
        ("store", &["model"]),
        ("hostnet", &["model", "process"]),
        (
            "embedded",
            &["Error", "driver", "hostnet", "ipam", "model", "store"],
        ),
        (
            "neutron_driver",
            &[
                "Error", "binding", "config", "driver", "ipam", "model", "neutron", "store",
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (module, allowed) in rules {
        for (path, name) in crate_paths(&src().join(module)) {
            // `crate::x` inside the module itself, and test-only helpers, are its own.
            let own = name == module;
            if !own && !allowed.contains(&name.as_str()) {
                wrong.push(format!("{} names crate::{name}", path.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn only_server_serves_http() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for path in files {
        if path.starts_with(src().join("server")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("axum::") && !text.contains("StatusCode"),
            "{} knows HTTP",
            path.display()
        );
    }
}

/// The metrics are one module's business: backends and the Neutron client report
/// through `Driver` methods and the client's `Observer`, never to Prometheus itself.
#[test]
fn only_metrics_knows_prometheus() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let knowing: Vec<_> = files
        .iter()
        .filter(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .contains("prometheus_client")
        })
        .collect();
    assert_eq!(knowing, [&src().join("metrics.rs")]);
}

#[test]
fn only_process_spawns_children() {
    // Every child must get the timeout, process group, capped output and
    // scrubbed environment that `process::run` gives.
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        if path == src().join("process.rs") {
            assert!(
                !text.contains("crate::"),
                "process.rs imports from the crate"
            );
            continue;
        }
        assert!(
            !text.contains("process::Command") && !text.contains("Command::new("),
            "{} spawns a child itself; use crate::process::run",
            path.display()
        );
    }
}

/// The model layer (ARCHITECTURE.md): backends get decoded model values, never wire
/// types, Docker's protocol keys or the wire JSON.
#[test]
fn backends_see_only_the_model() {
    for backend in ["embedded", "neutron_driver"] {
        let mut files = Vec::new();
        rust_files(&src().join(backend), &mut files);
        assert!(!files.is_empty());
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            // Code only: comments may name the options users type.
            let code = code_of(&text);
            for word in ["crate::api", "com.docker.", "RequestAddressType"] {
                assert!(!code.contains(word), "{} mentions {word}", path.display());
            }
            if backend == "embedded" {
                assert!(
                    !text.contains("serde_json"),
                    "{} uses serde_json",
                    path.display()
                );
            }
        }
    }
}

/// `model` is pure vocabulary: no wire JSON, HTTP, I/O or async.
#[test]
fn model_is_pure() {
    let mut files = Vec::new();
    rust_files(&src().join("model"), &mut files);
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for word in [
            "serde_json",
            "crate::api",
            "crate::server",
            "tokio",
            "std::fs",
            "async fn",
            "crate::store",
            "crate::hostnet",
            "crate::neutron",
        ] {
            let hit = text.lines().any(|line| {
                let code = line.split("//").next().unwrap_or("");
                code.contains(word)
            });
            assert!(!hit, "{} uses {word}", path.display());
        }
    }
}

/// Every network, subnet, subnet pool and port the Neutron backend creates carries a
/// creation marker (`neutron_driver/undo.rs`), so a create whose answer is lost can
/// be found and undone: each create body in `neutron_driver` sets `description`
/// from a `Marker` (or is completed by `create_port`, which does).
#[test]
fn every_neutron_create_carries_a_marker() {
    let mut files = Vec::new();
    rust_files(&src().join("neutron_driver"), &mut files);
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for body in [
            "NetworkCreate {",
            "SubnetCreate {",
            "SubnetPoolCreate {",
            "PortCreate {",
        ] {
            for (at, _) in text.match_indices(body) {
                // The literal up to its closing `}` at the same depth.
                let rest = &text[at + body.len()..];
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '{' => 1,
                            '}' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map_or(rest.len(), |(i, _)| i);
                let literal = &rest[..end];
                let completed = text.contains("fn create_port")
                    && text.contains("description: marker.description()");
                assert!(
                    literal.contains("description: marker.description()")
                        || literal.trim().is_empty()
                        || completed,
                    "{} builds a {body}..}} without a creation marker",
                    path.display()
                );
            }
        }
    }
}

/// `config` is the configuration's one owner (ARCHITECTURE.md): no other module reads
/// a `[neutron]` option by name, an `OS_*` variable, the environment or the host name.
/// The option names come from `config/keys.rs` itself, less the words Keystone's and
/// Neutron's own APIs use (JSON keys, query filters, `Debug` field names).
#[test]
fn only_config_reads_options_and_the_environment() {
    let keys = std::fs::read_to_string(src().join("config/keys.rs")).unwrap();
    let table = keys
        .split("pub const NEUTRON_KEYS: &[&str] = &[")
        .nth(1)
        .and_then(|rest| rest.split("];").next())
        .expect("NEUTRON_KEYS in config/keys.rs");
    let api_words = [
        "auth_url",
        // A subnet's attribute too (the fake Neutron's model fills it in).
        "enable_dhcp",
        "endpoint",
        "interface",
        "password",
        "project_id",
        // Every Neutron item's older name for its project.
        "tenant_id",
        "token",
    ];
    let options: Vec<String> = table
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|name| !api_words.contains(name))
        .map(|name| format!("\"{name}\""))
        .collect();
    assert!(options.len() > 30, "{options:?}");
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for path in files {
        if path.starts_with(src().join("config")) {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for option in &options {
            assert!(
                !code.contains(option.as_str()),
                "{} reads [neutron] {option}; take it from config::Config",
                path.display()
            );
        }
        // `process` scrubs every OS_* variable from its children.
        let mut words = vec!["std::env::var(", "kernel/hostname"];
        if path != src().join("process.rs") {
            words.push("\"OS_");
        }
        for word in words {
            assert!(
                !code.contains(word),
                "{} reads {word}; only config reads the environment (config::Env)",
                path.display()
            );
        }
    }
}

/// The fake Neutron is compiled for tests only: the crate's unit tests, or the
/// `test-support` feature, which no default and no plugin build turns on.
#[test]
fn the_fake_neutron_is_never_in_a_plugin_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let module = std::fs::read_to_string(src().join("neutron/mod.rs")).unwrap();
    let declared = module
        .lines()
        .position(|l| l.trim() == "pub mod fake;")
        .expect("neutron declares its fake");
    let gate = module.lines().take(declared).last().unwrap_or_default();
    assert_eq!(
        gate.trim(),
        r#"#[cfg(any(test, feature = "test-support"))]"#
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let defaults = manifest.lines().find(|l| l.starts_with("default ="));
    assert!(
        defaults.is_none_or(|d| !d.contains("test-support")),
        "test-support is a default feature: {defaults:?}"
    );
}

/// A plain `cargo test` needs no variable to pass: a test that needs root or a service
/// is ignored without its feature (`privileged-tests`, `live-neutron`,
/// `live-keystone`), and fails loudly with it, rather than skipping on a variable.
#[test]
fn no_test_skips_on_a_variable() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests"),
        &mut files,
    );
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        // Spelled in two halves so that this file does not find itself.
        assert!(
            !text.contains(concat!("KURYR_", "SKIP_")),
            "{} skips on a variable",
            path.display()
        );
    }
}
