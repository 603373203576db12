//! `cargo unikernel test`: every check of the workspace, then every QEMU test.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::Fatal;
use crate::cli::TestArgs;
use crate::expect;
use crate::metadata::{Package, TestSpec, Workspace};
use crate::nested::{self, Isolation};
use crate::outcome::{EXIT_APP_FAILURE, EXIT_SUCCESS};
use crate::qemu::{self, Echo, Machine};
use crate::run::{build_boot_files, current_workspace, ovmf_for};
use crate::target::{Arch, Target};
use crate::toolchain::{self, MIRI_TOOLCHAIN};

mod new_app;
mod release;

/// Packages whose tests also run under Miri (their unsafe code is host-testable).
const MIRI_PACKAGES: &[&str] = &["mem-core"];

/// Added to the caller's `MIRIFLAGS` for the Miri checks: no preemption.
/// std starts a thread through a function that takes its `Box<ThreadInit>`
/// by value and frees it while still running, so Stacked Borrows keeps the
/// freed block protected until the thread's start function returns. With a
/// global allocator that reuses memory (ours, installed by
/// `tests/heap_macro_*.rs`), another thread preempting into that window and
/// getting the block back is reported as undefined behaviour
/// (rust-lang/miri#5284). Without preemption threads switch only where they
/// block, never inside that window; data races are still reported, since
/// Miri's race detector compares vector clocks rather than schedules.
const MIRI_FLAGS: &str = "-Zmiri-preemption-rate=0";

/// QEMU processes run at once: each emulated CPU keeps one host core busy.
const MAX_PARALLEL_QEMU: usize = 2;

/// The console of a failed QEMU test is shown up to this many last lines.
const MAX_CONSOLE_LINES: usize = 300;

/// Pass/fail counts of checks and QEMU tests together.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, passed: bool) {
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// `cargo unikernel test`: returns 0 when every check and test passed, else 1.
pub fn test(args: &TestArgs) -> Result<u8, Fatal> {
    let (_, workspace) = current_workspace()?;
    let arches: Vec<Arch> = Arch::ALL
        .into_iter()
        .filter(|a| args.arch.is_none_or(|wanted| wanted == *a))
        .collect();
    let mut tally = Tally::default();
    if !args.qemu_only {
        toolchain::ensure_targets(&arches)?;
        for (name, command) in check_steps(&workspace, args, &arches) {
            tally.record(run_step(&name, command, &workspace.root));
        }
        if !args.no_miri {
            run_miri(&workspace, &mut tally);
        }
        for (name, command) in release::doc_steps(&workspace, &arches) {
            tally.record(run_step(&name, command, &workspace.root));
        }
        if let Some((name, command)) = release::package_step(&workspace) {
            tally.record(run_step(&name, command, &workspace.root));
        }
        release::run_msrv(&workspace, &arches, &mut tally);
    }
    run_qemu_tests(&workspace, args, &arches, &mut tally);
    new_app::run(&workspace, args, &arches, &mut tally);
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 {
        EXIT_SUCCESS
    } else {
        EXIT_APP_FAILURE
    })
}

fn kernel_names(workspace: &Workspace) -> Vec<&str> {
    workspace
        .packages
        .iter()
        .filter(|p| p.is_kernel)
        .map(|p| p.name.as_str())
        .collect()
}

