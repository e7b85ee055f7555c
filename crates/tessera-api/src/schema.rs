//! Schemas for the OpenAPI document that say what the server accepts, not
//! just what type a value has: the wire types name these with
//! `#[schema(value_type = ...)]` so that generated clients, and tools that
//! generate requests from the document (schemathesis), send only what the
//! server takes.
//!
//! Each pattern mirrors a validator in `tessera_core`; the server's unit
//! tests compile them and compare them with the validators. JSON Schema
//! counts characters where some server limits count UTF-8 bytes. A UTF-8
//! character is at most 4 bytes, so the document allows a quarter of the
//! byte limit in characters (passwords, verify questions), or, where that
//! would be too tight (emails, policy patterns), the whole limit for ASCII
//! and a quarter of it otherwise ([`ascii_or_short`]). Either way it never
//! allows more than the server takes.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::{AllOfBuilder, OneOfBuilder, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// Characters `char::is_control` is true for (Unicode `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// Characters `char::is_whitespace` or `char::is_control` is true for:
/// `Cc`, and the `White_Space` characters outside it.
const SPACE_OR_CONTROL: &str =
    r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// `tessera_core::ids::validate_key`: a lowercase letter or digit, then
/// lowercase letters, digits, `.`, `_`, `-`.
pub const KEY_PATTERN: &str = r"^[a-z0-9][a-z0-9._-]*$";
/// `tessera_core::ids::MAX_KEY_LEN`.
pub const KEY_MAX_LENGTH: usize = 64;
/// `tessera_core::lifecycle::MAX_NAME_CHARS`.
pub const NAME_MAX_LENGTH: usize = 100;
/// What `POST /verify` and `GET /auth` take as `action`: `type:verb`.
pub const CHECK_ACTION_PATTERN: &str = r"^[^:]*:[\s\S]*$";
/// What `POST /verify` and `GET /auth` take as `resource`: `:`-separated
/// `type/name` segments.
pub const CHECK_RESOURCE_PATTERN: &str = r"^[^:/]+/[^:]+(?::[^:/]+/[^:]+)*$";
/// Longest `action` or `resource` a service may ask about: 1024 bytes, so
/// 256 characters of any kind.
pub const CHECK_MAX_LENGTH: usize = 1024 / 4;
/// Printable ASCII but `:` and `/`, as a character class body (each range
/// between plain characters, so every regex dialect reads it the same).
const ASCII_BUT_COLON_SLASH: &str = "!-.0-9;-~";
/// Printable ASCII but `:`.
const ASCII_BUT_COLON: &str = "!-9;-~";
/// Printable ASCII but `@`.
const ASCII_BUT_AT: &str = "!-?A-~";

/// `tessera_core::lifecycle::validate_name`: no control characters, and at
/// least one character that is neither space nor control.
pub fn name_pattern() -> String {
    format!("^[^{CONTROL}]*[^{SPACE_OR_CONTROL}][^{CONTROL}]*$")
}

/// Which characters a pattern admits: printable ASCII only (one byte
/// each), or any but spaces and control characters.
#[derive(Clone, Copy)]
enum Chars {
    Ascii,
    Any,
}

impl Chars {
    /// A character class of visible characters, but for `but` (`:`, `/`,
    /// `@` or nothing).
    fn visible_but(self, but: &str) -> String {
        match (self, but) {
            (Self::Any, _) => format!("[^{but}{SPACE_OR_CONTROL}]"),
            (Self::Ascii, "") => "[!-~]".to_owned(),
            (Self::Ascii, ":") => format!("[{ASCII_BUT_COLON}]"),
            (Self::Ascii, ":/") => format!("[{ASCII_BUT_COLON_SLASH}]"),
            (Self::Ascii, _) => format!("[{ASCII_BUT_AT}]"),
        }
    }
}

/// `tessera_core::lifecycle::normalize_email`: one `@` with text on both
/// sides, no spaces or control characters.
fn email_pattern(chars: Chars) -> String {
    let part = chars.visible_but("@");
    format!("^{part}+@{part}+$")
}

