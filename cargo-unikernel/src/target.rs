//! The machines a kernel can run on: an architecture plus, on x86_64, a firmware.

use std::fmt;

/// A CPU architecture with its Rust target triple and QEMU system emulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// `x86_64-unknown-none`, booted by the `bootloader` crate.
    X86_64,
    /// `riscv64gc-unknown-none-elf`, booted by OpenSBI on QEMU `virt`.
    Riscv64,
}

impl Arch {
    /// Every supported architecture, in the order tests run.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Riscv64];

    /// Parses the `--arch` spelling.
    pub fn parse(s: &str) -> Option<Arch> {
        match s {
            "x86_64" | "x86-64" | "amd64" => Some(Arch::X86_64),
            "riscv64" | "riscv" => Some(Arch::Riscv64),
            _ => None,
        }
    }

    /// The Rust target triple kernels are built for.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Riscv64 => "riscv64gc-unknown-none-elf",
        }
    }

    /// The QEMU binary that emulates this architecture.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Riscv64 => "qemu-system-riscv64",
        }
    }

    /// Extra rustc flags kernels of this architecture are built with.
    ///
    /// Frame pointers let the runtime print a backtrace on panic. The riscv64
    /// linker script comes from unikernel-rt's build script, which puts it on
    /// the link search path.
    pub fn rustflags(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &["-Cforce-frame-pointers=yes"],
            Arch::Riscv64 => &[
                "-Cforce-frame-pointers=yes",
                "-Clink-arg=-Tunikernel-riscv64.ld",
            ],
        }
    }

    /// The `--config` value that sets [`Arch::rustflags`] for this target only,
    /// so host build scripts and proc macros are not affected.
    pub fn rustflags_config(self) -> String {
        let flags: Vec<String> = self.rustflags().iter().map(|f| format!("{f:?}")).collect();
        format!("target.{}.rustflags=[{}]", self.triple(), flags.join(", "))
    }
}

/// How an x86_64 machine starts the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Boot {
    /// Legacy BIOS (SeaBIOS, QEMU's default) and an MBR disk image.
    Bios,
    /// UEFI (OVMF) and a GPT disk image.
    Uefi,
}

impl Boot {
    /// Parses the `--boot` spelling.
    pub fn parse(s: &str) -> Option<Boot> {
        match s {
            "bios" => Some(Boot::Bios),
            "uefi" => Some(Boot::Uefi),
            _ => None,
        }
    }

    /// The `--boot` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Boot::Bios => "bios",
            Boot::Uefi => "uefi",
        }
    }
}

/// One machine configuration a kernel is run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// x86_64 with the given firmware.
    X86_64(Boot),
    /// riscv64 QEMU `virt` with OpenSBI.
    Riscv64,
}

impl Target {
    /// Every target, in the order tests run.
    pub const ALL: [Target; 3] = [
        Target::X86_64(Boot::Bios),
        Target::X86_64(Boot::Uefi),
        Target::Riscv64,
    ];

    /// The target for `--arch`/`--boot`; `boot` is ignored on riscv64 (the
    /// caller rejects that combination) and defaults to BIOS on x86_64.
    pub fn new(arch: Arch, boot: Option<Boot>) -> Target {
        match arch {
            Arch::X86_64 => Target::X86_64(boot.unwrap_or(Boot::Bios)),
            Arch::Riscv64 => Target::Riscv64,
        }
    }

    /// Parses the spelling used in `targets = [...]` test metadata.
    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == s)
    }

    /// `x86_64-bios`, `x86_64-uefi` or `riscv64`.
    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64(Boot::Bios) => "x86_64-bios",
            Target::X86_64(Boot::Uefi) => "x86_64-uefi",
            Target::Riscv64 => "riscv64",
        }
    }

    /// The architecture the kernel is compiled for.
    pub fn arch(self) -> Arch {
        match self {
            Target::X86_64(_) => Arch::X86_64,
            Target::Riscv64 => Arch::Riscv64,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_round_trip() {
        for target in Target::ALL {
            assert_eq!(Target::parse(target.name()), Some(target));
        }
        assert_eq!(Target::parse("x86_64"), None);
    }

    #[test]
    fn boot_defaults_to_bios_and_is_ignored_on_riscv() {
        assert_eq!(Target::new(Arch::X86_64, None), Target::X86_64(Boot::Bios));
        assert_eq!(
            Target::new(Arch::X86_64, Some(Boot::Uefi)),
            Target::X86_64(Boot::Uefi)
        );
        assert_eq!(
            Target::new(Arch::Riscv64, Some(Boot::Uefi)),
            Target::Riscv64
        );
    }

    #[test]
    fn rustflags_config_is_a_toml_array_for_one_target() {
        assert_eq!(
            Arch::Riscv64.rustflags_config(),
            r#"target.riscv64gc-unknown-none-elf.rustflags=["-Cforce-frame-pointers=yes", "-Clink-arg=-Tunikernel-riscv64.ld"]"#
        );
        assert!(
            Arch::X86_64
                .rustflags_config()
                .starts_with("target.x86_64-unknown-none.rustflags=[")
        );
    }
}
