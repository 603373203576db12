//! Command-line parsing for `cargo unikernel run | build | test`.

use std::fmt;
use std::time::Duration;

use crate::new::{NewArgs, RuntimeSource};
use crate::size::MemorySize;
use crate::target::{Arch, Boot};

/// The usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
Build unikernel images and run them in QEMU.

USAGE:
    cargo unikernel run   [OPTIONS] [-- QEMU-ARGS...]   build and boot one kernel
    cargo unikernel build [OPTIONS]                     build images and print their paths
    cargo unikernel test  [TEST-OPTIONS]                fmt, clippy, host tests, Miri, QEMU tests
    cargo unikernel new   NAME [NEW-OPTIONS]            create an application crate NAME

OPTIONS (run, build):
    --example NAME         the workspace example examples/NAME (default in the workspace: hello)
    -p, --package PKG      the package PKG (default outside the workspace: the current package)
    --arch x86_64|riscv64  the architecture (run default: x86_64; build default: all)
    --boot bios|uefi       the x86_64 firmware (run default: bios; build default: both)
    --release              build with the release profile
    --features LIST        cargo features of the kernel package (comma or space separated)
    --memory SIZE          guest RAM, e.g. 128M, 1G (default: 128M)
    --smp N                number of CPUs (default: 1)
    --timeout SECS         kill QEMU after SECS seconds (default: 60; 0 = never)
    --boot-log             show the x86_64 bootloader's own log on the console

TEST-OPTIONS:
    --arch x86_64|riscv64  run QEMU tests on this architecture only
    --filter TEXT          run only QEMU tests whose `TARGET PACKAGE::NAME` contains TEXT
    --no-lint              skip cargo fmt and clippy
    --no-miri              skip Miri
    --qemu-only            skip every check except the QEMU tests
    --release              build kernels with the release profile

NEW-OPTIONS:
    --path DIR             the directory to create (default: ./NAME)
    --runtime-path PATH    depend on the unikernel-rt at PATH
                           (default: the one this runner was built from)
    --runtime-version VER  depend on unikernel-rt VER from crates.io

EXIT STATUS:
    0 success, 1 application or test failure, 2 build/usage/setup error, 124 timeout";

/// Which package to build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// Decided from the current directory (see `metadata::select_package`).
    #[default]
    Default,
    /// `--example NAME`.
    Example(String),
    /// `-p PKG`.
    Package(String),
}

/// Options of `run` and `build`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunArgs {
    /// The package to build.
    pub selection: Selection,
    /// `--arch`.
    pub arch: Option<Arch>,
    /// `--boot`.
    pub boot: Option<Boot>,
    /// `--release`.
    pub release: bool,
    /// `--features`.
    pub features: Vec<String>,
    /// `--memory`.
    pub memory: Option<MemorySize>,
    /// `--smp`.
    pub smp: Option<u32>,
    /// `--timeout`; `Some(None)` is `--timeout 0`, no timeout.
    pub timeout: Option<Option<Duration>>,
    /// `--boot-log`.
    pub boot_log: bool,
    /// Everything after `--`, passed to QEMU.
    pub qemu_args: Vec<String>,
}

/// Options of `test`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestArgs {
    /// `--arch`.
    pub arch: Option<Arch>,
    /// `--filter`.
    pub filter: Option<String>,
    /// `--no-lint`.
    pub no_lint: bool,
    /// `--no-miri`.
    pub no_miri: bool,
    /// `--qemu-only`.
    pub qemu_only: bool,
    /// `--release`.
    pub release: bool,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `run`.
    Run(RunArgs),
    /// `build`.
    Build(RunArgs),
    /// `test`.
    Test(TestArgs),
    /// `new`.
    New(NewArgs),
    /// `--help`, `-h` or `help`.
    Help,
}

/// A command line that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses the arguments after the program name.
///
/// When cargo runs an installed `cargo-unikernel`, it passes the subcommand
/// name `unikernel` first; the workspace alias does not. Both are accepted.
pub fn parse<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
{
    let mut args: Vec<String> = args.into_iter().collect();
    if args.first().map(String::as_str) == Some("unikernel") {
        args.remove(0);
    }
    let mut args = args.into_iter();
    let Some(subcommand) = args.next() else {
        return Err(usage("missing subcommand: run, build, test or new"));
    };
    match subcommand.as_str() {
        "run" => Ok(Command::Run(parse_run(args)?)),
        "build" => Ok(Command::Build(parse_run(args)?)),
        "test" => Ok(Command::Test(parse_test(args)?)),
        "new" => Ok(Command::New(parse_new(args)?)),
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(usage(format!(
            "unknown subcommand `{other}` (expected run, build, test or new)"
        ))),
    }
}

/// Splits `--flag=value` and fetches the value of `--flag value`.
struct Options<I: Iterator<Item = String>> {
    args: I,
    pending_value: Option<String>,
}

