//! The workspace as `cargo metadata` describes it, and the
//! `[package.metadata.unikernel]` tables of its kernel packages.
//!
//! A kernel package is one that depends on `unikernel-rt` and has a binary.
//! Its manifest may say:
//!
//! ```toml
//! [package.metadata.unikernel]
//! memory = "256M"          # defaults for `cargo unikernel run` and the tests
//! smp = 1
//! timeout = 60             # seconds; 0 = none
//! qemu-args = []
//!
//! [[package.metadata.unikernel.test]]
//! name = "boots"                     # default: test-N
//! expect-exit = "success"            # or "failure" (panic, Err from main)
//! expect-output = ["^hello, sum = 499500$", "frames: \\d+"]  # regexes, matched in order
//! expect-lines = ["^test .* ok$"]    # each must match some line, in any order
//! forbid-output = ["panicked"]       # no line may match
//! targets = ["x86_64-bios", "x86_64-uefi", "riscv64"]     # default: all three
//! features = []                      # cargo features of this test's build
//! # memory, smp, timeout and qemu-args as above (qemu-args are appended)
//! ```
//!
//! Unknown keys are errors, so a misspelt setting cannot be silently ignored.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use regex::Regex;
use serde_json::{Map, Value};

use crate::cli::Selection;
use crate::nested;
use crate::size::MemorySize;
use crate::target::Target;

/// The runtime crate whose users are kernels.
pub const RUNTIME_PACKAGE: &str = "unikernel-rt";

/// Default QEMU timeout of `cargo unikernel run` and of a QEMU test.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A problem with the workspace or a package's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError(pub String);

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MetadataError {}

fn error(message: impl Into<String>) -> MetadataError {
    MetadataError(message.into())
}

/// The workspace that contains the current directory.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The directory of the workspace's root manifest.
    pub root: PathBuf,
    /// Every member package.
    pub packages: Vec<Package>,
}

/// One workspace member.
#[derive(Debug, Clone)]
pub struct Package {
    /// The package name (`-p` value).
    pub name: String,
    /// cargo's package id, as in build messages' `package_id`.
    pub id: String,
    /// The directory of its `Cargo.toml`.
    pub dir: PathBuf,
    /// Whether it depends on unikernel-rt and has a binary: a kernel.
    pub is_kernel: bool,
    /// Its integration test targets (`cargo test --test NAME`), in
    /// `cargo metadata`'s order.
    pub tests: Vec<String>,
    /// Its `[package.metadata.unikernel]` settings.
    pub config: KernelConfig,
}

/// `[package.metadata.unikernel]` defaults for `cargo unikernel run`, and the QEMU tests.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    /// `memory = "128M"`.
    pub memory: Option<MemorySize>,
    /// `smp = 1`.
    pub smp: Option<u32>,
    /// `timeout = 60` (seconds; 0 = none).
    pub timeout: Option<Option<Duration>>,
    /// `qemu-args = [...]`.
    pub qemu_args: Vec<String>,
    /// `[[package.metadata.unikernel.test]]` entries.
    pub tests: Vec<TestSpec>,
}

/// Whether a QEMU test expects the application to succeed or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectExit {
    /// `expect-exit = "success"` (the default).
    Success,
    /// `expect-exit = "failure"`: a panic or `Err` from main.
    Failure,
}

/// One `[[package.metadata.unikernel.test]]` entry.
#[derive(Debug, Clone)]
pub struct TestSpec {
    /// `name`, or `test-N` (1-based position) when absent.
    pub name: String,
    /// `expect-exit`.
    pub expect_exit: ExpectExit,
    /// `expect-output`: each must match a line, in this order.
    pub expect_output: Vec<Regex>,
    /// `expect-lines`: each must match some line, in any order.
    pub expect_lines: Vec<Regex>,
    /// `forbid-output`: none may match any line.
    pub forbid_output: Vec<Regex>,
    /// `targets`, default all.
    pub targets: Vec<Target>,
    /// `memory`.
    pub memory: MemorySize,
    /// `smp`.
    pub smp: u32,
    /// `timeout` (`None` = never; `timeout = 0`).
    pub timeout: Option<Duration>,
    /// `features`: cargo features of the kernel build.
    pub features: Vec<String>,
    /// `qemu-args`.
    pub qemu_args: Vec<String>,
}

