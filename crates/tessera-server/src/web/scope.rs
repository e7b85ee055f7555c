//! The scope and expiry parts of the token forms: the choices offered
//! (only what the member may grant, only what the org's policy allows) and
//! reading the choice back into the API's request fields.

use tessera_core::{BuiltinRole, Policy};
use time::macros::format_description;
use time::Duration;

use super::forms::{FormData, Problems};
use super::policy_help::PolicyHelp;
use crate::redact::redact;
use crate::service::Call;
use crate::service::{projects, roles, tokens};

/// One option of a select, radio group or checkbox list.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// Built-in roles as options, `current` selected.
pub fn builtin_role_choices(roles: Vec<BuiltinRole>, current: &str) -> Vec<Choice> {
    roles
        .into_iter()
        .map(|r| Choice {
            value: r.to_string(),
            label: r.to_string(),
            checked: current == r.as_str(),
        })
        .collect()
}

/// The org's custom roles the caller may read, as checkboxes ticked where
/// `picked` has them (none when they cannot be read).
pub async fn custom_role_choices(call: &Call, picked: &[String]) -> Vec<Choice> {
    match roles::list(call).await {
        Ok(list) => list
            .items
            .into_iter()
            .map(|r| keyed_choice(r.key, &r.name, picked))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A role or project as "Name (key)", ticked when `picked` has its key.
fn keyed_choice(key: String, name: &str, picked: &[String]) -> Choice {
    Choice {
        checked: picked.contains(&key),
        label: format!("{name} ({key})"),
        value: key,
    }
}

/// The scope fieldset: built-in role, custom roles, inline policy, or the
/// member's own permissions; and the project restriction.
pub struct ScopeFields {
    pub kind: String,
    pub roles: Vec<Choice>,
    pub can_custom: bool,
    pub custom_roles: Vec<Choice>,
    pub policy: String,
    pub help: PolicyHelp,
    pub projects: Vec<Choice>,
    pub err_scope: Option<String>,
    pub err_custom_roles: Option<String>,
    pub err_policy: Option<String>,
    pub err_projects: Option<String>,
    /// A service account's token: "inherit" means the account's
    /// permissions, not the member's.
    pub for_account: bool,
}

impl ScopeFields {
    pub async fn build(call: &Call, form: &FormData, problems: &Problems) -> Self {
        let kind = match form.get("scope") {
            "" => "inherit".to_owned(),
            k => k.to_owned(),
        };
        let chosen_role = form.get("role");
        let grantable = tokens::grantable(&call.caller);
        let roles = builtin_role_choices(grantable.roles, chosen_role);
        let can_custom = grantable.custom_roles;
        let picked_roles = form.all("custom_roles");
        let custom_roles = if can_custom {
            custom_role_choices(call, &picked_roles).await
        } else {
            Vec::new()
        };
        let picked_projects = form.all("projects");
        let projects = match projects::list(call).await {
            Ok(list) => list
                .items
                .into_iter()
                .map(|p| keyed_choice(p.key, &p.name, &picked_projects))
                .collect(),
            Err(_) => Vec::new(),
        };
        let err = |f: &str| problems.get(f).map(str::to_owned);
        Self {
            kind,
            roles,
            can_custom,
            custom_roles,
            policy: form.get("policy").to_owned(),
            help: PolicyHelp::for_text(form.get("policy")),
            projects,
            err_scope: err("scope"),
            err_custom_roles: err("custom_roles"),
            err_policy: err("policy"),
            err_projects: err("projects"),
            for_account: false,
        }
    }

    /// The fields of a service account's token.
    pub fn for_account(self) -> Self {
        Self {
            for_account: true,
            ..self
        }
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }
}

/// The scope a form asks for, as the API's three optional fields.
pub struct Chosen {
    pub role: Option<BuiltinRole>,
    pub custom_roles: Option<Vec<String>>,
    pub policy: Option<Policy>,
}

/// Reads the scope choice. Only the form's own shape is checked here
/// (a role picked, JSON that parses); the rules are the API's.
pub fn chosen(form: &FormData) -> Result<Chosen, Problems> {
    let mut chosen = Chosen {
        role: None,
        custom_roles: None,
        policy: None,
    };
    match form.get("scope") {
        "" | "inherit" => {}
        "role" => {
            let role = form
                .get("role")
                .parse::<BuiltinRole>()
                .map_err(|_| Problems::field("scope", "Choose a role."))?;
            chosen.role = Some(role);
        }
        "custom" => {
            let keys = form.all("custom_roles");
            if keys.is_empty() {
                return Err(Problems::field(
                    "custom_roles",
                    "Choose at least one custom role.",
                ));
            }
            chosen.custom_roles = Some(keys);
        }
        "policy" => chosen.policy = Some(chosen_policy(form.get("policy"))?),
        _ => return Err(Problems::field("scope", "Choose a scope.")),
    }
    Ok(chosen)
}

/// The answer to a form's "Check the policy" button: asked for, and then
/// the policy's problem next to its field, or none (the page then shows
/// the policy in words). Nothing is saved.
pub fn policy_checked(form: &FormData, fields: &[&'static str]) -> Option<Problems> {
    if form.get("check") != "policy" {
        return None;
    }
    let problems = match chosen_policy(form.get("policy")) {
        Ok(policy) => roles::check_policy(&policy)
            .err()
            .map(|e| Problems::from_api(e, fields))
            .unwrap_or_default(),
        Err(problems) => problems,
    };
    Some(problems)
}

/// A policy field's text as a policy, or why it is not one (empty, not
/// JSON, not statements): what every policy field says about its shape.
pub fn chosen_policy(text: &str) -> Result<Policy, Problems> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Problems::field(
            "policy",
            "Enter a policy: a JSON list of statements.",
        ));
    }
    serde_json::from_str::<Policy>(text).map_err(|e| {
        Problems::field(
            "policy",
            format!("This is not a valid policy: {}.", redact(&e.to_string())),
        )
    })
}

