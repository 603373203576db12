//! `cargo unikernel run` and `cargo unikernel build`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Fatal;
use crate::cli::RunArgs;
use crate::image;
use crate::kernel::KernelBuild;
use crate::metadata::{DEFAULT_TIMEOUT, Package, Workspace};
use crate::nested;
use crate::outcome::EXIT_SUCCESS;
use crate::qemu::{self, Echo, Machine};
use crate::size::MemorySize;
use crate::target::{Arch, Boot, Target};
use crate::toolchain;

/// Builds `package` with `features` and returns the file QEMU boots for each
/// of `targets` (a disk image on x86_64, the ELF on riscv64), in order.
/// Each architecture is compiled once; x86_64 images share one ELF.
pub fn build_boot_files(
    dir: &Path,
    package: &Package,
    targets: &[Target],
    release: bool,
    features: &[String],
    boot_log: bool,
) -> Result<Vec<PathBuf>, Fatal> {
    let mut elves: Vec<(Arch, PathBuf)> = Vec::new();
    for target in targets {
        if !elves.iter().any(|(arch, _)| *arch == target.arch()) {
            let elf = KernelBuild::new(package, target.arch(), release, features).run(dir)?;
            elves.push((target.arch(), elf));
        }
    }
    let elf_of = |arch: Arch| {
        elves
            .iter()
            .find(|(a, _)| *a == arch)
            .map(|(_, elf)| elf.clone())
            .unwrap_or_default()
    };
    let boots: Vec<Boot> = targets
        .iter()
        .filter_map(|t| match t {
            Target::X86_64(boot) => Some(*boot),
            Target::Riscv64 => None,
        })
        .collect();
    let mut images = Vec::new();
    if !boots.is_empty() {
        let builder = image::ensure_builder()?;
        images = image::make_images(&builder, &elf_of(Arch::X86_64), &boots, boot_log)?;
    }
    let mut images = images.into_iter();
    Ok(targets
        .iter()
        .map(|t| match t {
            Target::X86_64(_) => images.next().unwrap_or_default(),
            Target::Riscv64 => elf_of(Arch::Riscv64),
        })
        .collect())
}

/// The current directory and the workspace (or lone package) that holds it.
pub fn current_workspace() -> Result<(PathBuf, Workspace), Fatal> {
    let cwd = std::env::current_dir().map_err(|e| Fatal(format!("no current directory: {e}")))?;
    let workspace = Workspace::load(&cwd)?;
    Ok((cwd, workspace))
}

/// The OVMF firmware a UEFI target needs, or an error saying how to get it.
pub fn ovmf_for(target: Target) -> Result<Option<PathBuf>, Fatal> {
    match target {
        Target::X86_64(Boot::Uefi) => qemu::find_ovmf().map(Some).ok_or_else(|| {
            Fatal("no OVMF firmware found (install the `ovmf` package or set OVMF_PATH)".into())
        }),
        _ => Ok(None),
    }
}

/// `cargo unikernel run`: returns the runner's exit status.
pub fn run(args: &RunArgs) -> Result<u8, Fatal> {
    let (cwd, workspace) = current_workspace()?;
    let package = workspace.select(&args.selection, &cwd)?;
    let target = Target::new(args.arch.unwrap_or(Arch::X86_64), args.boot);
    toolchain::ensure_targets(&[target.arch()])?;
    toolchain::ensure_qemu(&[target])?;
    let boot_file = build_boot_files(
        &cwd,
        package,
        &[target],
        args.release,
        &args.features,
        args.boot_log,
    )?
    .remove(0);

    let mut extra_args = package.config.qemu_args.clone();
    extra_args.extend(args.qemu_args.iter().cloned());
    let machine = Machine {
        target,
        boot_file,
        memory: args
            .memory
            .or(package.config.memory)
            .unwrap_or(MemorySize::DEFAULT),
        smp: args.smp.or(package.config.smp).unwrap_or(1),
        ovmf: ovmf_for(target)?,
        extra_args,
    };
    let timeout: Option<Duration> = args
        .timeout
        .or(package.config.timeout)
        .unwrap_or(Some(DEFAULT_TIMEOUT));
    eprintln!("     Running `{}`", nested::display(&machine.command()));
    let result = qemu::run(&machine, timeout, Echo::Live)?;
    if !result.console.is_empty() && !result.console.ends_with('\n') {
        println!();
    }
    let verdict = if result.outcome.is_success() {
        "ok"
    } else {
        "FAILED"
    };
    if let Some(backtrace) = crate::symbols::symbolize(
        &result.console,
        &crate::symbols::elf_for(&machine.boot_file),
    ) {
        eprint!("{backtrace}");
    }
    eprintln!(
        "cargo-unikernel: {verdict}: {} on {target}: {} ({:.1} s)",
        package.name,
        result.outcome,
        result.duration.as_secs_f64()
    );
    Ok(result.outcome.exit_code())
}

/// The targets `cargo unikernel build` makes images for: everything the
/// flags allow (no `--arch`: all architectures; no `--boot`: both firmwares).
pub fn build_targets(arch: Option<Arch>, boot: Option<Boot>) -> Vec<Target> {
    Target::ALL
        .into_iter()
        .filter(|t| arch.is_none_or(|a| t.arch() == a))
        .filter(|t| match (t, boot) {
            (Target::X86_64(b), Some(wanted)) => *b == wanted,
            (Target::Riscv64, Some(_)) => arch == Some(Arch::Riscv64),
            _ => true,
        })
        .collect()
}

/// `cargo unikernel build`: prints `TARGET PATH` per image.
pub fn build(args: &RunArgs) -> Result<u8, Fatal> {
    let (cwd, workspace) = current_workspace()?;
    let package = workspace.select(&args.selection, &cwd)?;
    let targets = build_targets(args.arch, args.boot);
    let mut arches: Vec<Arch> = targets.iter().map(|t| t.arch()).collect();
    arches.dedup();
    toolchain::ensure_targets(&arches)?;
    let files = build_boot_files(
        &cwd,
        package,
        &targets,
        args.release,
        &args.features,
        args.boot_log,
    )?;
    for (target, file) in targets.iter().zip(files) {
        println!("{target} {}", file.display());
    }
    Ok(EXIT_SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_targets_follow_the_flags() {
        assert_eq!(build_targets(None, None), Target::ALL);
        assert_eq!(
            build_targets(Some(Arch::X86_64), None),
            [Target::X86_64(Boot::Bios), Target::X86_64(Boot::Uefi)]
        );
        assert_eq!(
            build_targets(None, Some(Boot::Uefi)),
            [Target::X86_64(Boot::Uefi)]
        );
        assert_eq!(build_targets(Some(Arch::Riscv64), None), [Target::Riscv64]);
    }
}
