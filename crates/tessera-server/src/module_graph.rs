//! A test that keeps the crate's modules free of import cycles.
//!
//! Each module's non-test code (before `#[cfg(test)]`; a test module in a
//! file of its own must be named `tests`) is read for `crate::…` and
//! `super::…` paths. A path from module `a` to module `b` counts at the level where
//! they part: between the two children of their nearest common ancestor
//! that hold them (so `web::tokens` using `crate::state` is `web → state`;
//! a module using its own ancestors' or descendants' items counts for
//! nothing). At every level those sibling edges must form no cycle, so
//! that each module can be read, and changed, below the ones that use it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// Every module of the crate by path, with its code before `#[cfg(test)]`
/// and without `//` comments.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut module: Module = relative
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if module
                .last()
                .is_some_and(|last| last == "mod" || last == "lib")
            {
                module.pop();
            }
            // Test-only modules (`#[cfg(test)] mod tests;` in a file of its
            // own, and this one, whose examples are not its imports) are no
            // part of the graph, as tests inside a file are not.
            if module
                .last()
                .is_some_and(|name| name == "tests" || name == "module_graph")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read module");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: String = code
                .lines()
                .map(|line| line.split("//").next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n");
            found.insert(module, code);
        }
    }
    found
}

/// The paths `code` (in `module`) names through `crate::` or `super::`,
/// each as segments from the crate root; `a::{b, c::d}` is two paths.
fn paths_named(module: &[String], code: &str) -> Vec<Module> {
    let mut paths = Vec::new();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = code;
    while let Some(at) = rest.find(['c', 's']) {
        let preceded = rest[..at].chars().next_back().is_some_and(is_ident);
        let tail = &rest[at..];
        let head = ["crate::", "super::"]
            .into_iter()
            .find(|h| tail.starts_with(h));
        let Some(head) = head.filter(|_| !preceded) else {
            rest = &tail[1..];
            continue;
        };
        let end = tail
            .find(|c: char| {
                !(is_ident(c) || c == ':' || c == '{' || c == '}' || c == ',' || c == ' ')
            })
            .unwrap_or(tail.len());
        let text = &tail[..end];
        rest = &tail[head.len()..];
        let mut base: Module = if head == "crate::" {
            Vec::new()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        let mut text = &text[head.len()..];
        while let Some(after) = text.strip_prefix("super::") {
            base.pop();
            text = after;
        }
        let (prefix, group) = match text.split_once("{") {
            Some((prefix, group)) => (prefix, group.split('}').next().unwrap_or_default()),
            None => (text.split([',', '}', ' ']).next().unwrap_or_default(), ""),
        };
        let prefix: Module = prefix
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let mut named = |extra: &str| {
            let mut path = base.clone();
            path.extend(prefix.iter().cloned());
            let extra = extra.split(" as ").next().unwrap_or_default();
            path.extend(
                extra
                    .split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "self")
                    .map(str::to_owned),
            );
            paths.push(path);
        };
        if group.is_empty() {
            named("");
        } else {
            group.split(',').for_each(&mut named);
        }
    }
    paths
}

/// The sibling edges of the whole crate (see the module docs).
fn sibling_edges(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, code) in modules {
        for path in paths_named(module, code) {
            // The longest prefix of the path that is a module.
            let Some(target) = (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains_key(p))
            else {
                continue;
            };
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == module.len() || shared == target.len() {
                continue;
            }
            edges
                .entry(module[..=shared].to_vec())
                .or_default()
                .insert(target[..=shared].to_vec());
        }
    }
    edges
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        path: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(start) = path.iter().position(|m| m == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut done, &mut Vec::new()))
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.contains_key(&vec!["state".to_owned()]), "read src");
    let edges = sibling_edges(&modules);
    let cycle = find_cycle(&edges).map(|c| {
        c.iter()
            .map(|m| m.join("::"))
            .collect::<Vec<_>>()
            .join(" → ")
    });
    assert_eq!(cycle, None, "a module cycle");
}

#[test]
fn the_check_sees_a_cycle_through_use_groups_and_super() {
    let module = |path: &str, code: &str| {
        let path = path.split("::").map(str::to_owned).collect::<Module>();
        (path, code.to_owned())
    };
    let modules: BTreeMap<Module, String> = [
        module("state", "use crate::web::{forms, once::SentForms};"),
        module("web", ""),
        module("web::once", "use super::forms::FormData;"),
        module("web::forms", "use crate::auth::{cookie, SESSION};"),
        module("auth", "fn f(s: &crate::state::AppState) {}"),
    ]
    .into_iter()
    .collect();
    let edges = sibling_edges(&modules);
    let cycle = find_cycle(&edges).expect("state → web → auth → state");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
}
