//! `[[forward_auth.rules]]`: how `/auth` turns a proxy's original request
//! (method and path, from Traefik's, Caddy's, ingress-nginx's or Envoy's
//! headers) into the question it checks, an action on a resource.
//!
//! A rule is `method` (or `*`), a `path` pattern of `/`-separated
//! segments where `{name}` captures one segment and a final `*` matches
//! any rest, an `action`, and a `resource` template that uses the
//! captures: `GET /projects/{project}/flags/{flag}` →
//! `flag:read` on `proj/{project}:flag/{flag}`. The first rule that
//! matches decides; a request no rule matches is only authenticated.
//!
//! Paths are compared as the upstream service will route them: each
//! segment percent-decoded, empty segments (`//`, a trailing `/`) skipped.
//! A path that a server could resolve to something else than it says (a
//! `.` or `..` segment, an encoded `/` or a `\`) is refused rather than
//! guessed at, since a wrong guess would check the wrong rule.

use std::fmt;

use serde::Deserialize;
use tessera_core::policy::check_resource_shape;

/// Most rules a configuration may hold (each request tries them in turn).
const MAX_RULES: usize = 1000;
/// Longest original path `/auth` matches.
const MAX_PATH_LEN: usize = 8192;
/// Longest captured segment put into a resource.
const MAX_CAPTURE_LEN: usize = 256;

/// One `[[forward_auth.rules]]` entry as the file writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub method: String,
    pub path: String,
    pub action: String,
    pub resource: String,
}

/// The configured rules, checked when the configuration is read.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

#[derive(Debug, Clone)]
struct Rule {
    /// `None` for `*`.
    method: Option<String>,
    segments: Vec<Segment>,
    /// The pattern ends in `*`: any rest of the path matches.
    rest: bool,
    action: String,
    resource: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Capture(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// The index of the capture among the path's captures.
    Capture(usize),
}

/// The question a rule asked of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub action: String,
    pub resource: String,
}

/// Why an original request cannot be matched: a 400 for the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatchable(pub String);

impl fmt::Display for Unmatchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Rules {
    /// Checks every rule; an error names the rule (1-based) and what to fix.
    pub fn parse(specs: Vec<RuleSpec>) -> Result<Self, String> {
        if specs.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules"));
        }
        specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| Rule::parse(spec).map_err(|e| format!("rule {}: {e}", i + 1)))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first matching rule's question for `method` on `target` (a
    /// path with an optional query, or an absolute URL); `None` when no
    /// rule matches.
    pub fn question(&self, method: &str, target: &str) -> Result<Option<Mapped>, Unmatchable> {
        let segments = path_segments(target)?;
        for rule in &self.0 {
            if let Some(mapped) = rule.apply(method, &segments)? {
                return Ok(Some(mapped));
            }
        }
        Ok(None)
    }
}

impl Rule {
    fn parse(spec: RuleSpec) -> Result<Self, String> {
        let method = match spec.method.trim() {
            "*" => None,
            m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(m.to_ascii_uppercase())
            }
            m => {
                return Err(format!(
                    "method `{m}` must be an HTTP method like GET, or `*`"
                ))
            }
        };
        let Some(pattern) = spec.path.strip_prefix('/') else {
            return Err(format!("path `{}` must start with `/`", spec.path));
        };
        let mut segments = Vec::new();
        let mut rest = false;
        let mut parts = pattern.split('/').filter(|s| !s.is_empty()).peekable();
        while let Some(part) = parts.next() {
            if part == "*" {
                if parts.peek().is_some() {
                    return Err("`*` may only end a path".into());
                }
                rest = true;
            } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(format!(
                        "capture `{part}`: name it with letters, digits and `_`"
                    ));
                }
                if segments.contains(&Segment::Capture(name.into())) {
                    return Err(format!("capture `{part}` appears twice"));
                }
                segments.push(Segment::Capture(name.into()));
            } else if part.contains(['{', '}', '*', '\\']) || part == "." || part == ".." {
                return Err(format!(
                    "path segment `{part}`: write a literal, a whole `{{name}}`, or a final `*`"
                ));
            } else {
                segments.push(Segment::Literal(part.into()));
            }
        }
        let action = spec.action.trim().to_owned();
        if !action.contains(':') || action.contains(['{', '}', '*']) || action.len() > 1024 {
            return Err(format!("action `{action}` must look like `type:verb`"));
        }
        let resource = resource_template(&spec.resource, &segments)?;
        Ok(Self {
            method,
            segments,
            rest,
            action,
            resource,
        })
    }

    fn apply(&self, method: &str, path: &[String]) -> Result<Option<Mapped>, Unmatchable> {
        if self
            .method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method))
        {
            return Ok(None);
        }
        let fits = if self.rest {
            path.len() >= self.segments.len()
        } else {
            path.len() == self.segments.len()
        };
        if !fits {
            return Ok(None);
        }
        let mut captures = Vec::new();
        for (pattern, segment) in self.segments.iter().zip(path) {
            match pattern {
                Segment::Literal(literal) if literal != segment => return Ok(None),
                Segment::Literal(_) => {}
                Segment::Capture(name) => captures.push((name, segment)),
            }
        }
        let mut resource = String::new();
        for piece in &self.resource {
            match piece {
                Piece::Text(text) => resource.push_str(text),
                Piece::Capture(i) => {
                    let (name, value) = captures[*i];
                    check_capture(name, value)?;
                    resource.push_str(value);
                }
            }
        }
        Ok(Some(Mapped {
            action: self.action.clone(),
            resource,
        }))
    }
}