/// The fmt, clippy and host-test commands, named, in order.
fn check_steps(workspace: &Workspace, args: &TestArgs, arches: &[Arch]) -> Vec<(String, Command)> {
    let kernels = kernel_names(workspace);
    // Kernels are `no_main` binaries for bare-metal targets: they do not link on the host.
    let exclude_kernels: Vec<&str> = kernels.iter().flat_map(|k| ["--exclude", k]).collect();
    // An application's own workspace may hold nothing but the kernel, and
    // cargo refuses a host build that excludes every package.
    let has_host_packages = workspace.packages.len() > kernels.len();
    let mut steps = Vec::new();
    if !args.no_lint {
        // Run at the workspace root, `cargo fmt` covers every member; `--all`
        // would add path dependencies, such as the runtime checkout an
        // application made by `cargo unikernel new` depends on.
        steps.push(("fmt".to_owned(), nested::cargo(["fmt", "--", "--check"])));
        let mut clippy = nested::cargo(["clippy", "--workspace", "--all-targets"]);
        clippy.args(&exclude_kernels).args(["--", "-D", "warnings"]);
        if has_host_packages {
            steps.push(("clippy host".to_owned(), clippy));
        }
        if !kernels.is_empty() {
            for arch in arches {
                let mut clippy = nested::cargo(["clippy"]);
                clippy.args(kernels.iter().flat_map(|k| ["-p", k]));
                clippy.args([
                    "--target",
                    arch.triple(),
                    "--config",
                    &arch.rustflags_config(),
                    "--",
                    "-D",
                    "warnings",
                ]);
                steps.push((format!("clippy {}", arch.triple()), clippy));
            }
        }
    }
    let mut host_tests = nested::cargo(["test", "--workspace"]);
    host_tests.args(&exclude_kernels);
    if has_host_packages {
        steps.push(("host tests".to_owned(), host_tests));
    }
    if !args.no_lint {
        steps.extend(fuzz_lint_steps(&fuzz_crates(workspace)));
    }
    steps
}

/// A package's cargo-fuzz crate: `<package>/fuzz`, named by that path
/// relative to the workspace root, and its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FuzzCrate {
    name: String,
    manifest: PathBuf,
}

/// The cargo-fuzz crates next to the workspace's packages: a
/// `<package>/fuzz/Cargo.toml` with `cargo-fuzz = true` in its metadata, as
/// `cargo fuzz init` writes it. Each is a workspace of its own, which the
/// main one neither builds nor lints, so without a step of their own the
/// fuzz targets would stop compiling unnoticed when an API they use changes.
fn fuzz_crates(workspace: &Workspace) -> Vec<FuzzCrate> {
    workspace
        .packages
        .iter()
        .filter_map(|package| {
            let manifest = package.dir.join("fuzz").join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).ok()?;
            let is_fuzz = crate::new::manifest_value(&text, "cargo-fuzz") == Some("true");
            is_fuzz.then(|| FuzzCrate {
                name: manifest
                    .parent()
                    .and_then(|dir| dir.strip_prefix(&workspace.root).ok())
                    .unwrap_or(Path::new("fuzz"))
                    .display()
                    .to_string(),
                manifest,
            })
        })
        .collect()
}

/// fmt and clippy over each fuzz crate, on the stable toolchain. Only
/// checked, never linked: running a fuzzer needs a nightly toolchain and
/// takes as long as one cares to give it (the crates' READMEs say how).
/// `--no-default-features` lets a crate leave out what only linking needs
/// (ours: libFuzzer's C++ build, behind its default `link` feature).
fn fuzz_lint_steps(crates: &[FuzzCrate]) -> Vec<(String, Command)> {
    let mut steps = Vec::new();
    for fuzz in crates {
        let manifest = fuzz.manifest.as_os_str();
        let mut fmt = nested::cargo(["fmt".as_ref(), "--manifest-path".as_ref(), manifest]);
        fmt.args(["--", "--check"]);
        steps.push((format!("fmt {}", fuzz.name), fmt));
        let mut clippy = nested::cargo(["clippy".as_ref(), "--manifest-path".as_ref(), manifest]);
        clippy.args(["--bins", "--no-default-features", "--", "-D", "warnings"]);
        steps.push((format!("clippy {}", fuzz.name), clippy));
    }
    steps
}

/// The Miri checks over [`MIRI_PACKAGES`] that are in the workspace: the
/// unit tests, each integration test target on its own, then the doctests.
/// Separate processes, so that [`run_miri`] can keep every core busy (Miri
/// interprets on one thread, and one target alone can take minutes).
fn miri_steps(workspace: &Workspace) -> Vec<(String, Command)> {
    let packages: Vec<&Package> = MIRI_PACKAGES
        .iter()
        .filter_map(|name| workspace.packages.iter().find(|p| p.name == *name))
        .collect();
    if packages.is_empty() {
        return Vec::new();
    }
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    // A step over every package at once.
    let whole = |what: &str, selection| {
        let mut args: Vec<&str> = names.iter().flat_map(|p| ["-p", p]).collect();
        args.push(selection);
        (format!("miri {} {what}", names.join(" ")), args)
    };
    let mut selections = vec![whole("unit tests", "--lib")];
    for package in &packages {
        for test in &package.tests {
            selections.push((
                format!("miri {} test {test}", package.name),
                vec!["-p", &package.name, "--test", test],
            ));
        }
    }
    selections.push(whole("doctests", "--doc"));
    selections
        .into_iter()
        .map(|(name, selection)| {
            let mut miri_args = vec!["miri", "test"];
            miri_args.extend(selection);
            let mut command =
                nested::cargo_with_toolchain(MIRI_TOOLCHAIN, Isolation::OtherToolchain, miri_args);
            command.env(
                "MIRIFLAGS",
                miri_flags(std::env::var("MIRIFLAGS").ok().as_deref()),
            );
            (name, command)
        })
        .collect()
}

