#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
// The boot flow runs only on bare metal; on hosted targets the crate is built
// for its unit tests and the macros' tests, where that code is never called.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

pub use unikernel_macros::{main, test};

// Byte-level ACPI table readers: used by the x86_64 boot, tested on the host.
#[cfg(any(test, target_arch = "x86_64"))]
mod acpi_tables;
#[cfg(target_os = "none")]
mod backtrace;
mod config;
pub mod console;
mod exit;
mod fmt_search;
mod harness;
pub mod heap;
mod logger;
pub mod memory;
mod platform;
#[cfg(target_os = "none")]
mod rt;
pub mod time;
pub mod traps;
#[cfg(target_os = "none")]
pub mod vm;

#[cfg(target_os = "none")]
pub(crate) use rt::{fatal, run};

pub use config::{PhysOffset, RuntimeConfig};
pub use exit::Exit;
pub use platform::{Firmware, Platform, platform};

#[cfg_attr(
    all(target_arch = "x86_64", target_os = "none"),
    path = "arch/x86_64/mod.rs"
)]
#[cfg_attr(
    all(target_arch = "riscv64", target_os = "none"),
    path = "arch/riscv64/mod.rs"
)]
#[cfg_attr(not(target_os = "none"), path = "arch/hosted.rs")]
mod arch;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