/// `proj/{project}:flag/{flag}` as pieces, each capture one of the path's.
fn resource_template(template: &str, segments: &[Segment]) -> Result<Vec<Piece>, String> {
    let captures: Vec<&str> = segments
        .iter()
        .filter_map(|s| match s {
            Segment::Capture(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
        .collect();
    let mut pieces = Vec::new();
    let mut sample = String::new();
    let mut rest = template.trim();
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| format!("resource `{template}`: a `{{` is not closed"))?;
        let name = &rest[open + 1..close];
        let index = captures
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("resource `{template}`: the path captures no `{{{name}}}`"))?;
        pieces.push(Piece::Text(rest[..open].into()));
        pieces.push(Piece::Capture(index));
        sample.push_str(&rest[..open]);
        sample.push('x');
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("resource `{template}`: a `}}` without its `{{`"));
    }
    pieces.push(Piece::Text(rest.into()));
    sample.push_str(rest);
    pieces.retain(|p| *p != Piece::Text(String::new()));
    if sample.contains('*') || check_resource_shape(&sample, false).is_err() {
        return Err(format!(
            "resource `{template}` must be `:`-separated `type/name` segments, like `proj/{{project}}:flag/{{flag}}`"
        ));
    }
    Ok(pieces)
}

/// A captured segment may become a resource's name, not change its shape.
fn check_capture(name: &str, value: &str) -> Result<(), Unmatchable> {
    if value.len() > MAX_CAPTURE_LEN
        || value.contains([':', '*'])
        || value.chars().any(char::is_control)
    {
        return Err(Unmatchable(format!(
            "the request path's `{name}` segment cannot name a resource (at most {MAX_CAPTURE_LEN} bytes, no `:`, `*` or control characters)"
        )));
    }
    Ok(())
}

