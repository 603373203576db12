//! Physical memory: the frame pool the runtime builds from the boot memory
//! map, shared by the heap, the page tables and the application.
//!
//! ```no_run
//! let s = unikernel::memory::stats();
//! unikernel::println!("{} of {} KiB free", s.free_bytes / 1024, s.total_bytes / 1024);
//! ```

use core::sync::atomic::{AtomicU64, Ordering};

use mem_core::{
    FrameAllocError, FrameAllocator, FrameFreeError, FramePool, FrameRange, MemoryMap, PhysAddr,
    PhysFrame,
};
pub use mem_core::{MemoryRegion, NormalizeReport, RegionKind};
use spin::{Mutex, Once};

static FRAMES: Mutex<Option<FramePool<'static>>> = Mutex::new(None);
static MEMORY_MAP: Once<MemoryMap> = Once::new();
static BOOT_REPORT: Once<NormalizeReport> = Once::new();
static USABLE_BYTES: AtomicU64 = AtomicU64::new(0);

/// A snapshot of the frame pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Usable RAM reported by firmware, after normalisation, in bytes.
    pub usable_bytes: u64,
    /// Bytes the frame allocator manages (usable RAM minus its own metadata).
    pub total_bytes: u64,
    /// Bytes currently free.
    pub free_bytes: u64,
    /// Bytes of allocator metadata.
    pub metadata_bytes: u64,
}

/// Records the normalised memory map, what normalising the firmware's map
/// changed, and the pool built from it.
pub(crate) fn install(pool: FramePool<'static>, map: MemoryMap, report: NormalizeReport) {
    USABLE_BYTES.store(map.usable_bytes(), Ordering::Relaxed);
    MEMORY_MAP.call_once(|| map);
    BOOT_REPORT.call_once(|| report);
    *FRAMES.lock() = Some(pool);
}

/// The normalised boot memory map: every region firmware described, after
/// the runtime reserved its own image, page tables and boot data. Empty
/// before the runtime has read it.
pub fn regions() -> impl Iterator<Item = MemoryRegion> {
    MEMORY_MAP
        .get()
        .into_iter()
        .flat_map(|m| m.regions().copied())
}

/// What the runtime changed when it normalised the firmware's memory map
/// (dropped entries, trimmed partial frames, reserved overlaps), as logged at
/// boot.
pub fn normalize_report() -> Option<NormalizeReport> {
    BOOT_REPORT.get().copied()
}

/// Whether `[start, end)` overlaps usable RAM.
pub(crate) fn overlaps_usable(start: PhysAddr, end: PhysAddr) -> bool {
    MEMORY_MAP.get().is_some_and(|m| {
        m.usable()
            .any(|r| r.start_address() < end && start < r.end.start_address())
    })
}

/// Runs `f` with the frame pool locked.
///
/// # Panics
/// If called before the runtime has built the pool (it always has by the time
/// `main` runs).
pub(crate) fn with_frames<R>(f: impl FnOnce(&mut FramePool<'static>) -> R) -> R {
    crate::arch::without_interrupts(|| {
        let mut guard = FRAMES.lock();
        let pool = guard
            .as_mut()
            .expect("frame pool used before the runtime built it");
        f(pool)
    })
}

/// Statistics of the frame pool.
pub fn stats() -> FrameStats {
    crate::arch::without_interrupts(|| stats_of(FRAMES.lock().as_ref()))
}

fn stats_of(pool: Option<&FramePool<'static>>) -> FrameStats {
    let usable_bytes = USABLE_BYTES.load(Ordering::Relaxed);
    match pool {
        Some(pool) => FrameStats {
            usable_bytes,
            total_bytes: pool.total_frames() as u64 * mem_core::FRAME_SIZE,
            free_bytes: pool.free_frames() as u64 * mem_core::FRAME_SIZE,
            metadata_bytes: pool.metadata_bytes() as u64,
        },
        None => FrameStats {
            usable_bytes,
            ..FrameStats::default()
        },
    }
}

/// Statistics without waiting for the lock (for the failure paths), or
/// `None` if it is held.
pub(crate) fn try_stats() -> Option<FrameStats> {
    let pool = FRAMES.try_lock()?;
    Some(stats_of(Some(pool.as_ref()?)))
}

/// Allocates one 4 KiB physical frame.
pub fn allocate_frame() -> Result<PhysFrame, FrameAllocError> {
    with_frames(|p| p.allocate_frame())
}

/// Returns a frame obtained from [`allocate_frame`].
pub fn deallocate_frame(frame: PhysFrame) -> Result<(), FrameFreeError> {
    with_frames(|p| p.deallocate_frame(frame))
}

/// Allocates `count` physically contiguous frames aligned to `align` frames
/// (a power of two), e.g. for DMA buffers.
pub fn allocate_contiguous(count: usize, align: usize) -> Result<FrameRange, FrameAllocError> {
    with_frames(|p| p.allocate_contiguous(count, align))
}

/// Returns a run obtained from [`allocate_contiguous`].
pub fn deallocate_contiguous(range: FrameRange) -> Result<(), FrameFreeError> {
    with_frames(|p| p.deallocate_contiguous(range))
}
