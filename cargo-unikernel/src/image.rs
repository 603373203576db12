//! x86_64 disk images: building the bootloader image builder once into a
//! cache directory, and turning kernel ELFs into BIOS/UEFI images with it.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::SystemTime;

use crate::nested::{self, Isolation};
use crate::target::Boot;
use crate::toolchain::{self, IMAGE_BUILDER_TOOLCHAIN};

/// The image builder's sources, embedded so an installed runner needs no checkout.
const BUILDER_SOURCES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../image-builder/Cargo.toml")),
    ("Cargo.lock", include_str!("../image-builder/Cargo.lock")),
    ("src/main.rs", include_str!("../image-builder/src/main.rs")),
];

const BUILDER_BINARY: &str = "unikernel-image-builder";

/// Building the image builder or an image failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError(pub String);

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImageError {}

/// FNV-1a: a hash that, unlike std's `DefaultHasher`, is the same in every
/// Rust release, so cache directory names stay put across runner rebuilds.
fn fnv1a(bytes: impl IntoIterator<Item = u8>, mut hash: u64) -> u64 {
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// A hash of the builder's sources and toolchain: a new one means a new build.
pub fn builder_hash(sources: &[(&str, &str)], toolchain: &str) -> String {
    let mut hash = fnv1a(toolchain.bytes(), 0xcbf2_9ce4_8422_2325);
    for (path, contents) in sources {
        // The separators keep ("ab", "c") and ("a", "bc") apart.
        hash = fnv1a(
            path.bytes().chain([0]).chain(contents.bytes()).chain([0]),
            hash,
        );
    }
    format!("{hash:016x}")
}

/// The user cache directory for cargo-unikernel: `$XDG_CACHE_HOME` or `~/.cache`.
pub fn cache_root() -> Result<PathBuf, ImageError> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .ok_or_else(|| {
            ImageError("neither XDG_CACHE_HOME nor HOME is set: no cache directory".into())
        })?;
    Ok(base.join("cargo-unikernel"))
}

