//! `cargo unikernel new NAME`: a new application crate, ready to boot.
//!
//! The crate is made outside any workspace: its manifest carries its own
//! `[workspace]` table, so cargo never attaches it to a workspace that merely
//! contains its directory, and it is refused where a parent workspace's
//! `members` would list it (that workspace would then stop loading).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::metadata::RUNTIME_PACKAGE;
use crate::outcome::EXIT_SUCCESS;

/// Where the new application takes `unikernel-rt` from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RuntimeSource {
    /// The runtime next to the sources this runner was built from, or the
    /// runner's own version from crates.io when those sources are gone.
    #[default]
    Default,
    /// `--runtime-path PATH`: a checkout's `unikernel-rt` directory.
    Path(PathBuf),
    /// `--runtime-version VER`: a version requirement for crates.io.
    Version(String),
}

/// Options of `cargo unikernel new`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewArgs {
    /// The package name.
    pub name: String,
    /// `--path DIR`: the directory to create (default `./NAME`).
    pub path: Option<PathBuf>,
    /// `--runtime-path` / `--runtime-version`.
    pub runtime: RuntimeSource,
}

/// Why an application could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewError(pub String);

impl fmt::Display for NewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NewError {}

fn error(message: impl Into<String>) -> NewError {
    NewError(message.into())
}

/// The dependency line's value, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeDep {
    /// `{ path = "..." }` (an absolute path).
    Path(PathBuf),
    /// `"VER"`.
    Version(String),
}

/// Names cargo or rustc would reject or that would clash with what a kernel
/// links: the runtime's own names, the sysroot crates, and cargo's build
/// directories (a binary named like them is refused by cargo).
const RESERVED_NAMES: &[&str] = &[
    "unikernel",
    "unikernel-rt",
    "unikernel_rt",
    "unikernel-macros",
    "unikernel_macros",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "proc-macro",
    "test",
    "compiler_builtins",
    "build",
    "deps",
    "examples",
    "incremental",
];

/// Rust keywords (2024 edition, reserved ones included): a crate name is an
/// identifier once `-` becomes `_`, so these cannot be used.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Device names Windows reserves: a package by that name cannot be checked out there.
const WINDOWS_DEVICES: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// The longest name crates.io accepts.
const MAX_NAME_LEN: usize = 64;

/// Checks `name` as a package name: ASCII letters, digits, `-` and `_`,
/// starting with a letter, at most 64 characters, not a keyword or a name
/// reserved by Rust, cargo, Windows or the runtime.
pub fn validate_name(name: &str) -> Result<(), NewError> {
    let bad = |why: &str| Err(error(format!("invalid package name `{name}`: {why}")));
    let Some(first) = name.chars().next() else {
        return bad("it is empty");
    };
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return bad(&format!(
            "`{c}` is not allowed (use ASCII letters, digits, `-` and `_`)"
        ));
    }
    if !first.is_ascii_alphabetic() {
        return bad("it must start with a letter");
    }
    if name.len() > MAX_NAME_LEN {
        return bad(&format!("it is longer than {MAX_NAME_LEN} characters"));
    }
    let ident = name.replace('-', "_");
    if KEYWORDS.contains(&ident.as_str()) {
        return bad("it is a Rust keyword");
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_NAMES.contains(&lower.as_str()) || RESERVED_NAMES.contains(&ident.as_str()) {
        return bad("the name is taken by Rust, cargo or the runtime");
    }
    if WINDOWS_DEVICES.contains(&lower.as_str()) {
        return bad("it is a reserved device name on Windows");
    }
    Ok(())
}

/// The value of the first `key = value` line of a manifest, trimmed (a
/// quoted string keeps its quotes): enough TOML for the single-line flags
/// and versions the suite reads from manifests `cargo metadata` does not
/// describe. Sections, comments and multi-line values are not understood.
pub fn manifest_value<'a>(manifest: &'a str, key: &str) -> Option<&'a str> {
    manifest.lines().find_map(|line| {
        let (k, value) = line.split_once('=')?;
        (k.trim() == key).then(|| value.trim())
    })
}