impl Workspace {
    /// Runs `cargo metadata --no-deps` in `dir` and parses it.
    pub fn load(dir: &Path) -> Result<Workspace, MetadataError> {
        let output = nested::cargo(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(dir)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| error(format!("cannot run `cargo metadata`: {e}")))?;
        if !output.status.success() {
            return Err(error(
                "`cargo metadata` failed (is this directory inside a Cargo package?)",
            ));
        }
        let json: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| error(format!("cannot parse `cargo metadata` output: {e}")))?;
        Workspace::from_json(&json)
    }

    /// Parses `cargo metadata --format-version 1` JSON.
    pub fn from_json(json: &Value) -> Result<Workspace, MetadataError> {
        let root = json["workspace_root"]
            .as_str()
            .ok_or_else(|| error("`cargo metadata` output has no workspace_root"))?;
        let members: Vec<&str> = json["workspace_members"]
            .as_array()
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut packages = Vec::new();
        for package in json["packages"].as_array().into_iter().flatten() {
            let id = package["id"].as_str().unwrap_or_default();
            if members.contains(&id) {
                packages.push(Package::from_json(package)?);
            }
        }
        Ok(Workspace {
            root: PathBuf::from(root),
            packages,
        })
    }

    /// The package to build for `selection`, run from `cwd`.
    ///
    /// Without `--example`/`-p`: the package whose directory holds `cwd` if
    /// it is a kernel (an application crate outside the workspace); else the
    /// workspace's `examples/hello`; else the only kernel of the workspace.
    pub fn select(&self, selection: &Selection, cwd: &Path) -> Result<&Package, MetadataError> {
        match selection {
            Selection::Package(name) => {
                self.packages
                    .iter()
                    .find(|p| &p.name == name)
                    .ok_or_else(|| {
                        error(format!(
                            "no package `{name}` in the workspace{}",
                            self.kernel_list()
                        ))
                    })
            }
            Selection::Example(name) => {
                let dir = self.root.join("examples").join(name);
                self.packages
                    .iter()
                    .find(|p| p.dir == dir)
                    .or_else(|| {
                        self.packages
                            .iter()
                            .find(|p| &p.name == name && p.is_kernel)
                    })
                    .ok_or_else(|| {
                        error(format!(
                            "no example `{name}` (examples/{name}){}",
                            self.kernel_list()
                        ))
                    })
            }
            Selection::Default => {
                let here = self
                    .packages
                    .iter()
                    .filter(|p| p.is_kernel && cwd.starts_with(&p.dir))
                    .max_by_key(|p| p.dir.components().count());
                let hello = self.root.join("examples").join("hello");
                let kernels: Vec<&Package> = self.packages.iter().filter(|p| p.is_kernel).collect();
                here.or_else(|| kernels.iter().copied().find(|p| p.dir == hello))
                    .or(match kernels.as_slice() {
                        [only] => Some(*only),
                        _ => None,
                    })
                    .ok_or_else(|| {
                        error(format!(
                            "cannot tell which kernel to build: give --example NAME or -p PKG{}",
                            self.kernel_list()
                        ))
                    })
            }
        }
    }

    fn kernel_list(&self) -> String {
        let names: Vec<&str> = self
            .packages
            .iter()
            .filter(|p| p.is_kernel)
            .map(|p| p.name.as_str())
            .collect();
        if names.is_empty() {
            format!("; no package here depends on `{RUNTIME_PACKAGE}`")
        } else {
            format!("; kernels here: {}", names.join(", "))
        }
    }
}

impl Package {
    fn from_json(json: &Value) -> Result<Package, MetadataError> {
        let name = json["name"].as_str().unwrap_or_default().to_owned();
        let manifest = json["manifest_path"].as_str().unwrap_or_default();
        let dir = Path::new(manifest)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let depends_on_runtime = json["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|dep| {
                dep["name"] == RUNTIME_PACKAGE && (dep["kind"].is_null() || dep["kind"] == "normal")
            });
        let targets_of = |kind: &'static str| {
            json["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(move |t| {
                    t["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|k| k == kind))
                })
        };
        let has_bin = targets_of("bin").next().is_some();
        let tests = targets_of("test")
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        let config = match json["metadata"].get("unikernel") {
            Some(table) => KernelConfig::from_json(table)
                .map_err(|e| error(format!("{manifest}: [package.metadata.unikernel]: {e}")))?,
            None => KernelConfig::default(),
        };
        Ok(Package {
            id: json["id"].as_str().unwrap_or_default().to_owned(),
            name,
            dir,
            is_kernel: depends_on_runtime && has_bin,
            tests,
            config,
        })
    }
}

