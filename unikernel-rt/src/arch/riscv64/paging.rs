//! Turning on Sv39 before `main`.
//!
//! The first page tables come from a bump allocator over the start of usable
//! RAM (they live forever, so they are simply reserved afterwards), because
//! the frame pool can only be built once its metadata has a virtual address
//! that stays valid after the switch. The kernel image stays at its physical
//! address, mapped section by section: text R+X, rodata R, data/bss and the
//! boot stack R+W, never W+X, with the boot stack's guard page left unmapped.
//! All of RAM is mapped again at [`layout::PHYS_OFFSET`], never executable
//! (the kernel image there read-only, so no writable alias of its text exists).

use mem_core::paging::{Mapper, PageFlags, PageSizes};
use mem_core::{
    FRAME_SIZE, FrameAllocError, FrameAllocator, FrameFreeError, FrameRange, MemoryMap, PhysAddr,
    PhysFrame, RegionKind, VirtAddr,
};
use mem_riscv::Sv39Mapper;

use super::layout;

/// Hands out frames from one usable range, front to back; never frees.
struct BumpFrames {
    next: PhysFrame,
    end: PhysFrame,
    start: PhysFrame,
}

impl FrameAllocator for BumpFrames {
    fn allocate_frame(&mut self) -> Result<PhysFrame, FrameAllocError> {
        if self.next >= self.end {
            return Err(FrameAllocError::OutOfFrames);
        }
        let frame = self.next;
        self.next = frame.checked_add(1).ok_or(FrameAllocError::OutOfFrames)?;
        // SAFETY: paging is off, so the frame is addressed physically, and the
        // range is usable RAM nobody else uses yet.
        unsafe {
            core::ptr::write_bytes(
                frame.start_address().as_u64() as *mut u8,
                0,
                FRAME_SIZE as usize,
            )
        };
        Ok(frame)
    }
    fn deallocate_frame(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError> {
        Err(FrameFreeError::NotManaged(frame))
    }
    fn allocate_contiguous(
        &mut self,
        count: usize,
        align: usize,
    ) -> Result<FrameRange, FrameAllocError> {
        Err(FrameAllocError::InvalidRequest { count, align })
    }
    fn deallocate_contiguous(&mut self, _range: FrameRange) -> Result<(), FrameFreeError> {
        Err(FrameFreeError::EmptyRange)
    }
    fn free_frames(&self) -> usize {
        (self.end.number() - self.next.number()) as usize
    }
    fn total_frames(&self) -> usize {
        (self.end.number() - self.start.number()) as usize
    }
}

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __bss_end: u8;
    static __boot_stack_guard: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
    static __trap_stack_guard: u8;
    static __trap_stack_bottom: u8;
    static __trap_stack_top: u8;
}

fn sym(s: *const u8) -> u64 {
    s as u64
}

/// What `enable` leaves behind.
pub(super) struct Paging {
    pub mapper: Sv39Mapper,
    pub boot_stack_guard: u64,
    pub boot_stack_bottom: u64,
    pub trap_stack_guard: u64,
    pub trap_stack_bottom: u64,
}