/// A TOML basic string holding `text`.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The application's `Cargo.toml`.
pub fn render_manifest(name: &str, runtime: &RuntimeDep) -> String {
    let dependency = match runtime {
        RuntimeDep::Path(path) => format!("{{ path = {} }}", toml_string(&path.to_string_lossy())),
        RuntimeDep::Version(version) => toml_string(version),
    };
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
{RUNTIME_PACKAGE} = {dependency}

# Kernels are far too slow unoptimised; keep debug info for backtraces.
[profile.dev]
opt-level = 1

[profile.release]
debug = 1

# Defaults of `cargo unikernel run` for this application.
[package.metadata.unikernel]
memory = "128M"
timeout = 60

# `cargo unikernel test` boots the application on every target and checks
# its console, line by line, against these regexes.
[[package.metadata.unikernel.test]]
name = "runs"
expect-exit = "success"
expect-output = [
    '^{name}: 10 distinct words, `the` 3 times$',
    '^sum of squares 1\.\.=1000 = 333833500$',
    '^running on (x86_64|riscv64) machine: ',
]
forbid-output = ["panicked"]

# This application is a workspace of its own, so it never joins a workspace
# that happens to contain its directory.
[workspace]
"#
    )
}

/// The application's `src/main.rs`.
pub fn render_main(name: &str) -> String {
    format!(
        r#"//! {name}: a unikernel application.
//!
//! `cargo unikernel run` boots it in QEMU (x86_64 BIOS; `--arch riscv64`,
//! `--boot uefi` for the others); `cargo unikernel test` checks its output.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

const TEXT: &str = "the quick brown fox jumps over the lazy dog at the end";

#[unikernel::main]
fn main() -> Result<(), &'static str> {{
    // Everything below lives on the heap the runtime set up before `main`.
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for word in TEXT.split_whitespace() {{
        *counts.entry(word).or_default() += 1;
    }}
    let (word, times) = counts
        .iter()
        .max_by_key(|(_, times)| **times)
        .ok_or("no words")?;
    unikernel::println!(
        "{name}: {{}} distinct words, `{{word}}` {{times}} times",
        counts.len()
    );

    let squares: Vec<u64> = (1..=1000).map(|i| i * i).collect();
    unikernel::println!("sum of squares 1..=1000 = {{}}", squares.iter().sum::<u64>());

    unikernel::println!("running on {{}}", unikernel::platform());
    let heap = unikernel::heap::stats();
    unikernel::println!(
        "heap: {{}} KiB, {{}} bytes in use",
        heap.total_bytes / 1024,
        heap.bytes_in_use
    );
    Ok(())
}}
"#
    )
}

/// The application's `.gitignore`.
pub const GITIGNORE: &str = "/target\n";

/// The runtime sources this runner was built with, if they still exist.
fn bundled_runtime() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(RUNTIME_PACKAGE);
    let dir = dir.canonicalize().ok()?;
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// Resolves `source` to the dependency written into the manifest; a path is
/// made absolute against `cwd` and must hold the runtime's `Cargo.toml`.
pub fn resolve_runtime(source: &RuntimeSource, cwd: &Path) -> Result<RuntimeDep, NewError> {
    match source {
        RuntimeSource::Default => Ok(bundled_runtime().map_or_else(
            || RuntimeDep::Version(env!("CARGO_PKG_VERSION").to_owned()),
            RuntimeDep::Path,
        )),
        RuntimeSource::Path(path) => {
            let dir = cwd.join(path);
            let manifest = dir.join("Cargo.toml");
            let text = fs::read_to_string(&manifest).map_err(|e| {
                error(format!(
                    "--runtime-path {}: cannot read {}: {e}",
                    path.display(),
                    manifest.display()
                ))
            })?;
            if !text
                .lines()
                .any(|l| l.trim().replace(' ', "") == format!("name=\"{RUNTIME_PACKAGE}\""))
            {
                return Err(error(format!(
                    "--runtime-path {}: {} is not the `{RUNTIME_PACKAGE}` package",
                    path.display(),
                    manifest.display()
                )));
            }
            let dir = dir
                .canonicalize()
                .map_err(|e| error(format!("--runtime-path {}: {e}", path.display())))?;
            Ok(RuntimeDep::Path(dir))
        }
        RuntimeSource::Version(version) => {
            let ok = !version.is_empty()
                && version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " .,-+*^~=<>".contains(c));
            if ok {
                Ok(RuntimeDep::Version(version.clone()))
            } else {
                Err(error(format!(
                    "--runtime-version `{version}` is not a version requirement (e.g. 0.1 or =0.1.0)"
                )))
            }
        }
    }
}