/// The path of `target` (`/a/b?q`, or `https://host/a/b?q` as
/// ingress-nginx sends it) as decoded, non-empty segments.
fn path_segments(target: &str) -> Result<Vec<String>, Unmatchable> {
    if target.len() > MAX_PATH_LEN {
        return Err(Unmatchable(format!(
            "the original request's path is longer than {MAX_PATH_LEN} bytes"
        )));
    }
    let path = match target.find("://") {
        Some(scheme_end) if !target.starts_with('/') => {
            let after = &target[scheme_end + 3..];
            after.find('/').map_or("/", |slash| &after[slash..])
        }
        _ => target,
    };
    if !path.starts_with('/') {
        return Err(Unmatchable(
            "the original request's URI must be a path (`/…`) or an absolute URL".into(),
        ));
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let unclear = || {
        Unmatchable(
            "the original request's path has a `.` or `..` segment, an encoded `/`, a `\\` or bad percent-encoding; refused rather than guessed at".into(),
        )
    };
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|raw| {
            let segment = percent_decode(raw).ok_or_else(unclear)?;
            if segment == "." || segment == ".." || segment.contains(['/', '\\']) {
                return Err(unclear());
            }
            Ok(segment)
        })
        .collect()
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not
/// UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: &str, path: &str, action: &str, resource: &str) -> RuleSpec {
        RuleSpec {
            method: method.into(),
            path: path.into(),
            action: action.into(),
            resource: resource.into(),
        }
    }

    fn flags() -> Rules {
        Rules::parse(vec![
            rule(
                "GET",
                "/projects/{project}/flags/{flag}",
                "flag:read",
                "proj/{project}:flag/{flag}",
            ),
            rule(
                "*",
                "/projects/{project}/flags/{flag}",
                "flag:update",
                "proj/{project}:flag/{flag}",
            ),
            rule("*", "/admin/*", "admin:access", "org/acme"),
        ])
        .expect("rules")
    }

    fn asked(rules: &Rules, method: &str, target: &str) -> Option<(String, String)> {
        rules
            .question(method, target)
            .expect("matchable")
            .map(|m| (m.action, m.resource))
    }

    #[test]
    fn the_first_matching_rule_decides_with_its_captures() {
        let rules = flags();
        let read = Some(("flag:read".into(), "proj/web:flag/dark-mode".into()));
        assert_eq!(asked(&rules, "GET", "/projects/web/flags/dark-mode"), read);
        assert_eq!(
            asked(&rules, "get", "/projects/web/flags/dark-mode?x=1#f"),
            read
        );
        assert_eq!(
            asked(
                &rules,
                "GET",
                "https://app.example.com/projects/web/flags/dark-mode?q"
            ),
            read
        );
        assert_eq!(
            asked(&rules, "GET", "//projects//web/flags/dark-mode/"),
            read
        );
        assert_eq!(
            asked(&rules, "PUT", "/projects/web/flags/dark-mode"),
            Some(("flag:update".into(), "proj/web:flag/dark-mode".into()))
        );
        assert_eq!(
            asked(&rules, "DELETE", "/admin/users/7"),
            Some(("admin:access".into(), "org/acme".into()))
        );
        assert_eq!(
            asked(&rules, "GET", "/admin"),
            Some(("admin:access".into(), "org/acme".into()))
        );
        assert_eq!(asked(&rules, "GET", "/projects/web/flags"), None);
        assert_eq!(asked(&rules, "GET", "/projects/web/flags/a/b"), None);
        assert_eq!(asked(&rules, "GET", "/"), None);
        assert_eq!(
            asked(&Rules::default(), "GET", "/projects/web/flags/a"),
            None
        );
    }

    #[test]
    fn segments_are_compared_decoded_as_the_upstream_routes_them() {
        let rules = flags();
        // `%66lags` is `flags` to the upstream service, so it is here too.
        assert_eq!(
            asked(&rules, "GET", "/projects/web/%66lags/dark%20mode"),
            Some(("flag:read".into(), "proj/web:flag/dark mode".into()))
        );
    }

    #[test]
    fn paths_a_server_could_resolve_differently_are_refused() {
        let rules = flags();
        for target in [
            "/projects/web/flags/a/../../../admin",
            "/projects/web/./flags/a",
            "/projects/web/%2e%2e/flags/a",
            "/projects/a%2Fb/flags/c",
            "/projects/a%5cb/flags/c",
            "/projects/a\\b/flags/c",
            "/projects/web/flags/%zz",
            "/projects/web/flags/%ff",
            "projects/web",
        ] {
            assert!(rules.question("GET", target).is_err(), "{target}");
        }
        assert!(rules
            .question("GET", &format!("/{}", "a".repeat(MAX_PATH_LEN)))
            .is_err());
    }

    #[test]
    fn a_capture_cannot_change_the_resources_shape() {
        let rules = flags();
        for target in [
            "/projects/web:flag/flags/y",
            "/projects/*/flags/y",
            "/projects/web/flags/a%0Ab",
        ] {
            assert!(rules.question("GET", target).is_err(), "{target}");
        }
        let long = format!("/projects/{}/flags/y", "p".repeat(MAX_CAPTURE_LEN + 1));
        assert!(rules.question("GET", &long).is_err());
    }

    #[test]
    fn bad_rules_are_refused_with_their_number() {
        for (spec, says) in [
            (
                rule("GET", "projects", "a:b", "proj/x"),
                "must start with `/`",
            ),
            (rule("G ET", "/p", "a:b", "proj/x"), "HTTP method"),
            (rule("GET", "/p/{}", "a:b", "proj/x"), "capture"),
            (rule("GET", "/p/{a}/{a}", "a:b", "proj/{a}"), "twice"),
            (rule("GET", "/p/*/q", "a:b", "proj/x"), "end a path"),
            (rule("GET", "/p/x{a}", "a:b", "proj/x"), "literal"),
            (rule("GET", "/p/{a}", "read", "proj/{a}"), "type:verb"),
            (rule("GET", "/p/{a}", "a:{a}", "proj/{a}"), "type:verb"),
            (
                rule("GET", "/p/{a}", "a:b", "proj/{b}"),
                "captures no `{b}`",
            ),
            (rule("GET", "/p/{a}", "a:b", "proj/{a"), "not closed"),
            (rule("GET", "/p/{a}", "a:b", "proj"), "type/name"),
            (rule("GET", "/p/{a}", "a:b", "proj/*"), "type/name"),
            (rule("GET", "/p/{a}", "a:b", "{a}"), "type/name"),
        ] {
            let err = Rules::parse(vec![rule("*", "/ok", "a:b", "proj/ok"), spec.clone()])
                .expect_err(&format!("{spec:?}"));
            assert!(err.starts_with("rule 2: "), "{err}");
            assert!(err.contains(says), "{spec:?}: {err}");
        }
    }
}
