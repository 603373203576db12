//! Pinned toolchains, and checking/installing what a command needs.
//!
//! Only what the current command needs is installed, each step announced on
//! one line. Rust parts come from rustup (no root needed); QEMU and OVMF come
//! from Debian packages and are installed only when running as root.

use std::fmt;
use std::process::{Command, Stdio};

use crate::nested;
use crate::qemu;
use crate::target::{Arch, Boot, Target};

/// The nightly that compiles the bootloader image builder (its build script
/// runs `cargo install -Zbuild-std` for the boot stages). Older nightlies
/// fail: before 2026-07-06 the `x86_64` crate does not compile, and before
/// September 2026 the UEFI stage does not link (`wcslen`).
pub const IMAGE_BUILDER_TOOLCHAIN: &str = "nightly-2026-09-20";

/// The nightly whose Miri runs mem-core's tests in `cargo unikernel test`.
/// (`nightly-2026-09-20` ships no miri component.)
pub const MIRI_TOOLCHAIN: &str = "nightly-2026-10-25";

/// Something required is missing and could not be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// Output of `program args...` when it succeeds, `None` when it cannot run or fails.
fn stdout_of(program: &str, args: &[&str]) -> Option<String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    nested::clean_env(&mut command, nested::Isolation::SameToolchain);
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs an installer step after announcing it (`doing`, e.g. "installing
/// QEMU"); its output is shown only if it fails.
fn install_step(doing: &str, program: &str, args: &[&str]) -> Result<(), SetupError> {
    let shown = format!("{program} {}", args.join(" "));
    eprintln!("cargo-unikernel: {doing} ({shown})");
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    nested::clean_env(&mut command, nested::Isolation::SameToolchain);
    let output = command
        .output()
        .map_err(|e| SetupError(format!("cannot run `{shown}`: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(SetupError(format!(
        "`{shown}` failed ({}):\n{}",
        output.status,
        tail(&log, 40)
    )))
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Lines of `rustup ... list` output, without the ` (active, default)` notes.
fn listed_names(listing: &str) -> Vec<&str> {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect()
}

/// A rustup toolchain or component name without its host-triple suffix
/// (`llvm-tools-x86_64-unknown-linux-gnu` -> `llvm-tools`).
fn without_host(name: &str) -> &str {
    let suffix = format!("-{}", std::env::consts::ARCH);
    name.find(&suffix).map_or(name, |at| &name[..at])
}

/// Whether `component` (e.g. `llvm-tools`) is in a `rustup component list
/// --installed` listing (older toolchains call some `*-preview`).
pub fn has_component(listing: &str, component: &str) -> bool {
    listed_names(listing)
        .iter()
        .map(|name| without_host(name))
        .any(|name| name == component || name.strip_suffix("-preview") == Some(component))
}

/// Whether a `rustup toolchain list` listing holds `toolchain`.
pub fn has_toolchain(listing: &str, toolchain: &str) -> bool {
    listed_names(listing)
        .iter()
        .any(|name| without_host(name) == toolchain)
}

/// Installs the rustup targets for `arches` that the active toolchain lacks.
///
/// Without rustup (a distribution's Rust), nothing is checked: the kernel
/// build then reports a missing target itself.
pub fn ensure_targets(arches: &[Arch]) -> Result<(), SetupError> {
    let Some(installed) = stdout_of("rustup", &["target", "list", "--installed"]) else {
        return Ok(());
    };
    let installed = listed_names(&installed);
    let missing: Vec<&str> = arches
        .iter()
        .map(|a| a.triple())
        .filter(|t| !installed.contains(t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec!["target", "add"];
    args.extend(&missing);
    install_step(
        &format!("installing Rust target {}", missing.join(" and ")),
        "rustup",
        &args,
    )
}

/// Installs `toolchain` with `components` if it or any of them is missing.
pub fn ensure_toolchain(toolchain: &str, components: &[&str], why: &str) -> Result<(), SetupError> {
    let toolchains = stdout_of("rustup", &["toolchain", "list"])
        .ok_or_else(|| SetupError(format!("rustup is needed to install {toolchain} {why}")))?;
    if !has_toolchain(&toolchains, toolchain) {
        let mut args = vec!["toolchain", "install", toolchain, "--profile", "minimal"];
        for component in components {
            args.extend(["--component", component]);
        }
        return install_step(&format!("installing {toolchain} {why}"), "rustup", &args);
    }
    let installed = stdout_of(
        "rustup",
        &["component", "list", "--installed", "--toolchain", toolchain],
    )
    .unwrap_or_default();
    let missing: Vec<&str> = components
        .iter()
        .copied()
        .filter(|c| !has_component(&installed, c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec!["component", "add", "--toolchain", toolchain];
    args.extend(&missing);
    install_step(
        &format!("installing {} for {toolchain} {why}", missing.join(" and ")),
        "rustup",
        &args,
    )
}

/// The Debian packages that provide what `targets` need and is not installed.
pub fn missing_packages(
    targets: &[Target],
    has_binary: impl Fn(&str) -> bool,
    has_ovmf: bool,
) -> Vec<&'static str> {
    let mut packages = Vec::new();
    for target in targets {
        let package = match target.arch() {
            Arch::X86_64 => "qemu-system-x86",
            Arch::Riscv64 => "qemu-system-misc",
        };
        if !has_binary(target.arch().qemu_binary()) && !packages.contains(&package) {
            packages.push(package);
        }
        if *target == Target::X86_64(Boot::Uefi) && !has_ovmf && !packages.contains(&"ovmf") {
            packages.push("ovmf");
        }
    }
    packages
}

fn is_root() -> bool {
    stdout_of("id", &["-u"]).is_some_and(|uid| uid.trim() == "0")
}

/// Installs QEMU (and OVMF) for `targets` from Debian packages when running
/// as root; otherwise fails with the exact command to run.
pub fn ensure_qemu(targets: &[Target]) -> Result<(), SetupError> {
    let missing = missing_packages(targets, qemu::on_path, qemu::find_ovmf().is_some());
    if missing.is_empty() {
        return Ok(());
    }
    let command = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !qemu::on_path("apt-get") {
        return Err(SetupError(format!(
            "QEMU is missing ({}); install your distribution's equivalent of the Debian packages {}",
            missing.join(", "),
            missing.join(" ")
        )));
    }
    if !is_root() {
        return Err(SetupError(format!(
            "QEMU is missing; install it with:\n    sudo apt-get update && sudo {command}"
        )));
    }
    install_step("updating the Debian package lists", "apt-get", &["update"])?;
    // OVMF goes on its own: apt's resolver has refused the combined install here.
    let (firmware, emulators): (Vec<&str>, Vec<&str>) = missing.iter().partition(|p| **p == "ovmf");
    for group in [emulators, firmware] {
        if group.is_empty() {
            continue;
        }
        let mut args = vec!["install", "-y", "--no-install-recommends"];
        args.extend(&group);
        let installed = install_step(&format!("installing {}", group.join(" ")), "apt-get", &args);
        match installed {
            Err(e) if group.len() == 1 => return Err(e),
            Err(_) => {
                for package in &group {
                    let args = ["install", "-y", "--no-install-recommends", package];
                    install_step(&format!("installing {package} alone"), "apt-get", &args)?;
                }
            }
            Ok(()) => {}
        }
    }
    let still_missing = missing_packages(targets, qemu::on_path, qemu::find_ovmf().is_some());
    if still_missing.is_empty() {
        Ok(())
    } else {
        Err(SetupError(format!(
            "installing {} did not provide what is needed",
            still_missing.join(" ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names_match_with_or_without_host_suffix() {
        let listing = "cargo-x86_64-unknown-linux-gnu\nllvm-tools-x86_64-unknown-linux-gnu\nrust-src\nmiri-x86_64-unknown-linux-gnu\n";
        assert!(has_component(listing, "llvm-tools"));
        assert!(has_component(listing, "rust-src"));
        assert!(has_component(listing, "miri"));
        assert!(!has_component(listing, "rust"));
        assert!(!has_component(listing, "clippy"));
        assert!(has_component(
            "llvm-tools-preview-x86_64-unknown-linux-gnu\n",
            "llvm-tools"
        ));
    }

    #[test]
    fn toolchain_names_match_with_host_suffix() {
        let listing = "stable-x86_64-unknown-linux-gnu (active, default)\nnightly-x86_64-unknown-linux-gnu\nnightly-2026-09-20-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(listing, "nightly-2026-09-20"));
        assert!(has_toolchain(listing, "stable"));
        assert!(has_toolchain(listing, "nightly"));
        assert!(!has_toolchain(listing, "nightly-2026-10-25"));
        assert!(!has_toolchain(listing, "nightly-2026"));
    }

    #[test]
    fn packages_cover_only_what_is_missing() {
        let none = |_: &str| false;
        let all = |_: &str| true;
        assert_eq!(
            missing_packages(&Target::ALL, none, false),
            ["qemu-system-x86", "ovmf", "qemu-system-misc"]
        );
        assert_eq!(
            missing_packages(&[Target::X86_64(Boot::Bios)], none, false),
            ["qemu-system-x86"]
        );
        assert_eq!(
            missing_packages(&[Target::X86_64(Boot::Uefi)], all, false),
            ["ovmf"]
        );
        assert!(missing_packages(&Target::ALL, all, true).is_empty());
        let only_x86 = |b: &str| b == "qemu-system-x86_64";
        assert_eq!(
            missing_packages(&[Target::Riscv64], only_x86, true),
            ["qemu-system-misc"]
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
