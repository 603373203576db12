//! The kernel's address space: where the runtime places the heap, stacks,
//! device memory and application regions, and the safe API applications use
//! to map more.
//!
//! The same code runs on both arches over [`mem_core::paging::Mapper`]; the
//! arch layer supplies the mapper (x86_64 `OffsetMapper`, riscv64
//! `Sv39Mapper`) and the virtual layout.
//!
//! ```no_run
//! use unikernel::vm;
//! // A fresh, zeroed 64 KiB buffer, unmapped and freed on drop.
//! let mut region = vm::Region::new(64 * 1024)?;
//! region.as_mut_slice()[0] = 42;
//! let t = vm::translate(region.start()).expect("mapped");
//! unikernel::println!("{:?} -> {:?} ({})", region.start(), t.addr, t.flags);
//! # Ok::<(), vm::VmError>(())
//! ```

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use mem_core::paging::{MapError, Mapper, SplitError, UnmapError};
pub use mem_core::paging::{MappedSize, PageFlags, Translation};
use mem_core::{FRAME_SIZE, FrameAllocError, FrameAllocator, Page, PageRange, PhysFrame};
pub use mem_core::{PhysAddr, VirtAddr};
use spin::{Mutex, Once};

use crate::arch::{KernelMapper, layout};

static MAPPER: Mutex<Option<KernelMapper>> = Mutex::new(None);
static NEXT_MMIO: AtomicU64 = AtomicU64::new(layout::MMIO_START);
static NEXT_REGION: AtomicU64 = AtomicU64::new(layout::REGIONS_START);
static NEXT_STACK: AtomicU64 = AtomicU64::new(layout::STACKS_START);

/// Why a mapping request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VmError {
    /// The page tables refused the mapping.
    Map(MapError),
    /// The page tables refused to remove a mapping.
    Unmap(UnmapError),
    /// A huge page could not be split.
    Split(SplitError),
    /// No frames are left to back the mapping.
    OutOfFrames(FrameAllocError),
    /// The physical range overlaps usable RAM: mapping it as a device would
    /// alias memory the runtime hands out.
    NotDeviceMemory {
        /// The requested physical start.
        phys: PhysAddr,
    },
    /// The size is zero or overflows.
    InvalidSize(u64),
    /// The virtual window for this kind of mapping is full.
    WindowExhausted,
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmError::Map(e) => write!(f, "mapping failed: {e}"),
            VmError::Unmap(e) => write!(f, "unmapping failed: {e}"),
            VmError::Split(e) => write!(f, "splitting a huge page failed: {e}"),
            VmError::OutOfFrames(e) => write!(f, "no memory to back the mapping: {e}"),
            VmError::NotDeviceMemory { phys } => {
                write!(f, "{phys:#x} is usable RAM, not device memory")
            }
            VmError::InvalidSize(s) => write!(f, "invalid mapping size {s:#x}"),
            VmError::WindowExhausted => f.write_str("virtual address window exhausted"),
        }
    }
}

impl core::error::Error for VmError {}

impl From<MapError> for VmError {
    fn from(e: MapError) -> Self {
        VmError::Map(e)
    }
}

static PHYS_OFFSET: Once<u64> = Once::new();

/// Hands the kernel mapper to this module. `phys_offset` is where all of RAM
/// is mapped.
pub(crate) fn install(mapper: KernelMapper, phys_offset: u64) {
    PHYS_OFFSET.call_once(|| phys_offset);
    *MAPPER.lock() = Some(mapper);
}

/// Where `phys` is visible in the kernel's direct map of RAM (never
/// executable). Reading or writing through the address is `unsafe`: the frame
/// may belong to someone else.
///
/// # Panics
/// Before the runtime has set up the address space (never in `main`).
pub fn phys_to_virt(phys: PhysAddr) -> VirtAddr {
    VirtAddr::new(PHYS_OFFSET.get().expect("address space not set up") + phys.as_u64())
}

