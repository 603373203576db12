//! The kernel heap behind `alloc` (`Box`, `Vec`, `String`, `BTreeMap`, `Rc`,
//! `Arc`, ...).
//!
//! The runtime maps the initial heap (`heap_size`, default 1 MiB) before
//! `main` runs. When an allocation does not fit, the heap grows on demand:
//! the runtime maps more frames right after the current end (at least
//! doubling the heap, or exactly what is needed when frames are short) up to
//! `heap_limit` (default: half of usable RAM), then retries. An allocation
//! that still cannot be served ends the run with an out-of-memory report.
//!
//! ```no_run
//! let s = unikernel::heap::stats();
//! unikernel::println!(
//!     "{} of {} bytes in use, {} growth events",
//!     s.bytes_in_use, s.total_bytes, s.growth_events
//! );
//! ```

pub use mem_core::heap::HeapStats;

/// Current heap statistics (all zero on hosted targets, where the runtime
/// does not own the heap).
pub fn stats() -> HeapStats {
    #[cfg(target_os = "none")]
    {
        crate::arch::without_interrupts(|| imp::HEAP.stats())
    }
    #[cfg(not(target_os = "none"))]
    {
        HeapStats::default()
    }
}

/// The most the heap may grow to, in bytes (0 before the runtime set it up).
pub fn limit() -> u64 {
    #[cfg(target_os = "none")]
    {
        imp::LIMIT.load(core::sync::atomic::Ordering::Relaxed)
    }
    #[cfg(not(target_os = "none"))]
    {
        0
    }
}

#[cfg(target_os = "none")]
pub(crate) use imp::{init, report_out_of_memory};

#[cfg(target_os = "none")]
mod imp {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ptr::NonNull;
    use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use mem_core::heap::{Heap, LockedHeap};
    use mem_core::paging::PageFlags;

    pub(super) static HEAP: LockedHeap = LockedHeap::empty();
    static START: AtomicU64 = AtomicU64::new(0);
    static END: AtomicU64 = AtomicU64::new(0);
    pub(super) static LIMIT: AtomicU64 = AtomicU64::new(0);
    /// The last layout the heap could not serve (size, align), for the
    /// out-of-memory report.
    static FAILED_SIZE: AtomicUsize = AtomicUsize::new(0);
    static FAILED_ALIGN: AtomicUsize = AtomicUsize::new(0);

    /// The global allocator: the default heap, recording failures.
    struct RuntimeHeap;

    // SAFETY: every method forwards to `LockedHeap`, a correct allocator;
    // recording a failure does not touch the returned memory.
    unsafe impl GlobalAlloc for RuntimeHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded under the caller's `GlobalAlloc` contract.
            let p = unsafe { HEAP.alloc(layout) };
            if p.is_null() {
                record_failure(layout);
            }
            p
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: forwarded under the caller's `GlobalAlloc` contract.
            unsafe { HEAP.dealloc(ptr, layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: forwarded under the caller's `GlobalAlloc` contract.
            let p = unsafe { HEAP.alloc_zeroed(layout) };
            if p.is_null() {
                record_failure(layout);
            }
            p
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: forwarded under the caller's `GlobalAlloc` contract.
            let p = unsafe { HEAP.realloc(ptr, layout, new_size) };
            if p.is_null() {
                record_failure(Layout::from_size_align(new_size, layout.align()).unwrap_or(layout));
            }
            p
        }
    }

    #[global_allocator]
    static GLOBAL: RuntimeHeap = RuntimeHeap;

    fn record_failure(layout: Layout) {
        FAILED_SIZE.store(layout.size(), Ordering::Relaxed);
        FAILED_ALIGN.store(layout.align(), Ordering::Relaxed);
    }

    /// Hands the heap its initial region at `start` and enables growth up to
    /// `limit` bytes in total.
    ///
    /// # Safety
    /// `[start, start + size)` must be mapped writable, unused by anything
    /// else, and the virtual range after it up to `start + limit` must be
    /// reserved for the heap.
    pub(crate) unsafe fn init(start: *mut u8, size: usize, limit: u64) {
        let start = start as u64;
        START.store(start, Ordering::Relaxed);
        END.store(start + size as u64, Ordering::Relaxed);
        LIMIT.store(limit.max(size as u64), Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe {
            HEAP.init(start as *mut u8, size);
            HEAP.set_grow_handler(Some(grow));
        }
    }

    /// Maps more memory right after the heap's end.
    fn grow(layout: Layout) -> Option<(NonNull<u8>, usize)> {
        const PAGE: u64 = mem_core::FRAME_SIZE;
        let needed = (Heap::region_size_for(layout)? as u64).next_multiple_of(PAGE);
        let (start, end, limit) = (
            START.load(Ordering::Relaxed),
            END.load(Ordering::Relaxed),
            LIMIT.load(Ordering::Relaxed),
        );
        let room = (start + limit).saturating_sub(end);
        if needed > room {
            log::warn!(
                "heap: cannot grow by {needed} bytes for a {}-byte allocation: limit {limit} bytes reached",
                layout.size()
            );
            return None;
        }
        // Geometric growth keeps the number of growth events logarithmic;
        // when frames are short, settle for exactly what is needed.
        let preferred = needed.max(end - start).min(room);
        let map = |size| crate::vm::map_fresh(end, size, PageFlags::RW).is_ok();
        let size = if map(preferred) {
            preferred
        } else if needed < preferred && map(needed) {
            needed
        } else {
            return None;
        };
        END.store(end + size, Ordering::Relaxed);
        log::debug!(
            "heap: grew by {} KiB to {} KiB",
            size >> 10,
            (end + size - start) >> 10
        );
        Some((NonNull::new(end as *mut u8)?, size as usize))
    }

    /// Prints the out-of-memory report if the panic is the allocation
    /// failure the heap recorded.
    pub(crate) fn report_out_of_memory(info: &core::panic::PanicInfo<'_>) {
        let size = FAILED_SIZE.load(Ordering::Relaxed);
        if size == 0 || !crate::fmt_search::contains(info.message(), "memory allocation of") {
            return;
        }
        let align = FAILED_ALIGN.load(Ordering::Relaxed);
        let heap = HEAP.try_stats();
        let frames = crate::memory::try_stats();
        crate::console::emergency_print(format_args!(
            "\nout of memory: cannot allocate {size} bytes aligned to {align}\n"
        ));
        if let Some(h) = heap {
            crate::console::emergency_print(format_args!(
                "  heap: {} bytes in use in {} allocations (peak {}), {} free, {} total, \
                 limit {}, {} growth events, largest free block {:?}\n",
                h.bytes_in_use,
                h.allocations,
                h.peak_bytes,
                h.free_bytes,
                h.total_bytes,
                LIMIT.load(Ordering::Relaxed),
                h.growth_events,
                h.largest_free_block,
            ));
        }
        if let Some(f) = frames {
            crate::console::emergency_print(format_args!(
                "  frames: {} KiB free of {} KiB managed\n",
                f.free_bytes >> 10,
                f.total_bytes >> 10
            ));
        }
    }
}
