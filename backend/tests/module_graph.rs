//! The backend's module graph flows one way (README, "Architecture"): from the
//! `use crate::…` lines and `crate::…` paths of each top-level module, no module
//! reaches a higher layer, and there is no cycle. Test code (`#[cfg(test)]`
//! modules) is left out: tests may assemble the whole stack.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, top first. A module may use modules of its own layer (without a
/// cycle) or of the layers below, never those above.
const LAYERS: &[&[&str]] = &[
    &["config", "effective_settings"],
    &["app", "server", "openapi"],
    &["routes", "error", "static_site"],
    &["token_cache", "sign_in", "session", "login_state", "dev_auth_server", "proxy"],
    &["exchange", "provider", "cluster"],
    &["transport", "telemetry", "http_headers", "single_flight", "constant_time", "log_text", "descriptors"],
];

fn layer_of(module: &str) -> usize {
    LAYERS.iter().position(|layer| layer.contains(&module)).unwrap_or_else(|| {
        panic!("module `{module}` is in no layer: add it to LAYERS here and to the README's architecture section")
    })
}

/// The code of a file: without comments and without its `#[cfg(test)]` module.
fn non_test_source(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

fn sources(path: &Path, out: &mut String) {
    if path.is_dir() {
        let mut entries: Vec<_> =
            std::fs::read_dir(path).expect("read dir").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for entry in entries {
            sources(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_none_or(|n| n != "tests.rs") {
        out.push_str(&non_test_source(path));
    }
}

/// Top-level module → the top-level modules it names through `crate::`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().and_then(|n| n.to_str()).expect("name").to_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut text = String::new();
        sources(&path, &mut text);
        modules.insert(name, text);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, text)| {
            let used = text
                .split("crate::")
                .skip(1)
                .map(|rest| rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or(""))
                .filter(|used| used != name && names.contains(*used))
                .map(str::to_owned)
                .collect();
            (name.clone(), used)
        })
        .collect()
}

/// No module uses a module of a higher layer.
#[test]
fn no_module_reaches_up_a_layer() {
    let upward: Vec<String> = graph()
        .iter()
        .flat_map(|(from, uses)| {
            uses.iter().filter(|to| layer_of(to) < layer_of(from)).map(move |to| format!("{from} -> {to}"))
        })
        .collect();
    assert!(upward.is_empty(), "upward arrows: {upward:?}");
}

/// The graph has no cycle, within a layer or across layers.
#[test]
fn the_module_graph_has_no_cycle() {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|n| n == node) {
            panic!("cycle: {} -> {node}", path[at..].join(" -> "));
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_owned());
        for next in &graph[node] {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let graph = graph();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}
