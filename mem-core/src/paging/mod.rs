//! Arch-neutral page mapping: the [`Mapper`] trait, portable [`PageFlags`],
//! typed errors, [`Flush`] tokens, and [`GenericMapper`], one table-walking
//! engine that each architecture parameterises with a [`PageTableFormat`].
//!
//! # Tables in memory
//! A mapper reaches every table at `phys + phys_offset`, a plain offset:
//! the bootloader's physical-memory offset on x86_64, 0 (identity) or the
//! direct-map offset on RISC-V. On the host, tests and benchmarks hand a heap
//! buffer in as "physical memory" with `phys_offset = buffer address`, so the
//! very same walking code is exercised there.
//!
//! # Frames for tables
//! Every operation that may need a table takes a
//! [`FrameAllocator`] for that call. Tables that become
//! empty on unmap are handed back to that allocator; a table the allocator
//! refuses (one built by the bootloader, say, which the allocator does not
//! manage) simply stays in place.
//!
//! # Policy left to the caller
//! The mappers accept writable + executable mappings; W^X is the runtime's
//! policy ([`PageFlags::is_writable_executable`]). Every mapping must carry
//! [`PageFlags::READ`], on both formats.

mod delegate;
mod engine;
mod error;
mod flags;
mod flush;
mod format;
#[cfg(feature = "paging-sim")]
pub mod sim;

use core::fmt;

pub use engine::GenericMapper;
pub use error::{FlagsNotSupported, MapError, ProtectError, SplitError, UnmapError};
pub use flags::PageFlags;
pub use flush::{FLUSH_ALL_THRESHOLD, Flush, FlushScope, TlbFlush};
pub use format::{ENTRIES, PageTableFormat};

use crate::addr::{PhysAddr, VirtAddr};
use crate::frame_alloc::FrameAllocator;
use crate::page::{FrameRange, Page, PageRange, PageSize, PhysFrame, Size4KiB};

/// The size of one mapping, as found by [`Mapper::translate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MappedSize {
    /// A 4 KiB page.
    Size4KiB,
    /// A 2 MiB page.
    Size2MiB,
    /// A 1 GiB page.
    Size1GiB,
}

impl MappedSize {
    /// Size in bytes.
    #[inline]
    pub const fn bytes(self) -> u64 {
        1 << self.shift()
    }

    /// `log2` of the size.
    #[inline]
    pub const fn shift(self) -> u32 {
        match self {
            Self::Size4KiB => 12,
            Self::Size2MiB => 21,
            Self::Size1GiB => 30,
        }
    }

    /// The size of pages of type `S`.
    #[inline]
    pub const fn of<S: PageSize>() -> Self {
        match S::SHIFT {
            12 => Self::Size4KiB,
            21 => Self::Size2MiB,
            _ => Self::Size1GiB,
        }
    }

    /// The table level whose entries map pages of this size (0 for 4 KiB).
    #[inline]
    pub const fn level(self) -> usize {
        match self {
            Self::Size4KiB => 0,
            Self::Size2MiB => 1,
            Self::Size1GiB => 2,
        }
    }

    /// The size mapped by a leaf at `level`, if any.
    #[inline]
    pub const fn from_level(level: usize) -> Option<Self> {
        match level {
            0 => Some(Self::Size4KiB),
            1 => Some(Self::Size2MiB),
            2 => Some(Self::Size1GiB),
            _ => None,
        }
    }
}

impl fmt::Display for MappedSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Size4KiB => "4KiB",
            Self::Size2MiB => "2MiB",
            Self::Size1GiB => "1GiB",
        })
    }
}

/// Which page sizes a range mapping may use.
///
/// Huge pages are placed wherever virtual and physical addresses are both
/// aligned to their size and the range covers them whole. x86_64 CPUs without
/// the `pdpe1gb` feature (QEMU's default `qemu64` model among them) cannot use
/// 1 GiB pages: pass [`UpTo2MiB`](Self::UpTo2MiB) there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageSizes {
    /// 4 KiB pages only.
    Only4KiB,
    /// 4 KiB and 2 MiB pages.
    UpTo2MiB,
    /// 4 KiB, 2 MiB and 1 GiB pages.
    #[default]
    UpTo1GiB,
}

