//! Architecture-neutral memory management for the unikernel framework.
//!
//! Everything here builds for any target and is tested on the host:
//! typed addresses ([`PhysAddr`], [`VirtAddr`]), pages and frames generic over
//! their size ([`Page`], [`PhysFrame`]), and the [`FrameAllocator`] trait.
#![cfg_attr(not(test), no_std)]

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
