//! [`Sv39Mapper`]: Sv39 tables reached through a physical-memory offset,
//! and `satp`.

use mem_core::paging::GenericMapper;
use mem_core::{FrameAllocError, FrameAllocator, PhysFrame, VirtAddr};

use crate::sv39::Sv39;

/// `satp.MODE` value selecting Sv39.
pub const SATP_MODE_SV39: u64 = 8;

/// The `satp` value that selects Sv39 with the root table `root` and
/// address-space identifier `asid`: `MODE = 8` in bits 63..60, `ASID` in bits
/// 59..44, the root's PPN in bits 43..0.
///
/// ```
/// use mem_core::{PhysAddr, PhysFrame};
/// let root = PhysFrame::containing_address(PhysAddr::new(0x8020_0000));
/// assert_eq!(mem_riscv::satp_value(root, 1), 0x8000_1000_0008_0200);
/// ```
#[inline]
pub const fn satp_value(root: PhysFrame, asid: u16) -> u64 {
    (SATP_MODE_SV39 << 60) | ((asid as u64) << 44) | (root.number() & ((1 << 44) - 1))
}

/// The Sv39 page mapper: three-level tables rooted at one frame, every table
/// reached at `phys + phys_offset` (0 while running on physical addresses
/// before paging; the direct-map offset once it is on).
///
/// All of [`Mapper`](mem_core::paging::Mapper) is provided; page-table
/// frames come from the [`FrameAllocator`] passed to each call and go back to
/// it when a table becomes empty. See [`Sv39`] for how flags are encoded.
///
/// ```
/// use mem_core::paging::{Mapper, PageFlags, sim::SimFrames};
/// use mem_core::{Page, PhysAddr, PhysFrame, Size4KiB, VirtAddr};
/// use mem_riscv::Sv39Mapper;
///
/// let mut sim = SimFrames::new(16);
/// let offset = sim.phys_offset();
/// // SAFETY: the simulated frames live at `offset` and are unused.
/// let mut mapper = unsafe { Sv39Mapper::new_empty(&mut sim, offset) }.unwrap();
/// let page = Page::<Size4KiB>::containing_address(VirtAddr::new(0xffff_ffc0_0000_0000));
/// let frame = PhysFrame::containing_address(PhysAddr::new(0x8020_0000));
/// // SAFETY: the frame is simulated: nothing uses it.
/// unsafe { mapper.map(page, frame, PageFlags::RX, &mut sim) }.unwrap().flush();
/// let t = mapper.translate(VirtAddr::new(0xffff_ffc0_0000_0123)).unwrap();
/// assert_eq!(t.addr, PhysAddr::new(0x8020_0123));
/// assert_eq!(mapper.satp(0) >> 60, 8);
/// ```
#[derive(Debug)]
pub struct Sv39Mapper {
    inner: GenericMapper<Sv39>,
}

impl Sv39Mapper {
    /// A mapper over the Sv39 tables rooted at `root`.
    ///
    /// # Safety
    /// - `root` and every table reachable from it are valid Sv39 tables,
    ///   readable and writable at `phys + phys_offset`, and nothing else
    ///   modifies them while the mapper exists.
    /// - Every frame that the allocators passed to this mapper hand out is
    ///   accessible at `phys + phys_offset` and unused.
    pub const unsafe fn new(root: PhysFrame, phys_offset: VirtAddr) -> Self {
        // SAFETY: forwarded to the caller.
        let inner = unsafe { GenericMapper::new(root.start_address(), phys_offset) };
        Self { inner }
    }

    /// A mapper over a new, empty root table allocated from `alloc`.
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

    /// A mapper over the tables that `satp` currently selects.
    ///
    /// # Safety
    /// Must run in S-mode with Sv39 active; otherwise as [`new`](Self::new).
    #[cfg(all(target_arch = "riscv64", target_os = "none"))]
    pub unsafe fn from_active(phys_offset: VirtAddr) -> Self {
        let satp: u64;
        // SAFETY: reading `satp` has no side effect.
        unsafe { core::arch::asm!("csrr {0}, satp", out(reg) satp, options(nomem, nostack)) };
        let root = PhysFrame::from_number(satp & ((1 << 44) - 1)).expect("44-bit PPN");
        // SAFETY: forwarded to the caller.
        unsafe { Self::new(root, phys_offset) }
    }

    /// The root table's frame.
    #[inline]
    pub fn root(&self) -> PhysFrame {
        PhysFrame::containing_address(self.inner.root())
    }

    /// The virtual address at which physical address 0 is reached.
    #[inline]
    pub fn phys_offset(&self) -> VirtAddr {
        self.inner.phys_offset()
    }

    /// The `satp` value that activates these tables with `asid`
    /// ([`satp_value`]).
    #[inline]
    pub fn satp(&self, asid: u16) -> u64 {
        satp_value(self.root(), asid)
    }

    /// Switches to these tables with ASID 0: writes `satp`, then
    /// `sfence.vma` to drop every cached translation.
    ///
    /// # Safety
    /// S-mode only. The code and data running now, the stack, and everything
    /// Rust still references must be mapped at the same virtual addresses in
    /// these tables, and the tables must stay alive and unchanged (except
    /// through this mapper) while active. If `phys_offset` changes meaning
    /// with the switch (0 before, a direct map after), build a new mapper
    /// with the new offset.
    #[cfg(all(target_arch = "riscv64", target_os = "none"))]
    pub unsafe fn activate(&self) {
        let satp = self.satp(0);
        // SAFETY: the caller guarantees the new address space maps all live
        // state; the fences order earlier table writes before the switch and
        // drop stale translations after it.
        unsafe {
            core::arch::asm!(
                "sfence.vma zero, zero",
                "csrw satp, {0}",
                "sfence.vma zero, zero",
                in(reg) satp,
                options(nostack)
            );
        }
    }

    /// The generic engine underneath, e.g. for
    /// [`table_count`](GenericMapper::table_count).
    #[inline]
    pub fn engine(&self) -> &GenericMapper<Sv39> {
        &self.inner
    }
}

mem_core::delegate_mapper!(Sv39Mapper => inner, Tlb = Sv39);