/// An action pattern in a policy statement: `*`, or containing `:`, with no
/// spaces or control characters.
fn action_pattern(chars: Chars) -> String {
    let any = chars.visible_but("");
    format!(r"^(?:\*|{any}*:{any}*)$")
}

/// A resource pattern in a policy statement: `*`, or `:`-separated
/// `type/name` segments of which the last may be `*`, with no spaces or
/// control characters (`tessera_core::policy::check_resource_shape`).
fn resource_pattern(chars: Chars) -> String {
    let segment = format!("{}+/{}+", chars.visible_but(":/"), chars.visible_but(":"));
    format!(r"^(?:\*|{segment}(?::{segment})*(?::\*)?)$")
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A KSUID, unanchored: 27 base62 characters no greater than
/// `tessera_core::ids::KSUID_MAX` (base62 digits are in ASCII order, so
/// this is a character-by-character comparison spelt out).
pub fn ksuid_regex() -> String {
    at_most(tessera_core::ids::KSUID_MAX.as_bytes())
}

/// `^`-`$`-anchored [`ksuid_regex`].
pub fn ksuid_pattern() -> String {
    format!("^{}$", ksuid_regex())
}

/// A regex for the base62 strings as long as `max` and not greater.
fn at_most(max: &[u8]) -> String {
    let Some((&first, rest)) = max.split_first() else {
        return String::new();
    };
    let below = class(|b| b < first);
    if rest.is_empty() {
        return format!("[{}]", class(|b| b <= first));
    }
    let tail = at_most(rest);
    if below.is_empty() {
        return format!("{}{tail}", first as char);
    }
    format!(
        "(?:[{below}][0-9A-Za-z]{{{}}}|{}{tail})",
        rest.len(),
        first as char
    )
}

/// The base62 digits `keep` is true for, as a character class body made of
/// ranges.
fn class(keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::new();
    let mut run: Option<(u8, u8)> = None;
    let flush = |run: Option<(u8, u8)>, out: &mut String| {
        if let Some((start, end)) = run {
            out.push(start as char);
            if end > start {
                out.push('-');
                out.push(end as char);
            }
        }
    };
    for &b in BASE62 {
        run = match run {
            Some((start, end)) if keep(b) && b == end + 1 => Some((start, b)),
            _ if keep(b) => {
                flush(run, &mut out);
                Some((b, b))
            }
            _ => {
                flush(run, &mut out);
                None
            }
        };
    }
    flush(run, &mut out);
    out
}

/// A string of the shape `pattern` draws, at most `max_bytes` UTF-8 bytes
/// long, which JSON Schema cannot count: any of two plain string schemas,
/// printable ASCII up to `max_bytes` characters or any characters up to a
/// quarter of that. (Plain alternatives, rather than one pattern and a
/// length rule on the side, let generators draw values instead of
/// filtering them.)
fn ascii_or_short(
    description: &str,
    pattern: fn(Chars) -> String,
    min: usize,
    max_bytes: usize,
) -> RefOr<Schema> {
    let either = AnyOfBuilder::new()
        .description(Some(description))
        .item(string(
            "printable ASCII",
            Some(pattern(Chars::Ascii)),
            min,
            max_bytes,
        ))
        .item(string(
            "any characters",
            Some(pattern(Chars::Any)),
            min,
            max_bytes / 4,
        ))
        .build();
    RefOr::T(Schema::AnyOf(either))
}

fn string(description: &str, pattern: Option<String>, min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(pattern)
        .min_length(Some(min))
        .max_length(Some(max))
}

macro_rules! doc_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

doc_schema!(
    /// A role, project or org key.
    Key => string(
        "A key: a lowercase letter or digit, then lowercase letters, digits, `.`, `_` and `-`.",
        Some(KEY_PATTERN.to_owned()), 1, KEY_MAX_LENGTH,
    )
);

doc_schema!(
    /// A name shown to people.
    Name => string(
        "Not blank, no control characters.",
        Some(name_pattern()), 1, NAME_MAX_LENGTH,
    )
);

doc_schema!(
    /// An email address, as loosely as the server checks it.
    Email => ascii_or_short(
        "One `@` with text on both sides, no spaces or control characters, at most 254 \
         bytes. Compared without case.",
        email_pattern, 3, 254,
    )
);

doc_schema!(
    /// A password being set.
    NewPassword => string(
        "At least 8 characters, at most 1024 bytes (the document: 256 characters).",
        None, 8, 1024 / 4,
    )
);

doc_schema!(
    /// `tessera_core::BuiltinRole`.
    BuiltinRole => ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("A built-in role, from least to most powerful."))
        .enum_values(Some(tessera_core::BuiltinRole::ALL.map(|r| r.as_str())))
);