impl<I: Iterator<Item = String>> Options<I> {
    fn new(args: I) -> Self {
        Options {
            args,
            pending_value: None,
        }
    }

    /// The next flag (with any `=value` split off and kept for [`Self::value`]).
    fn next_flag(&mut self) -> Result<Option<String>, UsageError> {
        if let Some(value) = self.pending_value.take() {
            return Err(usage(format!("unexpected value `{value}`")));
        }
        let Some(arg) = self.args.next() else {
            return Ok(None);
        };
        match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                self.pending_value = Some(value.to_owned());
                Ok(Some(flag.to_owned()))
            }
            _ => Ok(Some(arg)),
        }
    }

    fn value(&mut self, flag: &str) -> Result<String, UsageError> {
        self.pending_value
            .take()
            .or_else(|| self.args.next())
            .ok_or_else(|| usage(format!("`{flag}` needs a value")))
    }

    fn no_value(&mut self, flag: &str) -> Result<(), UsageError> {
        match self.pending_value.take() {
            Some(_) => Err(usage(format!("`{flag}` takes no value"))),
            None => Ok(()),
        }
    }

    fn rest(self) -> Vec<String> {
        self.args.collect()
    }
}

fn parse_arch(value: &str) -> Result<Arch, UsageError> {
    Arch::parse(value).ok_or_else(|| {
        usage(format!(
            "unknown architecture `{value}` (expected x86_64 or riscv64)"
        ))
    })
}

fn parse_run(args: impl Iterator<Item = String>) -> Result<RunArgs, UsageError> {
    let mut out = RunArgs::default();
    let mut opts = Options::new(args);
    while let Some(flag) = opts.next_flag()? {
        match flag.as_str() {
            "--" => {
                out.qemu_args = opts.rest();
                break;
            }
            "--example" => {
                set_selection(&mut out.selection, Selection::Example(opts.value(&flag)?))?
            }
            "-p" | "--package" => {
                set_selection(&mut out.selection, Selection::Package(opts.value(&flag)?))?
            }
            "--arch" => out.arch = Some(parse_arch(&opts.value(&flag)?)?),
            "--boot" => {
                let value = opts.value(&flag)?;
                let boot = Boot::parse(&value).ok_or_else(|| {
                    usage(format!(
                        "unknown boot firmware `{value}` (expected bios or uefi)"
                    ))
                })?;
                out.boot = Some(boot);
            }
            "--release" | "-r" => {
                opts.no_value(&flag)?;
                out.release = true;
            }
            "--features" | "-F" => {
                let value = opts.value(&flag)?;
                out.features.extend(
                    value
                        .split([',', ' '])
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned),
                );
            }
            "--memory" | "-m" => {
                let value = opts.value(&flag)?;
                out.memory = Some(MemorySize::parse(&value).map_err(|e| usage(e.to_string()))?);
            }
            "--smp" => {
                let value = opts.value(&flag)?;
                let smp = value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=255).contains(n))
                    .ok_or_else(|| {
                        usage(format!("invalid CPU count `{value}` (expected 1 to 255)"))
                    })?;
                out.smp = Some(smp);
            }
            "--timeout" => {
                let value = opts.value(&flag)?;
                let secs: u64 = value.parse().map_err(|_| {
                    usage(format!(
                        "invalid timeout `{value}` (expected whole seconds)"
                    ))
                })?;
                out.timeout = Some((secs > 0).then(|| Duration::from_secs(secs)));
            }
            "--boot-log" => {
                opts.no_value(&flag)?;
                out.boot_log = true;
            }
            other => return Err(usage(format!("unknown option `{other}`"))),
        }
    }
    if out.arch == Some(Arch::Riscv64) && out.boot.is_some() {
        return Err(usage(
            "`--boot` applies to x86_64 only (riscv64 always boots through OpenSBI)",
        ));
    }
    Ok(out)
}

fn set_selection(current: &mut Selection, new: Selection) -> Result<(), UsageError> {
    if *current != Selection::Default {
        return Err(usage("give at most one of `--example` and `--package`"));
    }
    *current = new;
    Ok(())
}

fn parse_test(args: impl Iterator<Item = String>) -> Result<TestArgs, UsageError> {
    let mut out = TestArgs::default();
    let mut opts = Options::new(args);
    while let Some(flag) = opts.next_flag()? {
        match flag.as_str() {
            "--arch" => out.arch = Some(parse_arch(&opts.value(&flag)?)?),
            "--filter" => out.filter = Some(opts.value(&flag)?),
            "--no-lint" | "--no-miri" | "--qemu-only" | "--release" => {
                opts.no_value(&flag)?;
                match flag.as_str() {
                    "--no-lint" => out.no_lint = true,
                    "--no-miri" => out.no_miri = true,
                    "--qemu-only" => out.qemu_only = true,
                    _ => out.release = true,
                }
            }
            other => return Err(usage(format!("unknown option `{other}`"))),
        }
    }
    Ok(out)
}

