//! Nested `cargo`/`rustup` invocations with an environment that cannot leak
//! the outer build's settings into them.
//!
//! `cargo run` (the workspace alias) and `cargo unikernel` (installed) both
//! export variables meant for the runner itself: its package metadata, a
//! toolchain override, and sometimes flags or a build target that would
//! break a kernel or the image builder.

use std::ffi::OsStr;
use std::process::Command;

/// Variables removed from every nested cargo command.
const ALWAYS_REMOVED: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTUP_TOOLCHAIN",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "__CARGO_FIX_PLZ",
];

/// Prefixes of variables removed from every nested cargo command.
const ALWAYS_REMOVED_PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_MANIFEST_"];

/// What else a nested command must not inherit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A kernel build, lint or test in the user's project with the default
    /// toolchain: keeps `CARGO_TARGET_DIR` (the user chose it) and `CARGO`.
    SameToolchain,
    /// The image builder: another toolchain, and no `CARGO_TARGET_DIR`,
    /// because the bootloader's build script runs a nested `cargo install`
    /// that inherits it and then waits forever on the outer build's lock.
    ImageBuilder,
    /// Another toolchain (Miri): `CARGO` would point at the wrong cargo.
    OtherToolchain,
}

/// Whether `name` is removed from a nested command's environment.
pub fn is_removed(name: &str, isolation: Isolation) -> bool {
    ALWAYS_REMOVED.contains(&name)
        || ALWAYS_REMOVED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        || match isolation {
            Isolation::SameToolchain => false,
            Isolation::ImageBuilder => {
                name == "CARGO" || name == "CARGO_TARGET_DIR" || name == "CARGO_BUILD_TARGET_DIR"
            }
            Isolation::OtherToolchain => name == "CARGO",
        }
}

/// Removes from `command` every variable of the current environment that
/// [`is_removed`] names.
pub fn clean_env(command: &mut Command, isolation: Isolation) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if let Some(text) = name.to_str()
            && is_removed(text, isolation)
        {
            command.env_remove(&name);
        }
    }
    command
}

/// `cargo ARGS...` with a cleaned environment, using the rustup proxy so the
/// directory's toolchain (or the default) is chosen, never a leftover override.
pub fn cargo<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new("cargo");
    command.args(args);
    clean_env(&mut command, Isolation::SameToolchain);
    command
}

/// `rustup run TOOLCHAIN cargo ARGS...` with a cleaned environment.
pub fn cargo_with_toolchain<S: AsRef<OsStr>>(
    toolchain: &str,
    isolation: Isolation,
    args: impl IntoIterator<Item = S>,
) -> Command {
    let mut command = Command::new("rustup");
    command.args(["run", toolchain, "cargo"]).args(args);
    clean_env(&mut command, isolation);
    command
}

/// A printable form of a command, for error messages and `--verbose` output.
pub fn display(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains([' ', '"', '\'', '[']) {
            format!("'{a}'")
        } else {
            a.into_owned()
        }
    }));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_outer_build_settings_everywhere() {
        for name in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTUP_TOOLCHAIN",
            "CARGO_PKG_NAME",
            "CARGO_MANIFEST_DIR",
        ] {
            for isolation in [
                Isolation::SameToolchain,
                Isolation::ImageBuilder,
                Isolation::OtherToolchain,
            ] {
                assert!(is_removed(name, isolation), "{name} kept for {isolation:?}");
            }
        }
        assert!(!is_removed("PATH", Isolation::ImageBuilder));
        assert!(!is_removed("CARGO_HOME", Isolation::ImageBuilder));
        assert!(!is_removed("RUSTUP_HOME", Isolation::ImageBuilder));
    }

    #[test]
    fn target_dir_is_kept_for_kernels_only() {
        assert!(!is_removed("CARGO_TARGET_DIR", Isolation::SameToolchain));
        assert!(is_removed("CARGO_TARGET_DIR", Isolation::ImageBuilder));
        assert!(!is_removed("CARGO_TARGET_DIR", Isolation::OtherToolchain));
        assert!(!is_removed("CARGO", Isolation::SameToolchain));
        assert!(is_removed("CARGO", Isolation::OtherToolchain));
    }

    #[test]
    fn clean_env_removes_from_the_command() {
        let mut command = cargo(["build"]);
        command.env("KEEP_ME", "1");
        // The test binary runs under cargo, which sets CARGO_PKG_NAME.
        assert!(std::env::var_os("CARGO_PKG_NAME").is_some());
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_owned())
            .collect();
        assert!(removed.iter().any(|k| k == "CARGO_PKG_NAME"));
        assert!(
            command
                .get_envs()
                .any(|(k, v)| k == "KEEP_ME" && v.is_some())
        );
    }

    #[test]
    fn display_quotes_words_with_spaces() {
        let command = cargo(["build", "--config", "a = [\"b\"]"]);
        assert_eq!(display(&command), "cargo build --config 'a = [\"b\"]'");
    }
}