doc_schema!(
    /// `action` of `POST /verify`.
    CheckAction => string(
        "`type:verb`, at most 1024 bytes (the document: 256 characters).",
        Some(CHECK_ACTION_PATTERN.to_owned()), 1, CHECK_MAX_LENGTH,
    )
);

doc_schema!(
    /// `resource` of `POST /verify`.
    CheckResource => string(
        "`:`-separated `type/name` segments (`proj/web:env/prod`), at most 1024 bytes \
         (the document: 256 characters).",
        Some(CHECK_RESOURCE_PATTERN.to_owned()), 3, CHECK_MAX_LENGTH,
    )
);

/// A list of patterns in a statement.
fn patterns(item: RefOr<Schema>) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(1))
        .max_items(Some(tessera_core::policy::MAX_PATTERNS))
}

fn required(field: &str) -> ObjectBuilder {
    ObjectBuilder::new().required(field)
}

/// One statement: the object, then "exactly one of `actions` and
/// `notActions`" and the same for resources as `oneOf`s of `required`.
fn statement() -> RefOr<Schema> {
    let max = tessera_core::policy::MAX_PATTERN_LEN;
    let action = || {
        ascii_or_short(
            "`*`, or `type:verb` where `*` matches any run of characters; \
             no spaces; at most 256 bytes.",
            action_pattern,
            1,
            max,
        )
    };
    let resource = || {
        ascii_or_short(
            "`*`, or `:`-separated `type/name` segments where `*` matches within \
             a segment and a final `:*` matches everything beneath; no spaces; \
             at most 256 bytes.",
            resource_pattern,
            1,
            max,
        )
    };
    let object = ObjectBuilder::new()
        .property(
            "effect",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["allow", "deny"])),
        )
        .required("effect")
        .property("actions", patterns(action()))
        .property("notActions", patterns(action()))
        .property("resources", patterns(resource()))
        .property("notResources", patterns(resource()))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let exactly_one = |a: &str, b: &str| {
        Schema::OneOf(
            OneOfBuilder::new()
                .item(required(a))
                .item(required(b))
                .build(),
        )
    };
    let all = AllOfBuilder::new()
        .description(Some(
            "`effect` and exactly one of `actions`/`notActions` and one of \
             `resources`/`notResources`.",
        ))
        .item(object)
        .item(exactly_one("actions", "notActions"))
        .item(exactly_one("resources", "notResources"))
        .build();
    RefOr::T(Schema::AllOf(all))
}

doc_schema!(
    /// `tessera_core::policy::Statement`.
    Statement => statement()
);

/// `tessera_core::Policy`: 1 to 100 statements.
pub struct Policy;

impl PartialSchema for Policy {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                Statement::name(),
            )))
            .min_items(Some(1))
            .max_items(Some(tessera_core::policy::MAX_STATEMENTS))
            .description(Some("Policy statements; deny wins."))
            .into()
    }
}

impl ToSchema for Policy {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Policy")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Statement::name().into_owned(), Statement::schema()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ksuid_regex_spells_out_the_largest_ksuid() {
        // Shape only here: the server's tests compile it against `is_ksuid`.
        let regex = ksuid_regex();
        assert!(regex.starts_with("(?:[0-9A-Z][0-9A-Za-z]{26}|a(?:[0-9A-V][0-9A-Za-z]{25}|W"));
        assert_eq!(class(|b| b <= b'V'), "0-9A-V");
        assert_eq!(class(|b| b < b'0'), "");
    }
}
