//! Architecture-neutral memory management for the unikernel framework.
//!
//! Everything here is `no_std`, knows no architecture, and is tested on the
//! host:
//!
//! - typed addresses ([`PhysAddr`], [`VirtAddr`]) and pages and frames generic
//!   over their size ([`Page`], [`PhysFrame`], [`Size4KiB`], [`Size2MiB`],
//!   [`Size1GiB`]) with their ranges;
//! - [`MemoryMap`]: a firmware memory map normalised (sorted, merged, usable
//!   memory trimmed to whole frames, reservations winning over usable RAM);
//! - [`FrameAllocator`], the trait every frame source implements, and
//!   [`FramePool`], a hierarchical bitmap over every usable region that also
//!   hands out contiguous, aligned runs;
//! - [`paging`]: the [`Mapper`](paging::Mapper) trait and
//!   [`GenericMapper`](paging::GenericMapper), one table-walking engine that
//!   `mem-x86` and `mem-riscv` instantiate with their entry formats;
//! - [`heap`]: a TLSF heap ([`heap::LockedHeap`]) that grows on demand, and
//!   [`global_allocator!`] to install it.
//!
//! From a firmware map to allocated frames:
//!
//! ```
//! use mem_core::{FrameAllocator, FramePool, MemoryMap, Page, RegionKind, Size2MiB, VirtAddr};
//!
//! // What firmware might report: 64 MiB of RAM with the kernel image inside.
//! let mut map = MemoryMap::new();
//! map.add(0x10_0000, 64 << 20, RegionKind::Usable)?;
//! map.reserve(0x20_0000, 0x4_2000, RegionKind::Kernel)?;
//! map.normalize();
//! assert_eq!(map.usable_bytes(), (64 << 20) - 0x4_2000);
//!
//! // The pool's bitmap lives in caller-provided storage (in a kernel:
//! // `FramePool::new_in_place` puts it in usable RAM).
//! let mut storage = vec![0u64; FramePool::metadata_words(&map)];
//! let mut pool = FramePool::new(&map, &mut storage)?;
//! let frame = pool.allocate_frame()?;
//! let dma = pool.allocate_contiguous(16, 16)?; // 64 KiB, 64 KiB-aligned
//! assert_eq!(dma.start_address().as_u64() % (64 << 10), 0);
//! pool.deallocate_contiguous(dma)?;
//! pool.deallocate_frame(frame)?;
//! assert_eq!(pool.free_frames(), pool.total_frames());
//!
//! // Pages know their size: a 2 MiB page and its first 4 KiB page.
//! let huge = Page::<Size2MiB>::containing_address(VirtAddr::new(0x4000_0012_3456));
//! assert_eq!(huge.start_address(), VirtAddr::new(0x4000_0000_0000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod addr;
pub mod frame_alloc;
pub mod heap;
pub mod memory_map;
pub mod page;
pub mod paging;

pub use addr::{AddrNotAligned, PhysAddr, PhysAddrNotValid, VirtAddr};
pub use frame_alloc::{
    FrameAllocError, FrameAllocator, FrameFreeError, FramePool, FramePoolInitError,
};
pub use memory_map::{MemoryMap, MemoryMapError, MemoryRegion, NormalizeReport, RegionKind};
pub use page::{
    FRAME_SIZE, FrameRange, Page, PageRange, PageSize, PhysFrame, Size1GiB, Size2MiB, Size4KiB,
};
