//! The kernel heap behind `alloc` (`Box`, `Vec`, `String`, `BTreeMap`, `Rc`,
//! `Arc`, ...).
//!
//! The runtime maps the initial heap (`heap_size`, default 1 MiB) before
//! `main` runs.
//!
//! ```no_run
//! let s = unikernel::heap::stats();
//! unikernel::println!("{} of {} bytes in use", s.bytes_in_use, s.total_bytes);
//! ```

pub use mem_core::heap::HeapStats;

#[cfg(target_os = "none")]
#[global_allocator]
static HEAP: mem_core::heap::LockedHeap = mem_core::heap::LockedHeap::empty();

/// Hands the heap its initial region.
///
/// # Safety
/// `[start, start + size)` must be mapped writable, unused by anything else,
/// and stay so forever.
#[cfg(target_os = "none")]
pub(crate) unsafe fn init(start: *mut u8, size: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.init(start, size) };
}

/// Current heap statistics (all zero on hosted targets, where the runtime
/// does not own the heap).
pub fn stats() -> HeapStats {
    #[cfg(target_os = "none")]
    {
        crate::arch::without_interrupts(|| HEAP.stats())
    }
    #[cfg(not(target_os = "none"))]
    {
        HeapStats::default()
    }
}