impl PageSizes {
    /// The highest table level at which a leaf may be placed.
    #[inline]
    pub const fn max_leaf_level(self) -> usize {
        match self {
            Self::Only4KiB => 0,
            Self::UpTo2MiB => 1,
            Self::UpTo1GiB => 2,
        }
    }
}

/// The result of [`Mapper::translate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Translation {
    /// The physical address the virtual address maps to.
    pub addr: PhysAddr,
    /// The flags of the mapping.
    pub flags: PageFlags,
    /// The size of the page that maps it.
    pub size: MappedSize,
}

impl Translation {
    /// Start of the frame that backs the page.
    #[inline]
    pub fn frame_start(&self) -> PhysAddr {
        self.addr.align_down(self.size.bytes())
    }
}

/// Maps virtual pages to physical frames in one address space.
///
/// Implemented by `mem_x86::OffsetMapper` (x86_64 4-level tables) and
/// `mem_riscv::Sv39Mapper` with the same behaviour, both through
/// [`GenericMapper`].
///
/// Operations that change a mapping are `unsafe`: pointing a page at a frame
/// that is in use elsewhere, or removing or write-protecting memory that live
/// references point to, breaks memory safety. Each returns a [`Flush`] token
/// to invalidate the TLB with.
pub trait Mapper {
    /// How the returned [`Flush`] tokens invalidate the TLB.
    type Tlb: TlbFlush;

