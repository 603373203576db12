//! Checks that keep the library crates publishable: `cargo package` for
//! each, and a build with the oldest Rust the workspace claims to support.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{Tally, run_step};
use crate::metadata::Workspace;
use crate::nested::{self, Isolation};
use crate::new;
use crate::target::Arch;
use crate::toolchain;

/// The crates published to crates.io, in dependency order.
pub const LIBRARY_PACKAGES: &[&str] = &[
    "mem-core",
    "unikernel-macros",
    "mem-x86",
    "mem-riscv",
    "unikernel-rt",
];

/// Library crates that also build for the kernel targets (not the proc macro).
const KERNEL_TARGET_PACKAGES: &[&str] = &["mem-core", "mem-x86", "mem-riscv", "unikernel-rt"];

/// The entries of `wanted` that are packages of `workspace`.
fn present<'a>(workspace: &Workspace, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|name| workspace.packages.iter().any(|p| p.name == *name))
        .collect()
}

/// `cargo package` of every library crate without the verifying build:
/// catches a missing `version` on a path dependency, files outside the
/// package (an `include_str!` of `../..`), and manifest errors, in seconds.
pub fn package_step(workspace: &Workspace) -> Option<(String, Command)> {
    let packages = present(workspace, LIBRARY_PACKAGES);
    if packages.is_empty() {
        return None;
    }
    let mut command = nested::cargo(["package", "--no-verify", "--allow-dirty", "--quiet"]);
    command.args(packages.iter().flat_map(|p| ["-p", p]));
    Some(("package".to_owned(), command))
}

/// `cargo doc` of every library crate with warnings denied, for the host and
/// for each kernel target (what docs.rs builds): a broken intra-doc link or a
/// missing doc fails here, not after publishing.
pub fn doc_steps(workspace: &Workspace, arches: &[Arch]) -> Vec<(String, Command)> {
    let mut steps = Vec::new();
    let host = present(workspace, LIBRARY_PACKAGES);
    if host.is_empty() {
        return steps;
    }
    let doc = |packages: &[&str], target: Option<&str>| {
        let mut command = nested::cargo(["doc", "--no-deps", "--quiet"]);
        command.args(packages.iter().flat_map(|p| ["-p", p]));
        if let Some(triple) = target {
            command.args(["--target", triple]);
        }
        if packages.contains(&"unikernel-rt") {
            command.args(["--features", "unikernel-rt/harness"]);
        }
        command.env("RUSTDOCFLAGS", "-D warnings");
        command
    };
    steps.push(("doc host".to_owned(), doc(&host, None)));
    let kernel = present(workspace, KERNEL_TARGET_PACKAGES);
    for arch in arches {
        steps.push((
            format!("doc {}", arch.triple()),
            doc(&kernel, Some(arch.triple())),
        ));
    }
    steps
}

/// The toolchain `rust-version` names (`1.88` -> `1.88.0`), read from the
/// workspace's root manifest.
pub fn msrv_toolchain(root_manifest: &str) -> Option<String> {
    let value = new::manifest_value(root_manifest, "rust-version")?
        .trim_matches('"')
        .to_owned();
    let parts: Vec<&str> = value.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match (numeric, parts.len()) {
        (true, 2) => Some(format!("{value}.0")),
        (true, 3) => Some(value),
        _ => None,
    }
}

/// The `cargo +MSRV check` commands: the library crates on the host, then
/// the kernel-side crates on each of `arches`.
pub fn msrv_steps(
    workspace: &Workspace,
    toolchain: &str,
    arches: &[Arch],
) -> Vec<(String, Command)> {
    let mut steps = Vec::new();
    let host = present(workspace, LIBRARY_PACKAGES);
    if host.is_empty() {
        return steps;
    }
    let mut check = vec!["check"];
    check.extend(host.iter().flat_map(|p| ["-p", p]));
    steps.push((
        format!("rust {toolchain} host"),
        nested::cargo_with_toolchain(toolchain, Isolation::OtherToolchain, check),
    ));
    let kernel = present(workspace, KERNEL_TARGET_PACKAGES);
    for arch in arches {
        if kernel.is_empty() {
            break;
        }
        let mut check = vec!["check", "--target", arch.triple()];
        check.extend(kernel.iter().flat_map(|p| ["-p", p]));
        steps.push((
            format!("rust {toolchain} {}", arch.triple()),
            nested::cargo_with_toolchain(toolchain, Isolation::OtherToolchain, check),
        ));
    }
    steps
}

