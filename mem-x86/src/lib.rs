//! x86_64 memory management: page mapping over the `x86_64` crate's 4-level
//! tables and frames from the `bootloader_api` memory map.
//!
//! - [`X86Format`]: the x86_64 entry format for `mem-core`'s generic
//!   page-table engine (4 levels, NX, 2 MiB and 1 GiB pages), encoded through
//!   the `x86_64` crate's `PageTableEntry`;
//! - [`OffsetMapper`]: a [`Mapper`](mem_core::paging::Mapper) over tables
//!   reached at `physical address + offset`, the bootloader's
//!   `physical_memory` mapping (on x86_64, `OffsetMapper::from_active`
//!   takes over the tables in CR3);
//! - [`FrameAdapter`]: any `mem-core` frame allocator as the `x86_64` crate's
//!   `FrameAllocator`, for code written against that crate;
//! - [`memory_map_from_bootloader`]: `bootloader_api` memory regions as a
//!   normalised [`MemoryMap`](mem_core::MemoryMap).
//!
//! Nothing here needs an x86_64 machine: only the TLB flush and reading CR3
//! are instructions, compiled for `target_arch = "x86_64"` alone. On the host
//! the mapper walks tables in ordinary memory that plays physical memory:
//!
//! ```
//! use mem_core::paging::sim::SimFrames; // mem-core's `paging-sim` feature
//! use mem_core::paging::{MappedSize, Mapper, PageFlags};
//! use mem_core::{Page, PhysAddr, PhysFrame, Size2MiB, VirtAddr};
//! use mem_x86::OffsetMapper;
//!
//! let mut frames = SimFrames::new(64);
//! let offset = frames.phys_offset();
//! // SAFETY: the simulated frames are reachable at `offset` and unused.
//! let mut mapper = unsafe { OffsetMapper::new_empty(&mut frames, offset) }?;
//!
//! let page = Page::<Size2MiB>::containing_address(VirtAddr::new(0xffff_8000_4000_0000));
//! let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(0x20_0000));
//! // SAFETY: the frame is simulated; nothing else refers to it.
//! unsafe { mapper.map(page, frame, PageFlags::RW, &mut frames) }?.flush();
//!
//! let t = mapper.translate(VirtAddr::new(0xffff_8000_4012_3456)).unwrap();
//! assert_eq!(t.addr, PhysAddr::new(0x32_3456));
//! assert_eq!(t.size, MappedSize::Size2MiB);
//! assert!(!t.flags.contains(PageFlags::EXECUTE)); // NX is set
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

mod format;
pub mod frame_adapter;
mod mapper;
pub mod regions;

pub use format::X86Format;
pub use frame_adapter::FrameAdapter;
pub use mapper::OffsetMapper;
pub use regions::memory_map_from_bootloader;