/// The caller's Miri flags (if any) followed by [`MIRI_FLAGS`].
fn miri_flags(caller: Option<&str>) -> String {
    match caller.map(str::trim) {
        Some(flags) if !flags.is_empty() => format!("{flags} {MIRI_FLAGS}"),
        _ => MIRI_FLAGS.to_owned(),
    }
}

/// Runs Miri on the crates that declare Miri steps, installing
/// [`MIRI_TOOLCHAIN`] with Miri first if it is missing (as `run` installs the
/// image builder's nightly): a test command that skipped Miri on a fresh
/// machine would pass without the checks it promises. `--no-miri` opts out.
fn run_miri(workspace: &Workspace, tally: &mut Tally) {
    let steps = miri_steps(workspace);
    if steps.is_empty() {
        return;
    }
    if let Err(e) =
        toolchain::ensure_toolchain(MIRI_TOOLCHAIN, &["miri", "rust-src"], "to run Miri")
    {
        println!("FAIL check miri: {} (`--no-miri` skips Miri)", e.0);
        tally.record(false);
        return;
    }
    // The first build holds cargo's lock; the other workers wait for it,
    // then interpret their tests at the same time.
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    for passed in run_steps_in_pool(steps, &workspace.root, workers) {
        tally.record(passed);
    }
}

/// Runs checks on `workers` threads, each taking the next check in order
/// when its last one ends, with their output captured; prints each one's
/// PASS/FAIL line as it ends, and a failed check's output. Returns one
/// result per check, in order.
fn run_steps_in_pool(steps: Vec<(String, Command)>, dir: &Path, workers: usize) -> Vec<bool> {
    let count = steps.len();
    let queue = std::sync::Mutex::new(steps.into_iter().enumerate());
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, count.max(1)) {
            let (queue, done) = (&queue, done.clone());
            scope.spawn(move || {
                loop {
                    // A poisoned lock means another worker panicked while
                    // popping; the queue itself is still whole.
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((index, (name, mut command))) = next else {
                        break;
                    };
                    eprintln!(
                        "     Running `{}` (output shown if it fails)",
                        nested::display(&command)
                    );
                    let start = Instant::now();
                    let output = command.current_dir(dir).stdin(Stdio::null()).output();
                    let seconds = start.elapsed().as_secs_f64();
                    if done.send((index, name, output, seconds)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut results = vec![false; count];
        for (index, name, output, seconds) in finished {
            results[index] = match output {
                Ok(out) if out.status.success() => {
                    println!("PASS check {name} ({seconds:.1} s)");
                    true
                }
                Ok(out) => {
                    println!("---- output of {name} ----");
                    println!("{}", String::from_utf8_lossy(&out.stdout));
                    println!("{}", String::from_utf8_lossy(&out.stderr));
                    println!("FAIL check {name} ({seconds:.1} s): {}", out.status);
                    false
                }
                Err(e) => {
                    println!("FAIL check {name}: cannot run it: {e}");
                    false
                }
            };
        }
        results
    })
}

/// Runs one check with its output on the terminal; prints PASS/FAIL.
fn run_step(name: &str, mut command: Command, dir: &Path) -> bool {
    eprintln!("     Running `{}`", nested::display(&command));
    let start = Instant::now();
    let status = command.current_dir(dir).stdin(Stdio::null()).status();
    let seconds = start.elapsed().as_secs_f64();
    match status {
        Ok(status) if status.success() => {
            println!("PASS check {name} ({seconds:.1} s)");
            true
        }
        Ok(status) => {
            println!("FAIL check {name} ({seconds:.1} s): {status}");
            false
        }
        Err(e) => {
            println!("FAIL check {name}: cannot run it: {e}");
            false
        }
    }
}

/// One QEMU test on one target.
#[derive(Debug, Clone)]
struct Case<'a> {
    package: &'a Package,
    spec: &'a TestSpec,
    target: Target,
}

impl Case<'_> {
    fn id(&self) -> String {
        format!("{} {}::{}", self.target, self.package.name, self.spec.name)
    }
}