    /// Maps `page` to `frame` with `flags`, creating tables as needed.
    ///
    /// # Errors
    /// [`MapError::AlreadyMapped`] if any part of the page is mapped (also by
    /// a huge page or by smaller pages under a huge `page`), `OutOfFrames`,
    /// `InvalidFlags`, `NonCanonical`, `PhysOutOfRange`. Tables allocated
    /// before a failure are freed again.
    ///
    /// # Safety
    /// `frame` must not be accessible through any other mapping that Rust
    /// code relies on for exclusive access, unless the caller accounts for the
    /// alias (as with MMIO or a second view of the same buffer).
    unsafe fn map<S: PageSize, A: FrameAllocator + ?Sized>(
        &mut self,
        page: Page<S>,
        frame: PhysFrame<S>,
        flags: PageFlags,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, MapError>;

    /// Maps `pages` to the frames starting at `first_frame`, using the
    /// largest page sizes that `sizes` allows where virtual and physical
    /// alignment permit. Walks each table once instead of once per page.
    ///
    /// Either the whole range is mapped, or nothing is and the tables are as
    /// before.
    ///
    /// # Errors
    /// As [`map`](Self::map).
    ///
    /// # Safety
    /// As [`map`](Self::map), for every frame of the range.
    unsafe fn map_range<A: FrameAllocator + ?Sized>(
        &mut self,
        pages: PageRange<Size4KiB>,
        first_frame: PhysFrame<Size4KiB>,
        flags: PageFlags,
        sizes: PageSizes,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, MapError>;

    /// Removes the mapping of `page` and returns its frame. Tables left empty
    /// are freed to `alloc`.
    ///
    /// # Errors
    /// [`UnmapError::NotMapped`]; `InsideHugePage` when a larger page covers
    /// `page` (split it with [`split`](Self::split)); `SizeMismatch` when a
    /// huge `page` is mapped by smaller pages; `NonCanonical`.
    ///
    /// # Safety
    /// Nothing may still use memory through `page`.
    unsafe fn unmap<S: PageSize, A: FrameAllocator + ?Sized>(
        &mut self,
        page: Page<S>,
        alloc: &mut A,
    ) -> Result<(PhysFrame<S>, Flush<Self::Tlb>), UnmapError>;

    /// Removes every mapping inside `pages` (holes are skipped) and frees
    /// tables left empty.
    ///
    /// # Errors
    /// [`UnmapError::InsideHugePage`] if a huge page straddles either end of
    /// the range (nothing is unmapped then); `NonCanonical`.
    ///
    /// # Safety
    /// Nothing may still use memory through `pages`.
    unsafe fn unmap_range<A: FrameAllocator + ?Sized>(
        &mut self,
        pages: PageRange<Size4KiB>,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, UnmapError>;

    /// Replaces the flags of the mapping of `page`.
    ///
    /// # Errors
    /// As [`unmap`](Self::unmap), plus `InvalidFlags`.
    ///
    /// # Safety
    /// Removing access must not break code that relies on it; adding `WRITE`
    /// must not create writable aliases of memory Rust treats as immutable.
    unsafe fn protect<S: PageSize>(
        &mut self,
        page: Page<S>,
        flags: PageFlags,
    ) -> Result<Flush<Self::Tlb>, ProtectError>;

    /// Splits the huge page that maps `addr` into 512 pages of the next
    /// smaller size with the same frames and flags. Translations do not
    /// change, so this is safe. Call it twice to get from 1 GiB to 4 KiB.
    ///
    /// Only the portable [`PageFlags`] are carried over (accessed/dirty and
    /// format-specific bits are not).
    ///
    /// # Errors
    /// [`SplitError::NotMapped`], `NotHuge` (a 4 KiB page), `OutOfFrames`,
    /// `NonCanonical`.
    fn split<A: FrameAllocator + ?Sized>(
        &mut self,
        addr: VirtAddr,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, SplitError>;

    /// The physical address, flags and page size that `addr` maps to, or
    /// `None` if it is unmapped or not canonical.
    fn translate(&self, addr: VirtAddr) -> Option<Translation>;

    /// Maps `frames` at the same virtual addresses.
    ///
    /// # Errors
    /// As [`map_range`](Self::map_range).
    ///
    /// # Safety
    /// As [`map_range`](Self::map_range).
    unsafe fn map_identity<A: FrameAllocator + ?Sized>(
        &mut self,
        frames: FrameRange<Size4KiB>,
        flags: PageFlags,
        sizes: PageSizes,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, MapError> {
        // SAFETY: forwarded to the caller.
        unsafe { self.map_offset(frames, 0, flags, sizes, alloc) }
    }

    /// Maps `frames` at their physical address plus `offset` (a direct map).
    ///
    /// # Errors
    /// [`MapError::Misaligned`] if `offset` is not 4 KiB aligned,
    /// [`MapError::AddressOverflow`] if the range overflows, and as
    /// [`map_range`](Self::map_range).
    ///
    /// # Safety
    /// As [`map_range`](Self::map_range).
    unsafe fn map_offset<A: FrameAllocator + ?Sized>(
        &mut self,
        frames: FrameRange<Size4KiB>,
        offset: u64,
        flags: PageFlags,
        sizes: PageSizes,
        alloc: &mut A,
    ) -> Result<Flush<Self::Tlb>, MapError> {
        if !offset.is_multiple_of(Size4KiB::SIZE) {
            return Err(MapError::Misaligned(crate::AddrNotAligned {
                addr: offset,
                align: Size4KiB::SIZE,
            }));
        }
        let start = frames.start.start_address().as_u64().checked_add(offset);
        let end = frames.end.start_address().as_u64().checked_add(offset);
        let (Some(start), Some(end)) = (start, end) else {
            return Err(MapError::AddressOverflow);
        };
        // Both are 4 KiB aligned: frame addresses and `offset` are.
        let pages = Page::range(
            Page::containing_address(VirtAddr::new(start)),
            Page::containing_address(VirtAddr::new(end)),
        );
        // SAFETY: forwarded to the caller.
        unsafe { self.map_range(pages, frames.start, flags, sizes, alloc) }
    }
}