/// Whether `toolchain` is installed with the targets of `arches`.
fn installed(toolchain: &str, arches: &[Arch]) -> bool {
    let listing = Command::new("rustup")
        .args(["target", "list", "--installed", "--toolchain", toolchain])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match listing {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            arches
                .iter()
                .all(|a| text.lines().any(|l| l.trim() == a.triple()))
        }
        _ => false,
    }
}

/// Installs `toolchain` (minimal profile) and the targets.
fn install(toolchain: &str, arches: &[Arch]) -> Result<(), String> {
    toolchain::ensure_toolchain(
        toolchain,
        &[],
        "to check the minimum supported Rust version",
    )
    .map_err(|e| e.0)?;
    let mut command = Command::new("rustup");
    command.args(["target", "add", "--toolchain", toolchain]);
    command.args(arches.iter().map(|a| a.triple()));
    eprintln!("cargo-unikernel: installing the kernel targets for {toolchain}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run rustup: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`rustup target add --toolchain {toolchain}` failed:\n{}",
            toolchain::tail(&String::from_utf8_lossy(&output.stderr), 20)
        ))
    }
}

/// Checks the library crates with the workspace's `rust-version`,
/// installing that toolchain and the kernel targets first if they are
/// missing: the promise that the libraries build on it is only kept if
/// every test run checks it.
pub fn run_msrv(workspace: &Workspace, arches: &[Arch], tally: &mut Tally) {
    let manifest = std::fs::read_to_string(workspace.root.join("Cargo.toml")).unwrap_or_default();
    let Some(toolchain) = msrv_toolchain(&manifest) else {
        return;
    };
    let steps = msrv_steps(workspace, &toolchain, arches);
    if steps.is_empty() {
        return;
    }
    if !installed(&toolchain, arches)
        && let Err(reason) = install(&toolchain, arches)
    {
        println!("FAIL check rust {toolchain}: {reason}");
        tally.record(false);
        return;
    }
    for (name, command) in steps {
        tally.record(run_step(&name, command, Path::new(&workspace.root)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn workspace() -> Workspace {
        let lib = |name: &str| {
            json!({ "name": name, "id": format!("id-{name}"),
                    "manifest_path": format!("/ws/{name}/Cargo.toml"),
                    "dependencies": [], "targets": [{ "kind": ["lib"] }], "metadata": null })
        };
        let packages = vec![
            lib("mem-core"),
            lib("unikernel-macros"),
            lib("unikernel-rt"),
        ];
        let ids: Vec<_> = packages.iter().map(|p| p["id"].clone()).collect();
        Workspace::from_json(
            &json!({ "workspace_root": "/ws", "workspace_members": ids, "packages": packages }),
        )
        .unwrap()
    }

    #[test]
    fn rust_version_names_a_toolchain() {
        let manifest = "[workspace.package]\nedition = \"2024\"\nrust-version = \"1.88\"\n";
        assert_eq!(msrv_toolchain(manifest).as_deref(), Some("1.88.0"));
        assert_eq!(
            msrv_toolchain("rust-version = \"1.85.1\"").as_deref(),
            Some("1.85.1")
        );
        assert_eq!(msrv_toolchain("rust-version.workspace = true"), None);
        assert_eq!(msrv_toolchain("rust-version = \"1.x\""), None);
        assert_eq!(msrv_toolchain("[package]\nname = \"a\""), None);
    }

    #[test]
    fn package_covers_the_library_crates_present() {
        let (name, command) = package_step(&workspace()).unwrap();
        assert_eq!(name, "package");
        assert_eq!(
            nested::display(&command),
            "cargo package --no-verify --allow-dirty --quiet -p mem-core -p unikernel-macros -p unikernel-rt"
        );
    }

    #[test]
    fn msrv_checks_the_host_then_each_kernel_target() {
        let steps = msrv_steps(&workspace(), "1.88.0", &Arch::ALL);
        let shown: Vec<(String, String)> = steps
            .iter()
            .map(|(n, c)| (n.clone(), nested::display(c)))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "rust 1.88.0 host".to_owned(),
                    "rustup run 1.88.0 cargo check -p mem-core -p unikernel-macros -p unikernel-rt"
                        .to_owned()
                ),
                (
                    "rust 1.88.0 x86_64-unknown-none".to_owned(),
                    "rustup run 1.88.0 cargo check --target x86_64-unknown-none -p mem-core -p unikernel-rt"
                        .to_owned()
                ),
                (
                    "rust 1.88.0 riscv64gc-unknown-none-elf".to_owned(),
                    "rustup run 1.88.0 cargo check --target riscv64gc-unknown-none-elf -p mem-core -p unikernel-rt"
                        .to_owned()
                ),
            ]
        );
    }
}
