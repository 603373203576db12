//! [`OffsetMapper`]: x86_64 4-level tables reached through the bootloader's
//! physical-memory offset.

use mem_core::paging::GenericMapper;
use mem_core::{FrameAllocError, FrameAllocator, PhysFrame, VirtAddr};
use x86_64::structures::paging::PageTable;

use crate::format::X86Format;

/// The x86_64 page mapper: the four-level tables rooted at a PML4 frame,
/// every table reached at `phys + phys_offset` (the `physical_memory` offset
/// that `bootloader_api` reports).
///
/// Tables are the `x86_64` crate's [`PageTable`] layout; entries are built
/// from its `PageTableFlags`. All of [`Mapper`](mem_core::paging::Mapper) is
/// provided; page-table frames come from the [`FrameAllocator`] passed to
/// each call and go back to it when a table becomes empty.
///
/// ```no_run
/// # fn demo(alloc: &mut impl mem_core::FrameAllocator, phys_offset: u64) -> Result<(), mem_core::paging::MapError> {
/// use mem_core::paging::{Mapper, PageFlags};
/// use mem_core::{Page, PhysAddr, PhysFrame, VirtAddr};
/// use mem_x86::OffsetMapper;
///
/// // SAFETY: ring 0, bootloader's offset mapping of all physical memory.
/// let mut mapper = unsafe { OffsetMapper::from_active(VirtAddr::new(phys_offset)) };
/// let page = Page::containing_address(VirtAddr::new(0x4444_0000_0000));
/// let frame = alloc.allocate_frame().expect("a frame");
/// // SAFETY: the frame is fresh and mapped nowhere else.
/// unsafe { mapper.map(page, frame, PageFlags::RW, alloc) }?.flush();
/// assert_eq!(mapper.translate(page.start_address()).unwrap().addr, frame.start_address());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OffsetMapper {
    inner: GenericMapper<X86Format>,
}

impl OffsetMapper {
    /// A mapper over the tables whose PML4 is `root`.
    ///
    /// # Safety
    /// - `root` and every table reachable from it are valid x86_64 page
    ///   tables, readable and writable at `phys + phys_offset`, and nothing
    ///   else modifies them while the mapper exists.
    /// - Every frame that the allocators passed to this mapper hand out is
    ///   accessible at `phys + phys_offset` and unused.
    pub const unsafe fn new(root: PhysFrame, phys_offset: VirtAddr) -> Self {
        // SAFETY: forwarded to the caller.
        let inner = unsafe { GenericMapper::new(root.start_address(), phys_offset) };
        Self { inner }
    }

    /// A mapper over a new, empty PML4 allocated from `alloc` (for address
    /// spaces built from scratch, and for host tests).
    ///
    /// # Errors
    /// When `alloc` has no frame.
    ///
    /// # Safety
    /// Every frame `alloc` (and any allocator later passed to this mapper)
    /// hands out is accessible at `phys + phys_offset` and unused.
    pub unsafe fn new_empty<A: FrameAllocator + ?Sized>(
        alloc: &mut A,
        phys_offset: VirtAddr,
    ) -> Result<Self, FrameAllocError> {
        // SAFETY: forwarded to the caller.
        let inner = unsafe { GenericMapper::new_empty(alloc, phys_offset)? };
        Ok(Self { inner })
    }

    /// A mapper over the active tables: the PML4 that CR3 points to.
    ///
    /// # Safety
    /// Must run in ring 0. Physical memory is mapped at `phys_offset` as in
    /// [`new`](Self::new) (the bootloader's `physical_memory` mapping), and
    /// no other mapper or code modifies the active tables while this one
    /// exists.
    #[cfg(target_arch = "x86_64")]
    pub unsafe fn from_active(phys_offset: VirtAddr) -> Self {
        let (frame, _) = x86_64::registers::control::Cr3::read();
        let root =
            PhysFrame::containing_address(mem_core::PhysAddr::new(frame.start_address().as_u64()));
        // SAFETY: CR3 holds the active PML4; the rest is the caller's promise.
        unsafe { Self::new(root, phys_offset) }
    }

    /// The PML4 frame (the value to load into CR3).
    #[inline]
    pub fn root(&self) -> PhysFrame {
        PhysFrame::containing_address(self.inner.root())
    }

    /// The virtual address at which physical address 0 is reached.
    #[inline]
    pub fn phys_offset(&self) -> VirtAddr {
        self.inner.phys_offset()
    }

    /// The PML4 as the `x86_64` crate's [`PageTable`], for inspection.
    #[inline]
    pub fn level_4_table(&self) -> &PageTable {
        let ptr = self.inner.phys_offset().as_u64() + self.inner.root().as_u64();
        // SAFETY: the root table is accessible at this address (constructor
        // contract), 4 KiB aligned as every frame is, and only modified
        // through `&mut self`, which this shared borrow excludes.
        unsafe { &*(ptr as usize as *const PageTable) }
    }

    /// The generic engine underneath, e.g. for
    /// [`table_count`](GenericMapper::table_count).
    #[inline]
    pub fn engine(&self) -> &GenericMapper<X86Format> {
        &self.inner
    }
}

mem_core::delegate_mapper!(OffsetMapper => inner, Tlb = X86Format);
