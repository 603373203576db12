//! Compiling a kernel package for a bare-metal target with cargo.

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::metadata::Package;
use crate::nested;
use crate::target::Arch;

/// A kernel build that failed or produced no executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

/// What to build: one package, for one architecture, in one configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelBuild {
    /// The package name.
    pub package: String,
    /// The package id, to recognise its artifact among the dependencies'.
    pub package_id: String,
    /// The architecture.
    pub arch: Arch,
    /// `--release`.
    pub release: bool,
    /// Cargo features of the package.
    pub features: Vec<String>,
}

impl KernelBuild {
    /// A build of `package` for `arch`.
    pub fn new(package: &Package, arch: Arch, release: bool, features: &[String]) -> KernelBuild {
        let mut features = features.to_vec();
        features.sort();
        features.dedup();
        KernelBuild {
            package: package.name.clone(),
            package_id: package.id.clone(),
            arch,
            release,
            features,
        }
    }

    /// The `cargo` arguments.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args: Vec<String> = ["build", "-p", &self.package, "--target", self.arch.triple()]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        args.extend([
            "--message-format=json-render-diagnostics".to_owned(),
            "--config".to_owned(),
        ]);
        args.push(self.arch.rustflags_config());
        if self.release {
            args.push("--release".to_owned());
        }
        if !self.features.is_empty() {
            args.push("--features".to_owned());
            args.push(self.features.join(","));
        }
        args
    }

    /// Runs cargo in `dir` (diagnostics go to stderr) and returns the kernel ELF.
    pub fn run(&self, dir: &Path) -> Result<PathBuf, BuildError> {
        let mut command = nested::cargo(self.cargo_args());
        command
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        let shown = nested::display(&command);
        let mut child = command
            .spawn()
            .map_err(|e| BuildError(format!("cannot run `{shown}`: {e}")))?;
        let mut executable = None;
        if let Some(stdout) = child.stdout.take() {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(path) = executable_in_message(&line, &self.package_id) {
                    executable = Some(path);
                }
            }
        }
        let status = child
            .wait()
            .map_err(|e| BuildError(format!("`{shown}`: {e}")))?;
        if !status.success() {
            return Err(BuildError(format!(
                "building `{}` for {} failed",
                self.package,
                self.arch.triple()
            )));
        }
        let executable = executable.ok_or_else(|| {
            BuildError(format!(
                "`{}` built for {} but produced no executable (has it a `main.rs` or `[[bin]]`?)",
                self.package,
                self.arch.triple()
            ))
        })?;
        self.keep_apart(executable)
    }

    /// Cargo writes every feature set of a package to the same path, so a
    /// later build would replace the ELF an earlier test still has to boot.
    /// Each feature set gets its own copy in `unikernel/<features>/` next to
    /// cargo's output; the copy is left alone when unchanged so that the
    /// images cached beside it stay valid.
    fn keep_apart(&self, executable: PathBuf) -> Result<PathBuf, BuildError> {
        let copy = variant_path(&executable, &self.features);
        let fresh = std::fs::read(&executable)
            .map_err(|e| BuildError(format!("cannot read {}: {e}", executable.display())))?;
        if std::fs::read(&copy).ok().as_deref() != Some(fresh.as_slice()) {
            if let Some(dir) = copy.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| BuildError(format!("cannot create {}: {e}", dir.display())))?;
            }
            std::fs::write(&copy, &fresh)
                .map_err(|e| BuildError(format!("cannot write {}: {e}", copy.display())))?;
        }
        Ok(copy)
    }
}

/// `DIR/unikernel/default/hello` for a build of `DIR/hello` without features,
/// `DIR/unikernel/feat-a+feat-b/hello` with them.
fn variant_path(executable: &Path, features: &[String]) -> PathBuf {
    let tag = if features.is_empty() {
        "default".to_owned()
    } else {
        features
            .iter()
            .map(|f| {
                f.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("+")
    };
    let dir = executable.parent().unwrap_or(Path::new("."));
    let name = executable.file_name().unwrap_or_default();
    dir.join("unikernel").join(tag).join(name)
}

/// The executable of a cargo `compiler-artifact` JSON message for `package_id`.
pub fn executable_in_message(line: &str, package_id: &str) -> Option<PathBuf> {
    if !line.starts_with('{') {
        return None;
    }
    let message: Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" || message["package_id"] != package_id {
        return None;
    }
    message["executable"].as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_args_for_riscv_release_with_features() {
        let build = KernelBuild {
            package: "hello".into(),
            package_id: "id".into(),
            arch: Arch::Riscv64,
            release: true,
            features: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            build.cargo_args(),
            [
                "build",
                "-p",
                "hello",
                "--target",
                "riscv64gc-unknown-none-elf",
                "--message-format=json-render-diagnostics",
                "--config",
                r#"target.riscv64gc-unknown-none-elf.rustflags=["-Cforce-frame-pointers=yes", "-Clink-arg=-Tunikernel-riscv64.ld"]"#,
                "--release",
                "--features",
                "a,b",
            ]
        );
    }

    #[test]
    fn every_feature_set_gets_its_own_file() {
        let elf = Path::new("/t/riscv64gc-unknown-none-elf/debug/kernel-oom");
        assert_eq!(
            variant_path(elf, &[]),
            Path::new("/t/riscv64gc-unknown-none-elf/debug/unikernel/default/kernel-oom")
        );
        assert_eq!(
            variant_path(
                elf,
                &["limit".to_owned(), "unikernel-rt/harness".to_owned()]
            ),
            Path::new(
                "/t/riscv64gc-unknown-none-elf/debug/unikernel/limit+unikernel-rt_harness/kernel-oom"
            )
        );
    }

    #[test]
    fn finds_the_packages_executable_only() {
        let id = "path+file:///ws/examples/hello#0.1.0";
        let ours = format!(
            r#"{{"reason":"compiler-artifact","package_id":"{id}","target":{{"kind":["bin"]}},"executable":"/t/x86_64-unknown-none/debug/hello"}}"#
        );
        assert_eq!(
            executable_in_message(&ours, id),
            Some(PathBuf::from("/t/x86_64-unknown-none/debug/hello"))
        );
        let dependency = r#"{"reason":"compiler-artifact","package_id":"other","executable":null}"#;
        assert_eq!(executable_in_message(dependency, id), None);
        let lib =
            format!(r#"{{"reason":"compiler-artifact","package_id":"{id}","executable":null}}"#);
        assert_eq!(executable_in_message(&lib, id), None);
        assert_eq!(
            executable_in_message(r#"{"reason":"build-finished","success":true}"#, id),
            None
        );
        assert_eq!(executable_in_message("   Compiling hello", id), None);
    }
}