/// Builds the kernel page table, switches to it, reserves the tables' frames
/// in `map` and returns a mapper that reaches tables through the direct map.
pub(super) fn enable(map: &mut MemoryMap, devices: &[u64]) -> Result<Paging, &'static str> {
    let first = map
        .usable()
        .find(|r| r.len() >= 64)
        .ok_or("no usable range for page tables")?;
    let mut bump = BumpFrames {
        next: first.start,
        end: first.end,
        start: first.start,
    };

    // SAFETY: paging is off: tables are reached at their physical address.
    let mut mapper = unsafe { Sv39Mapper::new_empty(&mut bump, VirtAddr::new(0)) }
        .map_err(|_| "out of frames for the root table")?;

    let sections = [
        (
            sym(&raw const __text_start),
            sym(&raw const __text_end),
            PageFlags::RX,
        ),
        (
            sym(&raw const __rodata_start),
            sym(&raw const __rodata_end),
            PageFlags::R,
        ),
        (
            sym(&raw const __data_start),
            sym(&raw const __bss_end),
            PageFlags::RW,
        ),
        (
            sym(&raw const __boot_stack_bottom),
            sym(&raw const __boot_stack_top),
            PageFlags::RW,
        ),
        (
            sym(&raw const __trap_stack_bottom),
            sym(&raw const __trap_stack_top),
            PageFlags::RW,
        ),
    ];
    for (start, end, flags) in sections {
        identity(&mut mapper, &mut bump, start, end, flags)?;
    }
    for &dev in devices.iter().filter(|&&d| d != 0) {
        identity(
            &mut mapper,
            &mut bump,
            dev,
            dev + FRAME_SIZE,
            PageFlags::MMIO,
        )?;
    }

    let kernel = sym(&raw const __text_start)..sym(&raw const __trap_stack_top);
    for region in map.regions() {
        let flags = if region.kind == RegionKind::Kernel {
            PageFlags::R
        } else {
            PageFlags::RW
        };
        let start = region.start.align_down(FRAME_SIZE);
        let end = region.end.align_up(FRAME_SIZE);
        let range = FrameRange {
            start: PhysFrame::containing_address(start),
            end: PhysFrame::containing_address(end),
        };
        if range.is_empty() {
            continue;
        }
        // The image may be described by several regions; never map it writable.
        let flags = if start.as_u64() < kernel.end && kernel.start < end.as_u64() {
            PageFlags::R
        } else {
            flags
        };
        // SAFETY: a second, non-executable view of RAM; Rust code reaches RAM
        // through it only via the frame pool and heap, which own their frames.
        unsafe {
            mapper.map_offset(
                range,
                layout::PHYS_OFFSET,
                flags | PageFlags::GLOBAL,
                PageSizes::UpTo1GiB,
                &mut bump,
            )
        }
        .map_err(|_| "cannot map RAM at the direct-map offset")?
        .ignore();
    }

    // SAFETY: everything the kernel touches from here on is mapped: its
    // sections at the same addresses, the devices it drives, and RAM at the
    // offset (the frame pool and heap are only built after this).
    unsafe { mapper.activate() };

    let used = (bump.next.number() - bump.start.number()) * FRAME_SIZE;
    map.reserve(
        bump.start.start_address().as_u64(),
        used,
        RegionKind::Bootloader,
    )
    .map_err(|_| "memory map full: cannot reserve the page tables")?;
    map.normalize();

    let root = mapper.root();
    Ok(Paging {
        // SAFETY: the tables are now reachable at PHYS_OFFSET + physical.
        mapper: unsafe { Sv39Mapper::new(root, VirtAddr::new(layout::PHYS_OFFSET)) },
        boot_stack_guard: sym(&raw const __boot_stack_guard),
        boot_stack_bottom: sym(&raw const __boot_stack_bottom),
        trap_stack_guard: sym(&raw const __trap_stack_guard),
        trap_stack_bottom: sym(&raw const __trap_stack_bottom),
    })
}

fn identity(
    mapper: &mut Sv39Mapper,
    bump: &mut BumpFrames,
    start: u64,
    end: u64,
    flags: PageFlags,
) -> Result<(), &'static str> {
    let range = FrameRange {
        start: PhysFrame::containing_address(PhysAddr::new(start)),
        end: PhysFrame::containing_address(PhysAddr::new(end).align_up(FRAME_SIZE)),
    };
    if range.is_empty() {
        return Ok(());
    }
    // SAFETY: identity-maps the kernel's own sections and device pages, the
    // same memory it already uses at these addresses.
    unsafe { mapper.map_identity(range, flags | PageFlags::GLOBAL, PageSizes::Only4KiB, bump) }
        .map_err(|_| "cannot identity-map the kernel")?
        .ignore();
    Ok(())
}