/// Reads typed values out of one TOML table (as JSON), rejecting unknown keys
/// so a misspelt setting is an error rather than silently ignored.
struct Table<'a> {
    map: &'a Map<String, Value>,
    known: &'static [&'static str],
}

impl<'a> Table<'a> {
    fn new(value: &'a Value, known: &'static [&'static str]) -> Result<Table<'a>, MetadataError> {
        let map = value.as_object().ok_or_else(|| error("expected a table"))?;
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(error(format!(
                "unknown key `{unknown}` (known keys: {})",
                known.join(", ")
            )));
        }
        Ok(Table { map, known })
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        debug_assert!(self.known.contains(&key));
        self.map.get(key)
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>, MetadataError> {
        self.get(key)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| error(format!("`{key}` must be a string")))
            })
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, MetadataError> {
        let Some(value) = self.get(key) else {
            return Ok(Vec::new());
        };
        let bad = || error(format!("`{key}` must be an array of strings"));
        value
            .as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect()
    }

    fn memory(&self) -> Result<Option<MemorySize>, MetadataError> {
        self.string("memory")?
            .map(|s| MemorySize::parse(s).map_err(|e| error(format!("`memory`: {e}"))))
            .transpose()
    }

    fn smp(&self) -> Result<Option<u32>, MetadataError> {
        self.get("smp")
            .map(|v| {
                v.as_u64()
                    .filter(|n| (1..=255).contains(n))
                    .map(|n| n as u32)
                    .ok_or_else(|| error("`smp` must be an integer from 1 to 255"))
            })
            .transpose()
    }

    fn timeout(&self) -> Result<Option<Option<Duration>>, MetadataError> {
        self.get("timeout")
            .map(|v| {
                v.as_u64()
                    .map(|secs| (secs > 0).then(|| Duration::from_secs(secs)))
                    .ok_or_else(|| error("`timeout` must be a whole number of seconds"))
            })
            .transpose()
    }

    fn regexes(&self, key: &str) -> Result<Vec<Regex>, MetadataError> {
        self.strings(key)?
            .iter()
            .map(|pattern| {
                Regex::new(pattern)
                    .map_err(|e| error(format!("`{key}`: bad regex `{pattern}`: {e}")))
            })
            .collect()
    }
}

impl KernelConfig {
    /// Parses the `unikernel` table of `[package.metadata]`.
    pub fn from_json(json: &Value) -> Result<KernelConfig, MetadataError> {
        let table = Table::new(json, &["memory", "smp", "timeout", "qemu-args", "test"])?;
        let mut config = KernelConfig {
            memory: table.memory()?,
            smp: table.smp()?,
            timeout: table.timeout()?,
            qemu_args: table.strings("qemu-args")?,
            tests: Vec::new(),
        };
        let tests = match table.get("test") {
            None => &[][..],
            Some(Value::Array(tests)) => tests.as_slice(),
            Some(_) => {
                return Err(error(
                    "`test` must be an array of tables: [[package.metadata.unikernel.test]]",
                ));
            }
        };
        for (index, test) in tests.iter().enumerate() {
            let spec = TestSpec::from_json(test, index, &config)
                .map_err(|e| error(format!("test #{}: {e}", index + 1)))?;
            if config.tests.iter().any(|t| t.name == spec.name) {
                return Err(error(format!("two tests are named `{}`", spec.name)));
            }
            config.tests.push(spec);
        }
        Ok(config)
    }
}

