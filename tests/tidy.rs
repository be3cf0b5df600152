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

/// The bindings are compiled only for wasm32, so native builds never pull JS crates.
#[test]
fn bindings_are_wasm_only() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("#[cfg(target_arch = \"wasm32\")]\n#[doc(hidden)]\npub mod bindings;"),
        "src/lib.rs must gate `mod bindings` on wasm32"
    );
}