/// `path` made absolute against `cwd` with `.` and `..` folded away, without
/// touching the file system (the directory does not exist yet).
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The string values of the array `key = [...]` in the `[workspace]` table
/// of a manifest. Enough TOML for workspace member lists: quoted strings,
/// several lines, comments.
fn workspace_array(manifest: &str, key: &str) -> Vec<String> {
    let mut in_workspace = false;
    let mut collecting = false;
    let mut values = Vec::new();
    for raw in manifest.lines() {
        let line = strip_comment(raw);
        let trimmed = line.trim();
        if !collecting && trimmed.starts_with('[') {
            in_workspace = trimmed == "[workspace]";
            continue;
        }
        if !in_workspace {
            continue;
        }
        let rest = if collecting {
            trimmed
        } else {
            match trimmed.split_once('=') {
                Some((k, v)) if k.trim() == key => {
                    collecting = true;
                    v.trim().trim_start_matches('[')
                }
                _ => continue,
            }
        };
        values.extend(quoted_strings(rest));
        if rest.contains(']') {
            collecting = false;
        }
    }
    values
}

/// `line` without a trailing `# comment` (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..at],
            _ => {}
        }
    }
    line
}

/// Every `"..."` or `'...'` string in `text`, unescaped simply.
fn quoted_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            let value: String = chars.by_ref().take_while(|d| *d != c).collect();
            out.push(value);
        }
    }
    out
}

/// Whether `pattern` (a workspace `members` entry, `*` and `?` wildcards
/// within one path component) matches the relative path `path`.
fn glob_matches(pattern: &str, path: &Path) -> bool {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let names: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.len() == names.len()
        && parts
            .iter()
            .zip(&names)
            .all(|(p, n)| wildcard(p.as_bytes(), n.as_bytes()))
}

fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], name) || (!name.is_empty() && wildcard(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => wildcard(&pattern[1..], &name[1..]),
        _ => false,
    }
}

/// The nearest workspace above `dir` whose `members` would take in `dir`
/// (and whose `exclude` does not keep it out): its root directory.
pub fn swallowing_workspace(dir: &Path) -> Option<PathBuf> {
    for root in dir.ancestors().skip(1) {
        let Ok(manifest) = fs::read_to_string(root.join("Cargo.toml")) else {
            continue;
        };
        if !manifest
            .lines()
            .any(|l| strip_comment(l).trim() == "[workspace]")
        {
            continue;
        }
        let relative = dir.strip_prefix(root).unwrap_or(dir);
        let listed = |key| {
            workspace_array(&manifest, key)
                .iter()
                .any(|pattern| glob_matches(pattern, relative))
        };
        let excluded = workspace_array(&manifest, "exclude")
            .iter()
            .any(|e| relative.starts_with(e.trim_end_matches('/')));
        // Cargo stops at the first workspace root above a package.
        return (listed("members") && !excluded).then(|| root.to_path_buf());
    }
    None
}

/// Writes the application into `dir`, which must not exist or be empty.
pub fn create(dir: &Path, name: &str, runtime: &RuntimeDep) -> Result<(), NewError> {
    validate_name(name)?;
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(error(format!(
                    "{} already exists and is not empty; nothing was written",
                    dir.display()
                )));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(error(format!("cannot use {}: {e}", dir.display()))),
    }
    if let Some(root) = swallowing_workspace(dir) {
        return Err(error(format!(
            "{} would become a member of the workspace at {} (its `members` list it); \
             create the application elsewhere with --path, or add it to that workspace's `exclude`",
            dir.display(),
            root.display()
        )));
    }
    let write = |path: &Path, text: &str| {
        fs::write(path, text).map_err(|e| error(format!("cannot write {}: {e}", path.display())))
    };
    let src = dir.join("src");
    fs::create_dir_all(&src).map_err(|e| error(format!("cannot create {}: {e}", src.display())))?;
    write(&dir.join("Cargo.toml"), &render_manifest(name, runtime))?;
    write(&src.join("main.rs"), &render_main(name))?;
    write(&dir.join(".gitignore"), GITIGNORE)?;
    Ok(())
}

