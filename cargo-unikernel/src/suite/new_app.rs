//! The "new app outside the workspace" check: `cargo unikernel new` makes an
//! application in a temporary directory, which then boots through the normal
//! build and QEMU path, its own `[[package.metadata.unikernel.test]]` judged
//! like any other QEMU test.

use std::fs;
use std::path::Path;
use std::time::Instant;

use super::{Case, Job, Tally, run_job};
use crate::cli::{Selection, TestArgs};
use crate::metadata::{RUNTIME_PACKAGE, Workspace};
use crate::new::{self, RuntimeDep};
use crate::run::build_boot_files;
use crate::target::{Arch, Boot, Target};
use crate::temp_dir::TempDir;
use crate::toolchain;

/// The package name of the generated application.
pub const APP_NAME: &str = "new-app";

/// The targets it boots on: one firmware per architecture keeps the check
/// short (UEFI differs from BIOS only below the runtime).
const TARGETS: [Target; 2] = [Target::X86_64(Boot::Bios), Target::Riscv64];

/// The test name the template declares.
const TEST_NAME: &str = "runs";

/// The QEMU test ids this check reports, for `--filter`.
fn case_ids(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .map(|t| format!("{t} {APP_NAME}::{TEST_NAME}"))
        .collect()
}

/// Runs the check when this workspace holds the runtime (it tests the
/// runtime's own checkout, so a user's workspace has nothing to check).
pub fn run(workspace: &Workspace, args: &TestArgs, arches: &[Arch], tally: &mut Tally) {
    let Some(runtime) = workspace
        .packages
        .iter()
        .find(|p| p.name == RUNTIME_PACKAGE)
    else {
        return;
    };
    let targets: Vec<Target> = TARGETS
        .into_iter()
        .filter(|t| arches.contains(&t.arch()))
        .filter(|t| {
            let id = format!("{t} {APP_NAME}::{TEST_NAME}");
            args.filter.as_deref().is_none_or(|f| id.contains(f))
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let start = Instant::now();
    let outcome = TempDir::new(APP_NAME)
        .map_err(|e| format!("a scratch directory for the app: {e}"))
        .and_then(|dir| {
            let app = dir.path().join(APP_NAME);
            let app_workspace = prepare(&app, &runtime.dir, &workspace.root)?;
            boot(&app, &app_workspace, &targets, args.release)
        });
    match outcome {
        Ok(passed) => {
            for passed in passed {
                tally.record(passed);
            }
        }
        Err(reason) => {
            for id in case_ids(&targets) {
                println!("FAIL {id}: {reason}");
                tally.record(false);
            }
        }
    }
    println!(
        "     new app outside the workspace: {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Creates the application with the runner's own `new` logic, depending on
/// this checkout's runtime, and loads it as cargo sees it.
fn prepare(app: &Path, runtime_dir: &Path, workspace_root: &Path) -> Result<Workspace, String> {
    new::create(app, APP_NAME, &RuntimeDep::Path(runtime_dir.to_path_buf()))
        .map_err(|e| format!("cargo unikernel new: {e}"))?;
    // Share the workspace's build directory so the runtime is not compiled
    // again from nothing; CARGO_TARGET_DIR, when set, still wins.
    let config_dir = app.join(".cargo");
    fs::create_dir_all(&config_dir).map_err(|e| e.to_string())?;
    fs::write(
        config_dir.join("config.toml"),
        format!(
            "[build]\ntarget-dir = {}\n",
            new::toml_string(&workspace_root.join("target").to_string_lossy())
        ),
    )
    .map_err(|e| e.to_string())?;
    // The workspace's lock file pins the same dependency versions (their
    // builds are then shared too) and spares a registry look-up.
    let lock = workspace_root.join("Cargo.lock");
    if lock.is_file() {
        fs::copy(&lock, app.join("Cargo.lock")).map_err(|e| e.to_string())?;
    }
    let app_workspace = Workspace::load(app).map_err(|e| e.to_string())?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(&app_workspace.root, app) {
        return Err(format!(
            "the application joined the workspace at {} instead of being its own",
            app_workspace.root.display()
        ));
    }
    Ok(app_workspace)
}

/// Builds the application for `targets` and runs its test on each; one
/// verdict per target.
fn boot(
    app: &Path,
    app_workspace: &Workspace,
    targets: &[Target],
    release: bool,
) -> Result<Vec<bool>, String> {
    let package = app_workspace
        .select(&Selection::Default, app)
        .map_err(|e| e.to_string())?;
    let spec = package
        .config
        .tests
        .iter()
        .find(|t| t.name == TEST_NAME)
        .ok_or_else(|| format!("the template declares no `{TEST_NAME}` test"))?;
    let arches: Vec<Arch> = targets.iter().map(|t| t.arch()).collect();
    toolchain::ensure_targets(&arches)
        .and_then(|()| toolchain::ensure_qemu(targets))
        .map_err(|e| e.to_string())?;
    let files = build_boot_files(app, package, targets, release, &spec.features, false)
        .map_err(|e| format!("build failed: {e}"))?;
    Ok(targets
        .iter()
        .zip(files)
        .map(|(&target, file)| {
            run_job(&Job {
                case: Case {
                    package,
                    spec,
                    target,
                },
                boot_file: Ok(file),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_app_and_its_test() {
        assert_eq!(
            case_ids(&TARGETS),
            ["x86_64-bios new-app::runs", "riscv64 new-app::runs"]
        );
    }

    #[test]
    fn the_template_declares_the_test_this_check_runs() {
        let manifest = new::render_manifest(APP_NAME, &RuntimeDep::Version("0.1".into()));
        assert!(manifest.contains(&format!("name = \"{TEST_NAME}\"")));
        assert!(new::validate_name(APP_NAME).is_ok());
    }
}
