//! `deploy/tessera.service` and docs/deploy.md: the unit passes
//! `systemd-analyze verify` without a word and `systemd-analyze security`
//! rates it below 7.5, and the configuration the page tells operators to
//! write is one `serve` accepts.
//!
//! Needs `systemd-analyze` (Debian package `systemd`). Without it the unit
//! test prints why and passes, unless it runs as root (as in CI), where a
//! missing tool is a failure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use super::cli::{text, BIN};

const UNIT: &str = include_str!("../../../../deploy/tessera.service");
const DOC: &str = include_str!("../../../../docs/deploy.md");
/// Where the unit runs the binary from, as docs/deploy.md installs it.
const INSTALLED: &str = "/usr/local/bin/tessera";

fn systemd_analyze() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join("systemd-analyze"))
        .find(|candidate| candidate.is_file())
}

/// Whether this runs as root, read from the kernel's own account of the
/// process (effective uid, the second field of `Uid:`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
        })
        .unwrap_or(false)
}

/// The unit as shipped, pointed at the binary this build made: `verify`
/// checks that `ExecStart`'s program exists.
fn unit_for_this_build(dir: &std::path::Path) -> PathBuf {
    assert!(
        UNIT.contains(INSTALLED),
        "the unit no longer runs {INSTALLED}"
    );
    let path = dir.join("tessera.service");
    std::fs::write(&path, UNIT.replace(INSTALLED, BIN)).expect("write unit");
    path
}

fn analyze(tool: &std::path::Path, args: &[&str], unit: &std::path::Path) -> Output {
    Command::new(tool)
        .args(args)
        .arg(unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .env("SYSTEMD_PAGER", "")
        .output()
        .expect("run systemd-analyze")
}

/// The exposure `systemd-analyze security` printed ("Overall exposure
/// level for tessera.service: 1.2 OK").
fn exposure(report: &str) -> f64 {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall exposure in:\n{report}"));
    let after = line.rsplit(':').next().unwrap_or_default();
    let number = after.split_whitespace().next().unwrap_or_default();
    number
        .parse()
        .unwrap_or_else(|_| panic!("cannot read the exposure in {line:?}"))
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_security() {
    for setting in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=tessera",
        "UMask=0077",
    ] {
        assert!(
            UNIT.lines().any(|l| l == setting),
            "the unit lost {setting}"
        );
    }
    let Some(tool) = systemd_analyze() else {
        assert!(
            !running_as_root(),
            "systemd-analyze is not installed; CI (root) must have it (apt-get install systemd)"
        );
        println!(
            "SKIPPED systemd unit test: systemd-analyze is not installed (apt-get install systemd)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = unit_for_this_build(dir.path());

    // Any output at all is a warning (an unknown or misspelt setting, a
    // bad value, a missing program): verify prints nothing for a good
    // unit.
    let verified = analyze(&tool, &["verify"], &unit);
    let said = format!("{}{}", text(&verified.stdout), text(&verified.stderr));
    assert!(verified.status.success(), "verify failed:\n{said}");
    assert!(said.trim().is_empty(), "verify warned:\n{said}");

    // --offline reads the file alone, without a running systemd (this
    // test runs in containers where PID 1 is not systemd).
    let rated = analyze(&tool, &["security", "--offline=true", "--no-pager"], &unit);
    let report = text(&rated.stdout);
    assert!(
        rated.status.success(),
        "security failed:\n{report}{}",
        text(&rated.stderr)
    );
    let level = exposure(&report);
    assert!(level < 7.5, "exposure {level} is not below 7.5:\n{report}");
}

/// The ```toml block of docs/deploy.md, the file operators copy.
fn documented_config() -> String {
    let start = DOC
        .find("```toml\n")
        .expect("a toml block in docs/deploy.md")
        + "```toml\n".len();
    let end = DOC[start..].find("```").expect("closed block");
    DOC[start..start + end].to_owned()
}

#[test]
fn the_documented_configuration_is_one_serve_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tessera.toml");
    std::fs::write(&path, documented_config()).expect("write config");
    let (config, warnings) =
        tessera_server::Config::load(Some(&path), &BTreeMap::new()).expect("the page's file loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    config.validate().expect("the page's file is valid");
    assert_eq!(
        config.database.url.as_str(),
        "sqlite:///var/lib/tessera/tessera.db",
        "the page's database is not in the unit's StateDirectory"
    );
    // The unit reads the file the page tells operators to create.
    let exec = UNIT
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .expect("ExecStart");
    assert!(
        exec.ends_with("serve --config /etc/tessera/tessera.toml"),
        "{exec}"
    );
    assert!(DOC.contains("# /etc/tessera/tessera.toml"));
}
