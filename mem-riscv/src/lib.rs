//! RISC-V Sv39 memory management: our own three-level page tables and
//! memory maps read from the device tree.
//!
//! - [`Sv39`]: the Sv39 entry format (V/R/W/X/U/G/A/D bits, 4 KiB, 2 MiB and
//!   1 GiB leaves) for `mem-core`'s generic page-table engine;
//! - [`Sv39Mapper`]: a [`Mapper`](mem_core::paging::Mapper) over tables
//!   reached at `physical address + offset`, with [`satp_value`] and
//!   `activate` to switch to them and `sfence.vma` flushes;
//! - [`memory_map_from_fdt`]: the `/memory` nodes, `/reserved-memory` and
//!   `/memreserve/` entries of a flattened device tree as a normalised
//!   [`MemoryMap`](mem_core::MemoryMap).
//!
//! Only `csrw satp` and `sfence.vma` are instructions, compiled for
//! `target_arch = "riscv64"` alone; on the host the mapper walks tables in
//! ordinary memory that plays physical memory:
//!
//! ```
//! use mem_core::paging::sim::SimFrames; // mem-core's `paging-sim` feature
//! use mem_core::paging::{MappedSize, Mapper, PageFlags};
//! use mem_core::{Page, PhysAddr, PhysFrame, Size4KiB, VirtAddr};
//! use mem_riscv::{SATP_MODE_SV39, Sv39Mapper};
//!
//! let mut frames = SimFrames::new(64);
//! let offset = frames.phys_offset();
//! // SAFETY: the simulated frames are reachable at `offset` and unused.
//! let mut mapper = unsafe { Sv39Mapper::new_empty(&mut frames, offset) }?;
//!
//! // The UART of QEMU `virt`, uncached, in the upper half.
//! let page = Page::<Size4KiB>::containing_address(VirtAddr::new(0xffff_ffc0_1000_0000));
//! let frame = PhysFrame::<Size4KiB>::containing_address(PhysAddr::new(0x1000_0000));
//! // SAFETY: the frame is simulated; nothing else refers to it.
//! unsafe { mapper.map(page, frame, PageFlags::MMIO, &mut frames) }?.flush();
//!
//! let t = mapper.translate(VirtAddr::new(0xffff_ffc0_1000_0005)).unwrap();
//! assert_eq!(t.addr, PhysAddr::new(0x1000_0005));
//! assert_eq!(t.size, MappedSize::Size4KiB);
//! // What the kernel writes to `satp` to switch to these tables (ASID 0).
//! assert_eq!(mapper.satp(0) >> 60, SATP_MODE_SV39);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod dtb;
mod mapper;
pub mod sv39;

pub use dtb::{DtbError, memory_map_from_fdt};
pub use mapper::{SATP_MODE_SV39, Sv39Mapper, satp_value};
pub use sv39::Sv39;