fn parse_new(args: impl Iterator<Item = String>) -> Result<NewArgs, UsageError> {
    let mut out = NewArgs::default();
    let mut name = None;
    let mut opts = Options::new(args);
    while let Some(flag) = opts.next_flag()? {
        match flag.as_str() {
            "--path" => out.path = Some(opts.value(&flag)?.into()),
            "--runtime-path" | "--runtime-version" => {
                if out.runtime != RuntimeSource::Default {
                    return Err(usage(
                        "give at most one of `--runtime-path` and `--runtime-version`",
                    ));
                }
                let value = opts.value(&flag)?;
                out.runtime = if flag == "--runtime-path" {
                    RuntimeSource::Path(value.into())
                } else {
                    RuntimeSource::Version(value)
                };
            }
            other if other.starts_with('-') => {
                return Err(usage(format!("unknown option `{other}`")));
            }
            other if name.is_none() => name = Some(other.to_owned()),
            other => return Err(usage(format!("unexpected argument `{other}`"))),
        }
    }
    out.name = name.ok_or_else(|| usage("`new` needs the application's NAME"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Command, UsageError> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    fn run_args(line: &str) -> RunArgs {
        match parse_str(line) {
            Ok(Command::Run(args)) => args,
            other => panic!("`{line}` parsed to {other:?}"),
        }
    }

    #[test]
    fn installed_invocation_strips_the_subcommand_name() {
        assert_eq!(
            parse_str("unikernel run").unwrap(),
            Command::Run(RunArgs::default())
        );
        assert_eq!(parse_str("run").unwrap(), Command::Run(RunArgs::default()));
        assert_eq!(parse_str("unikernel --help").unwrap(), Command::Help);
    }

    #[test]
    fn run_options() {
        let args = run_args(
            "run --example panic --arch riscv64 --release --memory 1G --smp 2 --timeout 5 -- -d int -D log",
        );
        assert_eq!(args.selection, Selection::Example("panic".into()));
        assert_eq!(args.arch, Some(Arch::Riscv64));
        assert!(args.release);
        assert_eq!(args.memory.unwrap().mib(), 1024);
        assert_eq!(args.smp, Some(2));
        assert_eq!(args.timeout, Some(Some(Duration::from_secs(5))));
        assert_eq!(args.qemu_args, ["-d", "int", "-D", "log"]);
    }

    #[test]
    fn equals_form_and_short_flags() {
        let args = run_args("run -p app --boot=uefi --timeout=0 --features=a,b -F c");
        assert_eq!(args.selection, Selection::Package("app".into()));
        assert_eq!(args.boot, Some(Boot::Uefi));
        assert_eq!(args.timeout, Some(None));
        assert_eq!(args.features, ["a", "b", "c"]);
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "",
            "frobnicate",
            "run --arch arm",
            "run --boot coreboot",
            "run --example",
            "run --example a -p b",
            "run --arch riscv64 --boot uefi",
            "run --smp 0",
            "run --memory lots",
            "run --timeout soon",
            "run --release=yes",
            "run stray",
            "test --filter",
            "test --no-miri=1",
            "test --example hello",
            "new",
            "new a b",
            "new a --path",
            "new a --runtime-path x --runtime-version 1",
            "new a --frobnicate",
        ] {
            assert!(parse_str(bad).is_err(), "`{bad}` should be a usage error");
        }
    }

    #[test]
    fn test_options() {
        let Command::Test(args) =
            parse_str("test --no-miri --no-lint --arch x86_64 --filter hello::").unwrap()
        else {
            panic!("not a test command");
        };
        assert!(args.no_miri && args.no_lint && !args.qemu_only);
        assert_eq!(args.arch, Some(Arch::X86_64));
        assert_eq!(args.filter.as_deref(), Some("hello::"));
    }

    #[test]
    fn build_shares_run_options() {
        assert_eq!(
            parse_str("build --arch x86_64 --boot uefi").unwrap(),
            Command::Build(RunArgs {
                arch: Some(Arch::X86_64),
                boot: Some(Boot::Uefi),
                ..RunArgs::default()
            })
        );
    }

    #[test]
    fn new_options() {
        assert_eq!(
            parse_str("new demo").unwrap(),
            Command::New(NewArgs {
                name: "demo".into(),
                ..NewArgs::default()
            })
        );
        assert_eq!(
            parse_str("unikernel new --path /tmp/x demo --runtime-version=0.1").unwrap(),
            Command::New(NewArgs {
                name: "demo".into(),
                path: Some("/tmp/x".into()),
                runtime: RuntimeSource::Version("0.1".into()),
            })
        );
        let Command::New(args) = parse_str("new demo --runtime-path ../rt").unwrap() else {
            panic!("not a new command");
        };
        assert_eq!(args.runtime, RuntimeSource::Path("../rt".into()));
    }
}
