//! What the machine is: CPUs, RAM and where the runtime learned it.
//!
//! ```no_run
//! let p = unikernel::platform();
//! unikernel::println!("{p}");
//! ```

use core::fmt;

use spin::Once;

/// Where the hardware description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Firmware {
    /// ACPI tables (x86_64), with the table revision.
    Acpi {
        /// ACPI revision of the root table (0 when the tables could not be read).
        revision: u8,
    },
    /// A flattened device tree (riscv64).
    DeviceTree,
}

/// A summary of the machine, the same on every arch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// `"x86_64"` or `"riscv64"`.
    pub arch: &'static str,
    /// Processors the firmware describes.
    pub cpus: usize,
    /// Installed RAM in bytes.
    pub ram_bytes: u64,
    /// Where the description came from.
    pub firmware: Firmware,
    /// How the machine booted: `"BIOS"`, `"UEFI"` or `"OpenSBI"`.
    pub boot: &'static str,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} machine: {} CPU{}, {} MiB RAM, booted by {}, described by ",
            self.arch,
            self.cpus,
            if self.cpus == 1 { "" } else { "s" },
            self.ram_bytes >> 20,
            self.boot
        )?;
        match self.firmware {
            Firmware::Acpi { revision } => write!(f, "ACPI (revision {revision})"),
            Firmware::DeviceTree => f.write_str("a device tree"),
        }
    }
}

static PLATFORM: Once<Platform> = Once::new();

#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(crate) fn set(p: Platform) {
    PLATFORM.call_once(|| p);
}

/// The machine's summary, as the runtime read it at boot.
///
/// # Panics
/// Before the runtime has read the firmware tables (never in `main`).
pub fn platform() -> Platform {
    *PLATFORM
        .get()
        .expect("platform read before the runtime booted")
}