/// The image builder binary, built first if this version of it is not cached.
pub fn ensure_builder() -> Result<PathBuf, ImageError> {
    let dir = cache_root()?.join(format!(
        "image-builder-{}",
        builder_hash(BUILDER_SOURCES, IMAGE_BUILDER_TOOLCHAIN)
    ));
    let binary = dir.join("target").join("release").join(BUILDER_BINARY);
    if binary.is_file() {
        return Ok(binary);
    }
    toolchain::ensure_toolchain(
        IMAGE_BUILDER_TOOLCHAIN,
        &["rust-src", "llvm-tools"],
        "to build the bootloader",
    )
    .map_err(|e| ImageError(e.0))?;
    for (path, contents) in BUILDER_SOURCES {
        let file = dir.join(path);
        let write = || -> std::io::Result<()> {
            // Rewriting an identical file would make a concurrent or later
            // cargo rebuild the crate for nothing.
            if fs::read_to_string(&file).is_ok_and(|old| old == *contents) {
                return Ok(());
            }
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&file, contents)
        };
        write().map_err(|e| ImageError(format!("cannot write {}: {e}", file.display())))?;
    }
    eprintln!(
        "cargo-unikernel: building the x86_64 bootloader with {IMAGE_BUILDER_TOOLCHAIN} (once; about 4 minutes) in {}",
        dir.display()
    );
    // One log per process: a concurrent runner may be waiting on the same build.
    let log_path = dir.join(format!("build-{}.log", std::process::id()));
    let log = fs::File::create(&log_path)
        .map_err(|e| ImageError(format!("cannot create {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| ImageError(format!("{}: {e}", log_path.display())))?;
    // No --target-dir and no CARGO_TARGET_DIR: see Isolation::ImageBuilder.
    let status = nested::cargo_with_toolchain(
        IMAGE_BUILDER_TOOLCHAIN,
        Isolation::ImageBuilder,
        ["build", "--release", "--locked"],
    )
    .current_dir(&dir)
    .stdin(Stdio::null())
    .stdout(log)
    .stderr(log_err)
    .status()
    .map_err(|e| ImageError(format!("cannot run rustup to build the image builder: {e}")))?;
    if !status.success() || !binary.is_file() {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        return Err(ImageError(format!(
            "building the image builder failed ({status}); last lines of {}:\n{}",
            log_path.display(),
            toolchain::tail(&log, 30)
        )));
    }
    // The log only matters when the build fails.
    let _ = fs::remove_file(&log_path);
    Ok(binary)
}

/// Where the image of `kernel` for `boot` is kept: next to the ELF.
pub fn image_path(kernel: &Path, boot: Boot, boot_log: bool) -> PathBuf {
    let name = kernel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let variant = if boot_log { "-bootlog" } else { "" };
    kernel.with_file_name(format!("{name}-{}{variant}.img", boot.name()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `image` exists and is newer than everything it is made from.
pub fn is_fresh(image: &Path, inputs: &[&Path]) -> bool {
    let Some(image_time) = modified(image) else {
        return false;
    };
    inputs
        .iter()
        .all(|input| modified(input).is_some_and(|t| t <= image_time))
}

/// Makes (or reuses) the disk images of `kernel` for `boots`, in that order.
pub fn make_images(
    builder: &Path,
    kernel: &Path,
    boots: &[Boot],
    boot_log: bool,
) -> Result<Vec<PathBuf>, ImageError> {
    let images: Vec<PathBuf> = boots
        .iter()
        .map(|&boot| image_path(kernel, boot, boot_log))
        .collect();
    let mut command = std::process::Command::new(builder);
    command.arg(kernel).stdin(Stdio::null());
    let mut stale = false;
    for (boot, image) in boots.iter().zip(&images) {
        if !is_fresh(image, &[kernel, builder]) {
            command.arg(format!("--{}", boot.name())).arg(image);
            stale = true;
        }
    }
    if !stale {
        return Ok(images);
    }
    if boot_log {
        command.arg("--boot-log");
    }
    let output = command
        .output()
        .map_err(|e| ImageError(format!("cannot run {}: {e}", builder.display())))?;
    if !output.status.success() {
        return Err(ImageError(format!(
            "making the disk image of {} failed: {}",
            kernel.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    #[test]
    fn hash_changes_with_any_input() {
        let base = builder_hash(&[("a", "1"), ("b", "2")], "nightly-x");
        assert_eq!(base.len(), 16);
        assert_eq!(base, builder_hash(&[("a", "1"), ("b", "2")], "nightly-x"));
        assert_ne!(base, builder_hash(&[("a", "1"), ("b", "3")], "nightly-x"));
        assert_ne!(base, builder_hash(&[("a", "1"), ("b", "2")], "nightly-y"));
        assert_ne!(
            builder_hash(&[("ab", "c")], "t"),
            builder_hash(&[("a", "bc")], "t")
        );
    }

    #[test]
    fn hash_is_stable_across_releases() {
        // FNV-1a of the empty input is its offset basis; pins the algorithm.
        assert_eq!(fnv1a([], 0xcbf2_9ce4_8422_2325), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a", 0xcbf2_9ce4_8422_2325), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn embedded_sources_pin_the_bootloader() {
        let manifest = BUILDER_SOURCES[0].1;
        assert!(manifest.contains("bootloader = \"=0.11.17\""));
        assert!(
            BUILDER_SOURCES[1]
                .1
                .contains("name = \"bootloader\"\nversion = \"0.11.17\"")
        );
    }

    #[test]
    fn images_sit_next_to_the_kernel() {
        let kernel = Path::new("/t/x86_64-unknown-none/debug/hello");
        assert_eq!(
            image_path(kernel, Boot::Bios, false),
            Path::new("/t/x86_64-unknown-none/debug/hello-bios.img")
        );
        assert_eq!(
            image_path(kernel, Boot::Uefi, true),
            Path::new("/t/x86_64-unknown-none/debug/hello-uefi-bootlog.img")
        );
    }

    #[test]
    fn freshness_follows_modification_times() {
        let dir = TempDir::new("fresh").unwrap();
        let (kernel, image) = (dir.path().join("k"), dir.path().join("k-bios.img"));
        fs::write(&kernel, b"elf").unwrap();
        assert!(!is_fresh(&image, &[&kernel]), "a missing image is stale");
        fs::write(&image, b"img").unwrap();
        let old = SystemTime::now() - std::time::Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&kernel)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(is_fresh(&image, &[&kernel]));
        fs::File::options()
            .write(true)
            .open(&image)
            .unwrap()
            .set_modified(old - std::time::Duration::from_secs(1))
            .unwrap();
        assert!(
            !is_fresh(&image, &[&kernel]),
            "an image older than its kernel is stale"
        );
    }
}