/// Every QEMU test of the workspace on `arches`, kept by `filter`.
fn collect_cases<'a>(
    workspace: &'a Workspace,
    arches: &[Arch],
    filter: Option<&str>,
) -> Vec<Case<'a>> {
    let mut cases = Vec::new();
    for package in workspace.packages.iter().filter(|p| p.is_kernel) {
        for spec in &package.config.tests {
            for &target in &spec.targets {
                let case = Case {
                    package,
                    spec,
                    target,
                };
                if arches.contains(&target.arch()) && filter.is_none_or(|f| case.id().contains(f)) {
                    cases.push(case);
                }
            }
        }
    }
    cases
}

/// A QEMU test ready to run: its boot file, or why it has none.
struct Job<'a> {
    case: Case<'a>,
    boot_file: Result<PathBuf, String>,
}

fn run_qemu_tests(workspace: &Workspace, args: &TestArgs, arches: &[Arch], tally: &mut Tally) {
    let cases = collect_cases(workspace, arches, args.filter.as_deref());
    if cases.is_empty() {
        println!(
            "no QEMU tests{}",
            args.filter
                .as_ref()
                .map(|f| format!(" match `{f}`"))
                .unwrap_or_default()
        );
        return;
    }
    let mut targets: Vec<Target> = cases.iter().map(|c| c.target).collect();
    targets.sort();
    targets.dedup();
    let setup = toolchain::ensure_targets(arches).and_then(|()| toolchain::ensure_qemu(&targets));
    if let Err(e) = setup {
        for case in &cases {
            println!("FAIL {}: {e}", case.id());
            tally.record(false);
        }
        return;
    }
    let jobs = build_jobs(workspace, cases, args.release);
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let results = Mutex::new(Tally::default());
    let workers = MAX_PARALLEL_QEMU.min(thread::available_parallelism().map_or(1, |n| n.get()));
    thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(job) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() {
                    let passed = run_job(&job);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .record(passed);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    tally.passed += results.passed;
    tally.failed += results.failed;
}

/// What one kernel build is shared by: tests of one package with one feature set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BuildKey {
    package_id: String,
    features: Vec<String>,
}

impl BuildKey {
    fn of(case: &Case<'_>) -> BuildKey {
        let mut features = case.spec.features.clone();
        features.sort();
        features.dedup();
        BuildKey {
            package_id: case.package.id.clone(),
            features,
        }
    }
}

/// Builds every (package, features) once for all the targets its tests need.
fn build_jobs<'a>(workspace: &Workspace, cases: Vec<Case<'a>>, release: bool) -> Vec<Job<'a>> {
    let mut groups: Vec<(BuildKey, &Package, Vec<Target>)> = Vec::new();
    for case in &cases {
        let key = BuildKey::of(case);
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, targets)) if targets.contains(&case.target) => {}
            Some((_, _, targets)) => targets.push(case.target),
            None => groups.push((key, case.package, vec![case.target])),
        }
    }
    let mut built: HashMap<(BuildKey, Target), Result<PathBuf, String>> = HashMap::new();
    for (key, package, mut targets) in groups {
        targets.sort();
        let files = build_boot_files(
            &workspace.root,
            package,
            &targets,
            release,
            &key.features,
            false,
        );
        match files {
            Ok(files) => {
                for (target, file) in targets.into_iter().zip(files) {
                    built.insert((key.clone(), target), Ok(file));
                }
            }
            Err(e) => {
                let message = format!("build failed: {e}");
                let features = key.features.join(",");
                eprintln!("cargo-unikernel: {} [{features}]: {message}", package.name);
                for target in targets {
                    built.insert((key.clone(), target), Err(message.clone()));
                }
            }
        }
    }
    cases
        .into_iter()
        .map(|case| {
            let boot_file = built
                .get(&(BuildKey::of(&case), case.target))
                .cloned()
                .unwrap_or_else(|| Err("not built".to_owned()));
            Job { case, boot_file }
        })
        .collect()
}