impl TestSpec {
    /// Parses one test table; unset machine settings come from the package's `defaults`.
    fn from_json(
        json: &Value,
        index: usize,
        defaults: &KernelConfig,
    ) -> Result<TestSpec, MetadataError> {
        let table = Table::new(
            json,
            &[
                "name",
                "expect-exit",
                "expect-output",
                "expect-lines",
                "forbid-output",
                "targets",
                "memory",
                "smp",
                "timeout",
                "features",
                "qemu-args",
            ],
        )?;
        let name = match table.string("name")? {
            Some(name) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                name.to_owned()
            }
            Some(name) => {
                return Err(error(format!(
                    "`name` must be a non-empty word, not `{name}`"
                )));
            }
            None => format!("test-{}", index + 1),
        };
        let expect_exit = match table.string("expect-exit")? {
            None | Some("success") => ExpectExit::Success,
            Some("failure") => ExpectExit::Failure,
            Some(other) => {
                return Err(error(format!(
                    "`expect-exit` must be \"success\" or \"failure\", not `{other}`"
                )));
            }
        };
        let targets = match table.get("targets") {
            None => Target::ALL.to_vec(),
            Some(_) => {
                let mut targets = Vec::new();
                for name in table.strings("targets")? {
                    let target = Target::parse(&name).ok_or_else(|| {
                        error(format!(
                            "unknown target `{name}` (expected x86_64-bios, x86_64-uefi or riscv64)"
                        ))
                    })?;
                    if !targets.contains(&target) {
                        targets.push(target);
                    }
                }
                targets
            }
        };
        let mut qemu_args = defaults.qemu_args.clone();
        qemu_args.extend(table.strings("qemu-args")?);
        Ok(TestSpec {
            name,
            expect_exit,
            expect_output: table.regexes("expect-output")?,
            expect_lines: table.regexes("expect-lines")?,
            forbid_output: table.regexes("forbid-output")?,
            targets,
            memory: table
                .memory()?
                .or(defaults.memory)
                .unwrap_or(MemorySize::DEFAULT),
            smp: table.smp()?.or(defaults.smp).unwrap_or(1),
            timeout: table
                .timeout()?
                .or(defaults.timeout)
                .unwrap_or(Some(DEFAULT_TIMEOUT)),
            features: table.strings("features")?,
            qemu_args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str, dir: &str, kernel: bool, metadata: Value) -> Value {
        let deps = if kernel {
            json!([{ "name": "unikernel-rt", "kind": null }])
        } else {
            json!([])
        };
        json!({
            "name": name,
            "id": format!("path+file://{dir}#{name}@0.1.0"),
            "manifest_path": format!("{dir}/Cargo.toml"),
            "dependencies": deps,
            "targets": [{ "kind": [if kernel { "bin" } else { "lib" }], "name": name }],
            "metadata": metadata,
        })
    }

    fn workspace(packages: Vec<Value>) -> Workspace {
        let ids: Vec<Value> = packages.iter().map(|p| p["id"].clone()).collect();
        Workspace::from_json(
            &json!({ "workspace_root": "/ws", "workspace_members": ids, "packages": packages }),
        )
        .unwrap()
    }

    #[test]
    fn kernels_need_the_runtime_and_a_binary() {
        let ws = workspace(vec![
            package("mem-core", "/ws/mem-core", false, Value::Null),
            package("hello", "/ws/examples/hello", true, Value::Null),
        ]);
        assert!(!ws.packages[0].is_kernel);
        assert!(ws.packages[1].is_kernel);
        assert!(ws.packages[1].id.ends_with("#hello@0.1.0"));
    }

    #[test]
    fn integration_test_targets_are_listed_by_name() {
        let mut lib = package("mem-core", "/ws/mem-core", false, Value::Null);
        lib["targets"] = json!([
            { "kind": ["lib"], "name": "mem_core" },
            { "kind": ["test"], "name": "heap_model" },
            { "kind": ["bench"], "name": "heap" },
            { "kind": ["test"], "name": "frames_prop" },
            { "kind": ["example"], "name": "demo" },
        ]);
        let ws = workspace(vec![
            lib,
            package("hello", "/ws/examples/hello", true, Value::Null),
        ]);
        assert_eq!(ws.packages[0].tests, ["heap_model", "frames_prop"]);
        assert!(ws.packages[1].tests.is_empty());
    }

    #[test]
    fn default_selection_prefers_the_current_kernel_then_hello() {
        let ws = workspace(vec![
            package("hello", "/ws/examples/hello", true, Value::Null),
            package("panic", "/ws/examples/panic", true, Value::Null),
            package("mem-core", "/ws/mem-core", false, Value::Null),
        ]);
        let pick = |cwd: &str| {
            ws.select(&Selection::Default, Path::new(cwd))
                .unwrap()
                .name
                .clone()
        };
        assert_eq!(pick("/ws"), "hello");
        assert_eq!(pick("/ws/mem-core"), "hello");
        assert_eq!(pick("/ws/examples/panic/src"), "panic");
        let example = ws
            .select(&Selection::Example("panic".into()), Path::new("/ws"))
            .unwrap();
        assert_eq!(example.name, "panic");
        assert!(
            ws.select(&Selection::Example("nope".into()), Path::new("/ws"))
                .is_err()
        );
        assert!(
            ws.select(&Selection::Package("nope".into()), Path::new("/ws"))
                .is_err()
        );
    }

    #[test]
    fn outside_the_workspace_the_only_kernel_is_chosen() {
        let ws = workspace(vec![package(
            "my-app",
            "/home/me/my-app",
            true,
            Value::Null,
        )]);
        let chosen = ws
            .select(&Selection::Default, Path::new("/home/me/my-app"))
            .unwrap();
        assert_eq!(chosen.name, "my-app");
        let none = workspace(vec![package("lib", "/x/lib", false, Value::Null)]);
        let err = none
            .select(&Selection::Default, Path::new("/x/lib"))
            .unwrap_err();
        assert!(
            err.0.contains("no package here depends on `unikernel-rt`"),
            "{err}"
        );
    }

    #[test]
    fn test_tables_parse_with_defaults() {
        let config = KernelConfig::from_json(&json!({
            "memory": "256M",
            "qemu-args": ["-d", "guest_errors"],
            "test": [
                { "name": "boots", "expect-output": ["^hello, sum = 499500$", "frames: \\d+"], "forbid-output": ["panicked"] },
                { "expect-exit": "failure", "targets": ["riscv64"], "smp": 2, "timeout": 0, "features": ["x"], "qemu-args": ["-s"] },
            ],
        }))
        .unwrap();
        let [boots, second] = config.tests.as_slice() else {
            panic!("two tests expected")
        };
        assert_eq!(boots.name, "boots");
        assert_eq!(boots.expect_exit, ExpectExit::Success);
        assert_eq!(boots.expect_output.len(), 2);
        assert_eq!(boots.targets, Target::ALL);
        assert_eq!(boots.memory.mib(), 256);
        assert_eq!(boots.smp, 1);
        assert_eq!(boots.timeout, Some(DEFAULT_TIMEOUT));
        assert_eq!(second.name, "test-2");
        assert_eq!(second.expect_exit, ExpectExit::Failure);
        assert_eq!(second.targets, [Target::Riscv64]);
        assert_eq!((second.smp, second.timeout), (2, None));
        assert_eq!(second.features, ["x"]);
        assert_eq!(second.qemu_args, ["-d", "guest_errors", "-s"]);
    }

    #[test]
    fn bad_metadata_is_reported_with_the_key() {
        let cases = [
            (json!({ "memroy": "1G" }), "unknown key `memroy`"),
            (
                json!({ "test": [{ "expect-exit": "maybe" }] }),
                "expect-exit",
            ),
            (json!({ "test": [{ "expect-output": ["("] }] }), "bad regex"),
            (
                json!({ "test": [{ "targets": ["arm"] }] }),
                "unknown target `arm`",
            ),
            (json!({ "test": [{ "smp": 0 }] }), "`smp`"),
            (
                json!({ "test": [{ "name": "a" }, { "name": "a" }] }),
                "two tests are named `a`",
            ),
            (json!({ "test": { "name": "a" } }), "array of tables"),
            (json!({ "test": [{ "features": "x" }] }), "array of strings"),
        ];
        for (json, expected) in cases {
            let err = KernelConfig::from_json(&json).unwrap_err();
            assert!(
                err.0.contains(expected),
                "`{err}` should mention `{expected}`"
            );
        }
    }

    #[test]
    fn package_errors_name_the_manifest() {
        let bad = package(
            "hello",
            "/ws/examples/hello",
            true,
            json!({ "unikernel": { "smp": "two" } }),
        );
        let err = Package::from_json(&bad).unwrap_err();
        assert!(
            err.0
                .starts_with("/ws/examples/hello/Cargo.toml: [package.metadata.unikernel]"),
            "{err}"
        );
    }
}