/// `cargo unikernel new`: creates the application and says how to run it.
pub fn new(args: &NewArgs) -> Result<u8, crate::Fatal> {
    validate_name(&args.name)?;
    let cwd =
        std::env::current_dir().map_err(|e| crate::Fatal(format!("no current directory: {e}")))?;
    let dir = absolute(&cwd, args.path.as_deref().unwrap_or(Path::new(&args.name)));
    let runtime = resolve_runtime(&args.runtime, &cwd)?;
    create(&dir, &args.name, &runtime)?;
    let shown = match &runtime {
        RuntimeDep::Path(path) => format!("path {}", path.display()),
        RuntimeDep::Version(version) => format!("version {version} from crates.io"),
    };
    eprintln!(
        "     Created application `{}` in {} ({RUNTIME_PACKAGE}: {shown})",
        args.name,
        dir.display()
    );
    eprintln!(
        "Next:\n    cd {}\n    cargo unikernel run                 # x86_64, BIOS\n    \
         cargo unikernel run --arch riscv64\n    cargo unikernel test                # fmt, clippy, its QEMU test on every target",
        dir.display()
    );
    Ok(EXIT_SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    #[test]
    fn good_names_pass() {
        for name in ["app", "my-app", "my_app", "kv2", "A", "x-86_64"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
        assert!(validate_name(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn bad_names_fail_with_the_reason() {
        for (name, why) in [
            ("", "empty"),
            ("2fast", "start with a letter"),
            ("-app", "start with a letter"),
            ("_app", "start with a letter"),
            ("my app", "` ` is not allowed"),
            ("app.rs", "`.` is not allowed"),
            ("caf\u{e9}", "is not allowed"),
            ("../evil", "is not allowed"),
            ("fn", "keyword"),
            ("async", "keyword"),
            ("self", "keyword"),
            ("unikernel", "taken"),
            ("unikernel-rt", "taken"),
            ("Unikernel_RT", "taken"),
            ("core", "taken"),
            ("proc-macro", "taken"),
            ("build", "taken"),
            ("test", "taken"),
            ("nul", "Windows"),
            ("COM1", "Windows"),
        ] {
            let err = validate_name(name).expect_err(name).0;
            assert!(err.contains(why), "`{name}`: {err}");
        }
        assert!(validate_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn manifest_depends_on_the_runtime_and_is_its_own_workspace() {
        let by_path = render_manifest("demo", &RuntimeDep::Path("/src/uni \"rt\"\\x".into()));
        assert!(by_path.contains("name = \"demo\"\n"));
        assert!(by_path.contains(r#"unikernel-rt = { path = "/src/uni \"rt\"\\x" }"#));
        assert!(by_path.contains("\n[workspace]\n"));
        assert!(by_path.contains("[[package.metadata.unikernel.test]]"));
        assert!(by_path.contains("'^demo: 10 distinct words, `the` 3 times$'"));
        let by_version = render_manifest("demo", &RuntimeDep::Version("0.1".into()));
        assert!(by_version.contains("\nunikernel-rt = \"0.1\"\n"));
    }

    #[test]
    fn main_prints_what_the_manifest_expects() {
        let main = render_main("demo");
        assert!(main.contains("#[unikernel::main]"));
        assert!(main.contains("\"demo: {} distinct words, `{word}` {times} times\""));
        assert!(main.contains("extern crate alloc;"));
        // The text's statistics the test regex pins down.
        let needle = "const TEXT: &str = \"";
        let start = main.find(needle).unwrap() + needle.len();
        let text = &main[start..start + main[start..].find('"').unwrap()];
        let mut words: Vec<&str> = text.split_whitespace().collect();
        let the = words.iter().filter(|w| **w == "the").count();
        words.sort_unstable();
        words.dedup();
        assert_eq!((words.len(), the), (10, 3));
        assert_eq!((1..=1000u64).map(|i| i * i).sum::<u64>(), 333_833_500);
    }

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_string("a\u{1}"), "\"a\\u0001\"");
    }

    #[test]
    fn workspace_arrays_are_read_across_lines_and_comments() {
        let manifest = r#"
[package]
members = ["not-this"]

[workspace]
resolver = "2"
members = [
    "mem-core",  # a comment with "quotes"
    'examples/*',
]
exclude = ["cargo-unikernel/image-builder"]

[workspace.package]
members = ["nor-this"]
"#;
        assert_eq!(
            workspace_array(manifest, "members"),
            ["mem-core", "examples/*"]
        );
        assert_eq!(
            workspace_array(manifest, "exclude"),
            ["cargo-unikernel/image-builder"]
        );
        assert!(workspace_array(manifest, "default-members").is_empty());
    }

    #[test]
    fn member_globs_match_whole_components() {
        assert!(glob_matches("examples/*", Path::new("examples/app")));
        assert!(glob_matches("./examples/a?p", Path::new("examples/app")));
        assert!(glob_matches("apps/k*-demo", Path::new("apps/kv-demo")));
        assert!(!glob_matches("examples/*", Path::new("examples/app/sub")));
        assert!(!glob_matches("examples/*", Path::new("app")));
        assert!(!glob_matches("mem-core", Path::new("mem-cor")));
    }

    #[test]
    fn refuses_a_directory_a_workspace_would_swallow() {
        let tmp = TempDir::new("new-swallow").unwrap();
        fs::write(
            tmp.path().join("Cargo.toml"),
            "[workspace]\nmembers = [\"apps/*\"]\nexclude = [\"apps/private\"]\n",
        )
        .unwrap();
        let runtime = RuntimeDep::Version("0.1".into());
        let err = create(&tmp.path().join("apps/demo"), "demo", &runtime).unwrap_err();
        assert!(err.0.contains("would become a member"), "{err}");
        assert!(!tmp.path().join("apps/demo").exists(), "nothing is written");
        // Not listed, or excluded: the app's own [workspace] keeps it apart.
        create(&tmp.path().join("tools/demo"), "demo", &runtime).unwrap();
        create(&tmp.path().join("apps/private"), "demo", &runtime).unwrap();
        assert_eq!(swallowing_workspace(&tmp.path().join("tools/demo")), None);
    }

    #[test]
    fn refuses_to_overwrite_and_writes_every_file() {
        let tmp = TempDir::new("new-overwrite").unwrap();
        let dir = tmp.path().join("demo");
        let runtime = RuntimeDep::Version("0.1".into());
        create(&dir, "demo", &runtime).unwrap();
        for file in ["Cargo.toml", "src/main.rs", ".gitignore"] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        fs::write(dir.join("src/main.rs"), "mine").unwrap();
        let err = create(&dir, "demo", &runtime).unwrap_err();
        assert!(err.0.contains("not empty"), "{err}");
        assert_eq!(fs::read_to_string(dir.join("src/main.rs")).unwrap(), "mine");
        // An empty directory is fine.
        fs::create_dir(tmp.path().join("empty")).unwrap();
        create(&tmp.path().join("empty"), "empty-ok", &runtime).unwrap();
    }

    #[test]
    fn runtime_sources_resolve() {
        let tmp = TempDir::new("new-runtime").unwrap();
        let rt = tmp.path().join("rt");
        fs::create_dir(&rt).unwrap();
        let path = RuntimeSource::Path("rt".into());
        assert!(resolve_runtime(&path, tmp.path()).is_err(), "no Cargo.toml");
        fs::write(rt.join("Cargo.toml"), "[package]\nname = \"other\"\n").unwrap();
        assert!(
            resolve_runtime(&path, tmp.path())
                .unwrap_err()
                .0
                .contains("not the")
        );
        fs::write(
            rt.join("Cargo.toml"),
            "[package]\nname = \"unikernel-rt\"\n",
        )
        .unwrap();
        assert_eq!(
            resolve_runtime(&path, tmp.path()),
            Ok(RuntimeDep::Path(rt.canonicalize().unwrap()))
        );
        assert_eq!(
            resolve_runtime(&RuntimeSource::Version("=0.1.0".into()), tmp.path()),
            Ok(RuntimeDep::Version("=0.1.0".into()))
        );
        assert!(resolve_runtime(&RuntimeSource::Version("0.1\"".into()), tmp.path()).is_err());
        // Built from this checkout: the default is the runtime next to the runner.
        let default = resolve_runtime(&RuntimeSource::Default, tmp.path()).unwrap();
        let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../unikernel-rt")
            .canonicalize()
            .unwrap();
        assert_eq!(default, RuntimeDep::Path(expected));
    }

    #[test]
    fn paths_are_made_absolute_lexically() {
        let cwd = Path::new("/home/me/work");
        assert_eq!(
            absolute(cwd, Path::new("app")),
            Path::new("/home/me/work/app")
        );
        assert_eq!(
            absolute(cwd, Path::new("../x/./app")),
            Path::new("/home/me/x/app")
        );
        assert_eq!(absolute(cwd, Path::new("/tmp/app")), Path::new("/tmp/app"));
    }
}
