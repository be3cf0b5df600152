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

/// The core's folders, lowest first: a folder may import only from folders before it (and
/// from itself). `bindings` and `component` sit on top of all of them.
const LAYERS: &[&str] = &[
    "codec",
    "model",
    "wait",
    "results",
    "resp",
    "stores",
    "worker",
    "brokers",
    "rate_limits",
];

/// The module a `crate::a::b::c` path names: the deepest prefix that is a file under `src/`.
fn module_file(src: &Path, segments: &[&str]) -> Option<PathBuf> {
    (1..=segments.len()).rev().find_map(|n| {
        let dir = segments[..n]
            .iter()
            .fold(src.to_path_buf(), |p, s| p.join(s));
        [dir.with_extension("rs"), dir.join("mod.rs")]
            .into_iter()
            .find(|p| p.is_file())
    })
}

/// Every module a file refers to through `crate::…` or `super::…` paths (not `mod x;`
/// declarations: a parent declaring a child is not an import).
fn imports(src: &Path, file: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(file).unwrap();
    let rel: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .with_extension("")
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    // The module path of this file (`codec/mod.rs` is `codec`).
    let mut here: Vec<&str> = rel.iter().map(String::as_str).collect();
    if here.last() == Some(&"mod") || here.last() == Some(&"lib") {
        here.pop();
    }
    let mut out = Vec::new();
    for line in text.lines().map(str::trim_start) {
        if line.starts_with("//") {
            continue;
        }
        for (i, _) in line
            .match_indices("crate::")
            .chain(line.match_indices("super::"))
        {
            let path: String = line[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let base: Vec<&str> = if segs.first() == Some(&"crate") {
                segs.remove(0);
                Vec::new()
            } else {
                let mut base = here.clone();
                while segs.first() == Some(&"super") {
                    segs.remove(0);
                    base.pop();
                }
                base
            };
            let full: Vec<&str> = base.into_iter().chain(segs).collect();
            if let Some(target) = module_file(src, &full) {
                if target != file {
                    out.push(target);
                }
            }
        }
    }
    out
}

/// No import circles anywhere in `src/` (between files), and the core's folders import only
/// downwards, so each can be read, tested and changed from the bottom up.
#[test]
fn imports_point_down_and_never_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let graph: Vec<(PathBuf, Vec<PathBuf>)> = files
        .iter()
        .map(|f| (f.clone(), imports(&src, f)))
        .collect();

    let layer = |f: &Path| {
        let top = f.strip_prefix(&src).unwrap().iter().next()?.to_str()?;
        LAYERS.iter().position(|l| *l == top)
    };
    for (file, deps) in &graph {
        let Some(mine) = layer(file) else { continue };
        // `testing` is test-only code (a virtual clock, fakes): any test may use it.
        for dep in deps.iter().filter(|d| !d.starts_with(src.join("testing"))) {
            let theirs = layer(dep);
            assert!(
                theirs.is_some_and(|t| t <= mine),
                "{} imports {}, which is not below it (order: {LAYERS:?})",
                file.display(),
                dep.display()
            );
        }
    }

    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a Path,
        graph: &'a [(PathBuf, Vec<PathBuf>)],
        stack: &mut Vec<&'a Path>,
        done: &mut Vec<&'a Path>,
    ) {
        if done.contains(&node) {
            return;
        }
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let circle: Vec<_> = stack[at..]
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            panic!("import circle: {} → back to the first", circle.join(" → "));
        }
        stack.push(node);
        if let Some((_, deps)) = graph.iter().find(|(f, _)| f == node) {
            for dep in deps {
                visit(dep, graph, stack, done);
            }
        }
        stack.pop();
        done.push(node);
    }
    let mut done = Vec::new();
    for (file, _) in &graph {
        visit(file, &graph, &mut Vec::new(), &mut done);
    }
}

/// The bindings' drivers (what wasm calls) import nothing from the exported half (what JS
/// sees): a driver turns JS failures into core errors, and only the exports decide how they
/// reach the caller.
#[test]
fn drivers_import_nothing_from_exports() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join("bindings/drivers"), &mut files);
    assert!(!files.is_empty(), "src/bindings/drivers/ not found");
    for file in &files {
        for dep in imports(&src, file) {
            assert!(
                !dep.starts_with(src.join("bindings/exports")),
                "{} imports {}",
                file.display(),
                dep.display()
            );
        }
    }
}