/// Runs one QEMU test and prints its verdict (and, on failure, its console).
fn run_job(job: &Job<'_>) -> bool {
    let case = &job.case;
    let report = match &job.boot_file {
        Err(e) => Err((e.clone(), None)),
        Ok(boot_file) => match run_case(case, boot_file.clone()) {
            Err(e) => Err((e, None)),
            Ok(result) => match expect::check(case.spec, result.outcome, &result.console) {
                None => Ok(result.duration),
                Some(mismatch) => Err((mismatch.to_string(), Some(result))),
            },
        },
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // Printing to a closed stdout cannot be reported anywhere else.
    let _ = match &report {
        Ok(duration) => writeln!(out, "PASS {} ({:.1} s)", case.id(), duration.as_secs_f64()),
        Err((reason, result)) => {
            let seconds = result
                .as_ref()
                .map(|r| format!(" ({:.1} s)", r.duration.as_secs_f64()))
                .unwrap_or_default();
            let mut text = format!("FAIL {}{seconds}: {reason}\n", case.id());
            if let Some(result) = result {
                text.push_str(&format!("---- console of {} ----\n", case.id()));
                let lines = expect::console_lines(&result.console);
                let hidden = lines.len().saturating_sub(MAX_CONSOLE_LINES);
                if hidden > 0 {
                    text.push_str(&format!("[{hidden} earlier lines not shown]\n"));
                }
                for line in &lines[hidden..] {
                    text.push_str(line);
                    text.push('\n');
                }
                if let Some(backtrace) = &result.backtrace {
                    text.push_str(&format!("---- symbolised ----\n{backtrace}"));
                }
                if !result.qemu_stderr.trim().is_empty() {
                    text.push_str(&format!(
                        "---- QEMU stderr ----\n{}\n",
                        result.qemu_stderr.trim_end()
                    ));
                }
                text.push_str("----\n");
            }
            out.write_all(text.as_bytes())
        }
    };
    report.is_ok()
}

fn run_case(case: &Case<'_>, boot_file: PathBuf) -> Result<qemu::RunResult, String> {
    let machine = Machine {
        target: case.target,
        boot_file,
        memory: case.spec.memory,
        smp: case.spec.smp,
        ovmf: ovmf_for(case.target).map_err(|e| e.0)?,
        extra_args: case.spec.qemu_args.clone(),
    };
    let timeout: Option<Duration> = case.spec.timeout;
    let mut result = qemu::run(&machine, timeout, Echo::Capture).map_err(|e| e.to_string())?;
    result.backtrace = crate::symbols::symbolize(
        &result.console,
        &crate::symbols::elf_for(&machine.boot_file),
    );
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;
    use serde_json::json;

    fn workspace() -> Workspace {
        let kernel = |name: &str, tests: serde_json::Value| {
            json!({
                "name": name,
                "id": format!("id-{name}"),
                "manifest_path": format!("/ws/examples/{name}/Cargo.toml"),
                "dependencies": [{ "name": "unikernel-rt", "kind": null }],
                "targets": [{ "kind": ["bin"] }],
                "metadata": { "unikernel": { "test": tests } },
            })
        };
        let packages = vec![
            kernel("hello", json!([{ "name": "boots" }])),
            kernel(
                "panic",
                json!([{ "name": "fails", "expect-exit": "failure", "targets": ["riscv64"] }]),
            ),
            json!({ "name": "mem-core", "id": "id-mem-core", "manifest_path": "/ws/mem-core/Cargo.toml",
                    "dependencies": [],
                    "targets": [{ "kind": ["lib"], "name": "mem_core" },
                                { "kind": ["test"], "name": "frames_prop" },
                                { "kind": ["bench"], "name": "heap" },
                                { "kind": ["test"], "name": "heap_model" }],
                    "metadata": null }),
        ];
        let ids: Vec<_> = packages.iter().map(|p| p["id"].clone()).collect();
        Workspace::from_json(
            &json!({ "workspace_root": "/ws", "workspace_members": ids, "packages": packages }),
        )
        .unwrap()
    }

    fn ids(cases: &[Case<'_>]) -> Vec<String> {
        cases.iter().map(Case::id).collect()
    }

    #[test]
    fn cases_cover_each_test_on_each_target() {
        let ws = workspace();
        assert_eq!(
            ids(&collect_cases(&ws, &Arch::ALL, None)),
            [
                "x86_64-bios hello::boots",
                "x86_64-uefi hello::boots",
                "riscv64 hello::boots",
                "riscv64 panic::fails"
            ]
        );
        assert_eq!(
            ids(&collect_cases(&ws, &[Arch::Riscv64], Some("panic"))),
            ["riscv64 panic::fails"]
        );
        assert_eq!(
            ids(&collect_cases(&ws, &[Arch::X86_64], Some("uefi"))),
            ["x86_64-uefi hello::boots"]
        );
        assert!(collect_cases(&ws, &Arch::ALL, Some("nothing")).is_empty());
    }

    #[test]
    fn checks_exclude_kernels_from_host_builds() {
        let ws = workspace();
        let args = TestArgs {
            no_miri: true,
            ..TestArgs::default()
        };
        let steps = check_steps(&ws, &args, &Arch::ALL);
        let shown: Vec<(String, String)> = steps
            .iter()
            .map(|(n, c)| (n.clone(), nested::display(c)))
            .collect();
        let names: Vec<&str> = shown.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy host",
                "clippy x86_64-unknown-none",
                "clippy riscv64gc-unknown-none-elf",
                "host tests"
            ]
        );
        assert_eq!(
            shown[1].1,
            "cargo clippy --workspace --all-targets --exclude hello --exclude panic -- -D warnings"
        );
        assert!(shown[3].1.starts_with(
            "cargo clippy -p hello -p panic --target riscv64gc-unknown-none-elf --config"
        ));
        assert_eq!(
            shown[4].1,
            "cargo test --workspace --exclude hello --exclude panic"
        );
        let no_lint = check_steps(
            &ws,
            &TestArgs {
                no_lint: true,
                no_miri: true,
                ..TestArgs::default()
            },
            &Arch::ALL,
        );
        assert_eq!(no_lint.len(), 1);
    }

    #[test]
    fn fuzz_crates_are_found_next_to_packages_and_only_checked() {
        let tmp = TempDir::new("suite-fuzz").unwrap();
        let root = tmp.path();
        let write = |path: &str, text: &str| {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "core/fuzz/Cargo.toml",
            "[package]\nname = \"core-fuzz\"\n\n[package.metadata]\ncargo-fuzz   =  true\n",
        );
        // A `fuzz` directory that is not a cargo-fuzz crate.
        write("other/fuzz/Cargo.toml", "[package]\nname = \"fuzz\"\n");
        let package = |name: &str| {
            json!({ "name": name, "id": format!("id-{name}"),
                    "manifest_path": root.join(name).join("Cargo.toml"),
                    "dependencies": [], "targets": [{ "kind": ["lib"], "name": name }],
                    "metadata": null })
        };
        let packages = vec![package("core"), package("other"), package("plain")];
        let ids: Vec<_> = packages.iter().map(|p| p["id"].clone()).collect();
        let ws = Workspace::from_json(
            &json!({ "workspace_root": root, "workspace_members": ids, "packages": packages }),
        )
        .unwrap();
        let manifest = root.join("core/fuzz/Cargo.toml");
        let crates = fuzz_crates(&ws);
        assert_eq!(
            crates,
            [FuzzCrate {
                name: Path::new("core").join("fuzz").display().to_string(),
                manifest: manifest.clone(),
            }]
        );
        let shown: Vec<(String, String)> = fuzz_lint_steps(&crates)
            .iter()
            .map(|(n, c)| (n.clone(), nested::display(c)))
            .collect();
        let m = manifest.display();
        assert_eq!(
            shown,
            [
                (
                    "fmt core/fuzz".to_owned(),
                    format!("cargo fmt --manifest-path {m} -- --check")
                ),
                (
                    "clippy core/fuzz".to_owned(),
                    format!(
                        "cargo clippy --manifest-path {m} --bins --no-default-features -- -D warnings"
                    )
                ),
            ]
        );
        let steps = check_steps(&ws, &TestArgs::default(), &[Arch::Riscv64]);
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy host",
                "host tests",
                "fmt core/fuzz",
                "clippy core/fuzz"
            ]
        );
        let no_lint = TestArgs {
            no_lint: true,
            ..TestArgs::default()
        };
        let steps = check_steps(&ws, &no_lint, &[Arch::Riscv64]);
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["host tests"]);
    }

    #[test]
    fn a_lone_application_gets_no_host_build() {
        let app = json!({
            "name": "my-app", "id": "id-my-app", "manifest_path": "/app/Cargo.toml",
            "dependencies": [{ "name": "unikernel-rt", "kind": null }],
            "targets": [{ "kind": ["bin"] }], "metadata": null,
        });
        let ws = Workspace::from_json(
            &json!({ "workspace_root": "/app", "workspace_members": ["id-my-app"], "packages": [app] }),
        )
        .unwrap();
        let steps = check_steps(&ws, &TestArgs::default(), &[Arch::Riscv64]);
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["fmt", "clippy riscv64gc-unknown-none-elf"]);
    }

    #[test]
    fn miri_runs_on_mem_core_with_its_own_toolchain() {
        let steps = miri_steps(&workspace());
        let shown: Vec<String> = steps.iter().map(|(_, c)| nested::display(c)).collect();
        assert_eq!(
            shown,
            [
                format!("rustup run {MIRI_TOOLCHAIN} cargo miri test -p mem-core --lib"),
                format!(
                    "rustup run {MIRI_TOOLCHAIN} cargo miri test -p mem-core --test frames_prop"
                ),
                format!(
                    "rustup run {MIRI_TOOLCHAIN} cargo miri test -p mem-core --test heap_model"
                ),
                format!("rustup run {MIRI_TOOLCHAIN} cargo miri test -p mem-core --doc"),
            ]
        );
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "miri mem-core unit tests",
                "miri mem-core test frames_prop",
                "miri mem-core test heap_model",
                "miri mem-core doctests"
            ]
        );
        let (_, command) = &steps[0];
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k)
            .collect();
        assert!(
            removed.iter().any(|k| *k == "CARGO"),
            "CARGO points at the stable cargo"
        );
        for (_, command) in &steps {
            let flags = command
                .get_envs()
                .find(|(k, _)| *k == "MIRIFLAGS")
                .and_then(|(_, v)| v)
                .expect("every Miri step sets MIRIFLAGS");
            assert!(flags.to_string_lossy().ends_with(MIRI_FLAGS));
        }
    }

    #[test]
    fn the_pool_runs_every_step_and_reports_each_in_order() {
        let step = |name: &str, ok: bool| {
            let mut command = Command::new("sh");
            // The first step ends last, so completion order differs from
            // the steps' order.
            let sleep = if name == "a" { "sleep 0.3; " } else { "" };
            command.args(["-c", &format!("{sleep}exit {}", u8::from(!ok))]);
            (name.to_owned(), command)
        };
        let steps = vec![
            step("a", true),
            step("b", false),
            step("c", true),
            step("d", true),
        ];
        let dir = std::env::temp_dir();
        assert_eq!(run_steps_in_pool(steps, &dir, 2), [true, false, true, true]);
        let one = vec![step("a", false), step("b", true)];
        assert_eq!(run_steps_in_pool(one, &dir, 1), [false, true]);
        let missing = vec![(
            "gone".to_owned(),
            Command::new("/nonexistent/cargo-unikernel-test"),
        )];
        assert_eq!(run_steps_in_pool(missing, &dir, 8), [false]);
        assert!(run_steps_in_pool(Vec::new(), &dir, 2).is_empty());
    }

    #[test]
    fn miri_flags_keep_the_callers() {
        assert_eq!(miri_flags(None), MIRI_FLAGS);
        assert_eq!(miri_flags(Some("  ")), MIRI_FLAGS);
        assert_eq!(
            miri_flags(Some("-Zmiri-seed=7")),
            format!("-Zmiri-seed=7 {MIRI_FLAGS}")
        );
    }

    #[test]
    fn tally_counts_both_ways() {
        let mut tally = Tally::default();
        tally.record(true);
        tally.record(false);
        tally.record(true);
        assert_eq!(
            tally,
            Tally {
                passed: 2,
                failed: 1
            }
        );
    }
}
