//! Invariants of the source tree, checked like any other behaviour.
#![cfg(not(target_arch = "wasm32"))]

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

/// Only `src/bindings/` may name the JS-boundary crates: the core stays pure Rust, testable
/// natively and reusable by the component build.
#[test]
fn only_bindings_know_about_javascript() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let bindings = src.join("bindings");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found only {} files", files.len());
    let mut offenders = Vec::new();
    for file in &files {
        if file.starts_with(&bindings) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["wasm_bindgen", "js_sys", "web_sys", "gloo_"]
                .iter()
                .any(|name| code.contains(name))
            {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "JS-boundary code outside src/bindings/:\n{}",
        offenders.join("\n")
    );
}

/// Only `src/component/` may name `wit_bindgen`: the component glue is one module, and the
/// core and the JS bindings never depend on the component model.
#[test]
fn only_the_component_knows_about_wit_bindgen() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let component = src.join("component");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.iter().any(|f| f.starts_with(&component)),
        "src/component/ not found"
    );
    let mut offenders = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&component)) {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("wit_bindgen") {
                offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "component-model code outside src/component/:\n{}",
        offenders.join("\n")
    );
}

/// The bindings are compiled only for wasm32-unknown-unknown and the component only for
/// WASI, so neither build (nor the native one) compiles the other's glue.
#[test]
fn each_glue_module_is_gated_on_its_target() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(
        lib.contains(
            "#[cfg(all(target_arch = \"wasm32\", target_os = \"unknown\"))]\n#[doc(hidden)]\npub mod bindings;"
        ),
        "src/lib.rs must gate `mod bindings` on wasm32-unknown-unknown"
    );
    assert!(
        lib.contains("#[cfg(target_os = \"wasi\")]\n#[doc(hidden)]\npub mod component;"),
        "src/lib.rs must gate `mod component` on WASI"
    );
}

/// Neither wasm build pulls the other's dependencies: the wasm-bindgen crates sit under a
/// `target_os = "unknown"` table of Cargo.toml, `wit-bindgen` under a `target_os = "wasi"`
/// one.
#[test]
fn each_wasm_build_has_its_own_dependencies() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut table = "";
    let mut seen = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            table = line;
            continue;
        }
        let Some(name) = line.split([' ', '=']).next() else {
            continue;
        };
        let wanted = match name {
            "wasm-bindgen"
            | "wasm-bindgen-futures"
            | "js-sys"
            | "web-sys"
            | "wasm-bindgen-test" => "target_os = \"unknown\"",
            "wit-bindgen" => "target_os = \"wasi\"",
            _ => continue,
        };
        assert!(
            table.contains(wanted),
            "{name} must be under a {wanted} table, found under {table}"
        );
        seen.push(name);
    }
    assert!(
        seen.contains(&"wasm-bindgen") && seen.contains(&"wit-bindgen"),
        "{seen:?}"
    );
}
