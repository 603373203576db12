//! RISC-V Sv39 memory management: our own three-level page tables and
//! memory maps read from the device tree.
#![cfg_attr(not(test), no_std)]

pub mod dtb;
mod mapper;
pub mod sv39;

pub use dtb::{DtbError, memory_map_from_fdt};
pub use mapper::{SATP_MODE_SV39, Sv39Mapper, satp_value};
pub use sv39::Sv39;
