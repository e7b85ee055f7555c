//! End-to-end tests: the real server on a temporary SQLite file, driven
//! over real HTTP (and the real binary, for the CLI). One test binary, so
//! the workspace links it once.
// Test code: a failed unwrap is a failed test, and helpers outside
// `#[test]` functions are not covered by clippy.toml's allow-*-in-tests.
// Fixtures are made relative to the real time, read directly here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod admin;
mod attacks;
mod bad_input;
mod cli;
mod cli_guidance;
mod client_api;
mod crash_safety;
mod deploy;
mod dialects;
mod docs_examples;
mod escalation;
mod forward_auth;
mod github_scanning;
mod hardening;
mod harness;
mod introspection;
mod login_flood;
mod notices;
mod operations;
mod platform;
mod platform_scale;
mod process;
mod scale_out;
mod scan;
mod scanners;
mod secret_hygiene;
mod seeds;
mod service_accounts;
mod services;
mod sessions;
mod smuggling;
mod sso;
mod token_controls;
mod token_limits;
mod usability;
mod web;
mod web_pages;
mod web_webhooks;
mod webhook_durability;
mod webhooks;
