//! `token-backend --help` and the README's configuration tables agree: every
//! variable in the README is a flag named after it, listed with its variable,
//! and every variable `--help` lists is documented in the README.

use std::collections::BTreeSet;
use std::process::Command;

/// The variables named in the first column of the README's `| variable | default | meaning |` tables.
fn readme_variables() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let mut vars = BTreeSet::new();
    let mut in_table = false;
    for line in readme.lines() {
        if line.starts_with("| variable |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let Some(first) = line.split('|').nth(1).filter(|_| in_table) else { continue };
        vars.extend(
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .map(str::to_owned),
        );
    }
    vars
}

/// The variables `--help` names in its `[env: VAR=…]` markers.
fn help_variables(help: &str) -> BTreeSet<String> {
    help.split("[env: ").skip(1).filter_map(|rest| rest.split(['=', ']']).next()).map(str::to_owned).collect()
}

/// Every README variable has a flag `--var-name` listed with `[env: VAR_NAME`,
/// and `--help` names no variable the README leaves out.
#[test]
fn help_lists_every_readme_variable_as_a_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_token-backend")).arg("--help").output().expect("run --help");
    assert!(output.status.success(), "--help exits 0");
    let help = String::from_utf8(output.stdout).expect("utf-8 help");
    let documented = readme_variables();
    assert!(documented.len() >= 30, "the README tables were found: {documented:?}");
    for var in &documented {
        let flag = format!("--{}", var.to_ascii_lowercase().replace('_', "-"));
        assert!(help.contains(&format!("{flag} <")), "`{flag}` is missing from --help:\n{help}");
        assert!(help.contains(&format!("[env: {var}")), "`{var}` is missing from --help:\n{help}");
    }
    let listed = help_variables(&help);
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    assert!(undocumented.is_empty(), "variables in --help but not in the README: {undocumented:?}");
}

/// The short spellings scripts and tests already use keep working.
#[test]
fn earlier_flag_spellings_still_parse() {
    let output = Command::new(env!("CARGO_BIN_EXE_token-backend"))
        .args(["--provider", "nope", "--client-id", "x", "--client-secret", "y", "--public-dir", "."])
        .env_clear()
        .output()
        .expect("run token-backend");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("configuration error: OAUTH_PROVIDER: "), "the alias reached validation: {stderr}");
}