/// Runs `f` with the kernel mapper and the frame pool locked (in that order,
/// everywhere, so the two locks cannot deadlock).
fn with_mapper<R>(f: impl FnOnce(&mut KernelMapper, &mut mem_core::FramePool<'static>) -> R) -> R {
    crate::arch::without_interrupts(|| {
        let mut guard = MAPPER.lock();
        let mapper = guard
            .as_mut()
            .expect("address space used before the runtime built it");
        crate::memory::with_frames(|frames| f(mapper, frames))
    })
}

fn pages(start: u64, size: u64) -> Result<PageRange, VmError> {
    if size == 0 || !start.is_multiple_of(FRAME_SIZE) {
        return Err(VmError::InvalidSize(size));
    }
    PageRange::from_start_len(
        Page::containing_address(VirtAddr::new(start)),
        size.div_ceil(FRAME_SIZE),
    )
    .ok_or(VmError::InvalidSize(size))
}

/// Maps `size` bytes at `start` to fresh zeroed frames with `flags`. On
/// failure nothing stays mapped and every frame is returned.
pub(crate) fn map_fresh(start: u64, size: u64, flags: PageFlags) -> Result<(), VmError> {
    let range = pages(start, size)?;
    with_mapper(|mapper, frames| {
        for page in range {
            let result = frames
                .allocate_frame()
                .map_err(VmError::OutOfFrames)
                .and_then(|frame| {
                    // SAFETY: the page lies in a window only this module hands
                    // out, and the frame was just allocated, so nothing else
                    // refers to either.
                    match unsafe { mapper.map(page, frame, flags, frames) } {
                        Ok(flush) => {
                            flush.flush();
                            Ok(())
                        }
                        Err(e) => {
                            // The frame never became reachable: give it back.
                            let _ = frames.deallocate_frame(frame);
                            Err(VmError::Map(e))
                        }
                    }
                });
            if let Err(e) = result {
                unmap_and_free(
                    mapper,
                    frames,
                    PageRange {
                        start: range.start,
                        end: page,
                    },
                );
                return Err(e);
            }
        }
        Ok(())
    })?;
    if flags.contains(PageFlags::WRITE) {
        // SAFETY: the range was just mapped writable and is not yet visible
        // to anyone else.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, size as usize) };
    }
    Ok(())
}

fn unmap_and_free(
    mapper: &mut KernelMapper,
    frames: &mut mem_core::FramePool<'static>,
    range: PageRange,
) {
    for page in range {
        // SAFETY: these pages were mapped by the caller moments ago and never
        // handed out.
        if let Ok((frame, flush)) = unsafe { mapper.unmap(page, frames) } {
            flush.flush();
            let _ = frames.deallocate_frame(frame);
        }
    }
}

// Only x86_64 has kernel pages to turn into guards and a bootloader stack
// to inspect; riscv64's guards come from its linker script.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// Turns the mapped kernel page at `addr` into a guard page: unmaps it,
/// splitting a huge page around it first. Its frame belongs to the kernel
/// image and is not returned to the pool.
pub(crate) fn unmap_guard_page(addr: u64) -> Result<(), VmError> {
    let page = Page::<mem_core::Size4KiB>::containing_address(VirtAddr::new(addr));
    with_mapper(|mapper, frames| {
        // A 1 GiB page needs two splits to get down to 4 KiB pages.
        let mut splits = 0;
        loop {
            // SAFETY: guard pages hold no data: the caller reserved this page
            // below a stack precisely so that nothing uses it.
            match unsafe { mapper.unmap(page, frames) } {
                Ok((_, flush)) => {
                    flush.flush();
                    return Ok(());
                }
                Err(UnmapError::InsideHugePage { .. }) if splits < 2 => {
                    mapper
                        .split(page.start_address(), frames)
                        .map_err(VmError::Split)?
                        .flush();
                    splits += 1;
                }
                Err(e) => return Err(VmError::Unmap(e)),
            }
        }
    })
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
/// The unmapped page directly below the mapped run of pages containing
/// `addr`, searching at most `limit` bytes down: the guard of the stack that
/// `addr` is on.
pub(crate) fn guard_below(addr: u64, limit: u64) -> Option<u64> {
    let mut page = addr & !(FRAME_SIZE - 1);
    let floor = page.saturating_sub(limit);
    while page >= floor && page >= FRAME_SIZE {
        page -= FRAME_SIZE;
        if translate(VirtAddr::new(page)).is_none() {
            return Some(page);
        }
    }
    None
}

/// Maps a stack of `size` bytes (rounded up to pages) with an unmapped guard
/// page below it, registers the guard for stack-overflow reports, and
/// returns the stack's top.
pub(crate) fn map_stack(size: u64) -> Result<u64, VmError> {
    let size = size.div_ceil(FRAME_SIZE) * FRAME_SIZE;
    let span = size + FRAME_SIZE;
    let guard = NEXT_STACK.fetch_add(span, Ordering::Relaxed);
    if guard + span > layout::STACKS_START + layout::WINDOW_SIZE {
        return Err(VmError::WindowExhausted);
    }
    let bottom = guard + FRAME_SIZE;
    map_fresh(bottom, size, PageFlags::RW)?;
    crate::traps::register_stack_guard(guard, bottom);
    Ok(bottom + size)
}

/// Whether `addr` is mapped, for fault reports: never waits for the lock
/// (the faulting code may hold it) and says `false` when it cannot tell.
// x86_64 page-fault error codes say this themselves.
#[cfg_attr(not(target_arch = "riscv64"), allow(dead_code))]
pub(crate) fn is_mapped(addr: u64) -> bool {
    MAPPER
        .try_lock()
        .and_then(|m| m.as_ref().and_then(|m| m.translate(VirtAddr::new(addr))))
        .is_some()
}

/// The physical address, flags and page size that `addr` maps to.
pub fn translate(addr: VirtAddr) -> Option<Translation> {
    crate::arch::without_interrupts(|| MAPPER.lock().as_ref()?.translate(addr))
}

/// A mapping of device registers (uncached, read-write, never executable).
///
/// Access goes through bounds-checked volatile reads and writes, so using it
/// needs no `unsafe`; a device can still be driven into a bad state, but Rust
/// memory cannot be corrupted, because [`map_mmio`] refuses usable RAM.
#[derive(Debug)]
pub struct Mmio {
    base: VirtAddr,
    phys: PhysAddr,
    len: u64,
}

/// Maps `len` bytes of device memory at `phys` (e.g. a UART or a virtio
/// device) into the runtime's MMIO window.
///
/// # Errors
/// [`VmError::NotDeviceMemory`] if the range overlaps usable RAM,
/// [`VmError::InvalidSize`], [`VmError::WindowExhausted`], [`VmError::Map`].
pub fn map_mmio(phys: PhysAddr, len: u64) -> Result<Mmio, VmError> {
    let end = phys
        .checked_add(len)
        .filter(|_| len > 0)
        .ok_or(VmError::InvalidSize(len))?;
    if crate::memory::overlaps_usable(phys, end) {
        return Err(VmError::NotDeviceMemory { phys });
    }
    let first = phys.align_down(FRAME_SIZE);
    let span = end.align_up(FRAME_SIZE) - first;
    let base = NEXT_MMIO.fetch_add(span, Ordering::Relaxed);
    if base + span > layout::MMIO_START + layout::WINDOW_SIZE {
        return Err(VmError::WindowExhausted);
    }
    let range = pages(base, span)?;
    let frame = PhysFrame::containing_address(first);
    with_mapper(|mapper, frames| {
        // SAFETY: the frames are device memory (checked against usable RAM
        // above), mapped into a window no other code uses.
        let flush = unsafe {
            mapper.map_range(
                range,
                frame,
                PageFlags::MMIO,
                mem_core::paging::PageSizes::Only4KiB,
                frames,
            )
        }?;
        flush.flush();
        Ok::<_, VmError>(())
    })?;
    Ok(Mmio {
        base: VirtAddr::new(base + (phys - first)),
        phys,
        len,
    })
}

impl Mmio {
    /// Virtual address of the first mapped byte.
    pub fn start(&self) -> VirtAddr {
        self.base
    }

    /// Physical address the mapping starts at.
    pub fn phys(&self) -> PhysAddr {
        self.phys
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the mapping is empty (never: [`map_mmio`] rejects that).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn reg<T>(&self, offset: u64) -> *mut T {
        let size = core::mem::size_of::<T>() as u64;
        assert!(
            offset.is_multiple_of(size) && offset.checked_add(size).is_some_and(|e| e <= self.len),
            "MMIO access at {offset:#x} outside the {:#x}-byte mapping or misaligned",
            self.len
        );
        (self.base.as_u64() + offset) as *mut T
    }

    /// Reads a 32-bit register.
    ///
    /// # Panics
    /// If `offset` is misaligned or outside the mapping.
    pub fn read_u32(&self, offset: u64) -> u32 {
        // SAFETY: `reg` checked the bounds; the page is mapped uncached for
        // as long as `self` lives.
        unsafe { self.reg::<u32>(offset).read_volatile() }
    }

    /// Writes a 32-bit register.
    ///
    /// # Panics
    /// If `offset` is misaligned or outside the mapping.
    pub fn write_u32(&self, offset: u64, value: u32) {
        // SAFETY: as in `read_u32`.
        unsafe { self.reg::<u32>(offset).write_volatile(value) }
    }

    /// Reads an 8-bit register.
    ///
    /// # Panics
    /// If `offset` is outside the mapping.
    pub fn read_u8(&self, offset: u64) -> u8 {
        // SAFETY: as in `read_u32`.
        unsafe { self.reg::<u8>(offset).read_volatile() }
    }

    /// Writes an 8-bit register.
    ///
    /// # Panics
    /// If `offset` is outside the mapping.
    pub fn write_u8(&self, offset: u64, value: u8) {
        // SAFETY: as in `read_u32`.
        unsafe { self.reg::<u8>(offset).write_volatile(value) }
    }
}

/// Fresh, zeroed, read-write memory mapped in the runtime's region window,
/// owned by this value: unmapped and its frames freed when it is dropped.
#[derive(Debug)]
pub struct Region {
    start: VirtAddr,
    len: u64,
}

impl Region {
    /// Maps `len` bytes (rounded up to whole pages) of fresh memory.
    ///
    /// # Errors
    /// [`VmError::OutOfFrames`], [`VmError::InvalidSize`],
    /// [`VmError::WindowExhausted`].
    pub fn new(len: u64) -> Result<Self, VmError> {
        let len = len
            .checked_next_multiple_of(FRAME_SIZE)
            .filter(|&l| l > 0)
            .ok_or(VmError::InvalidSize(len))?;
        // Leave an unmapped page between regions so overruns fault.
        let start = NEXT_REGION.fetch_add(len + FRAME_SIZE, Ordering::Relaxed);
        if start + len > layout::REGIONS_START + layout::WINDOW_SIZE {
            return Err(VmError::WindowExhausted);
        }
        map_fresh(start, len, PageFlags::RW)?;
        Ok(Region {
            start: VirtAddr::new(start),
            len,
        })
    }

    /// First byte.
    pub fn start(&self) -> VirtAddr {
        self.start
    }

    /// Length in bytes (a multiple of 4 KiB).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the region is empty (never).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory as bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: mapped readable for `len` bytes while `self` lives, and only
        // reachable through `self`.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len as usize) }
    }

    /// The memory as mutable bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.start.as_mut_ptr(), self.len as usize) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if let Ok(range) = pages(self.start.as_u64(), self.len) {
            with_mapper(|mapper, frames| unmap_and_free(mapper, frames, range));
        }
    }
}