/// The expiry fieldset: presets within the org's cap, a custom date, and
/// "no expiration" where the org allows it.
pub struct ExpiryFields {
    pub choices: Vec<Choice>,
    pub date: String,
    pub min_date: String,
    pub note: Option<String>,
    pub error: Option<String>,
}

impl ExpiryFields {
    pub fn build(call: &Call, form: &FormData, problems: &Problems, offer_none: bool) -> Self {
        let policy = call.caller.org.token_policy;
        let now = call.now;
        let current = match form.get("expiry") {
            "" => "30",
            other => other,
        };
        let day = format_description!("[year]-[month]-[day]");
        let mut choices: Vec<Choice> = [7u32, 30, 90]
            .into_iter()
            .filter(|d| policy.max_lifetime_days.is_none_or(|max| *d <= max))
            .map(|d| Choice {
                value: d.to_string(),
                label: format!(
                    "{d} days (until {})",
                    (now + Duration::days(i64::from(d)))
                        .format(day)
                        .unwrap_or_default()
                ),
                checked: current == d.to_string(),
            })
            .collect();
        choices.push(Choice {
            value: "custom".into(),
            label: "On a date".into(),
            checked: current == "custom",
        });
        if offer_none && !policy.require_expiration && policy.max_lifetime_days.is_none() {
            choices.push(Choice {
                value: "none".into(),
                label: "Never".into(),
                checked: current == "none",
            });
        }
        let note = match (policy.require_expiration, policy.max_lifetime_days) {
            (_, Some(max)) => Some(format!(
                "Your organization's token policy allows tokens to live at most {max} days."
            )),
            (true, None) => {
                Some("Your organization's token policy requires every token to expire.".into())
            }
            (false, None) => None,
        };
        Self {
            choices,
            date: form.get("expires_on").to_owned(),
            min_date: now.format(day).unwrap_or_default(),
            note,
            error: problems.get("expires_at").map(str::to_owned),
        }
    }
}
