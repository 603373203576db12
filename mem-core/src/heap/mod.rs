//! Heap allocation: our default allocator, its locked `GlobalAlloc` wrapper
//! with growth on demand, and statistics.
//!
//! - [`Heap`]: the unsynchronised core (segregated fits in front of a TLSF
//!   index, boundary tags, immediate coalescing; O(1) allocate and free).
//! - [`LockedHeap`]: [`Heap`] behind a spin lock, implementing
//!   [`GlobalAlloc`](core::alloc::GlobalAlloc), with a
//!   [grow handler](LockedHeap::set_grow_handler) called on failure.
//! - [`HeapStats`]: bytes in use, peak, free, arena size, live and total
//!   allocations, growth events, largest free block and fragmentation.

mod bins;
mod cache;
mod chunk;
mod error;
mod locked;
mod prefetch;
mod region;
mod stats;
mod tlsf;

pub use error::{CorruptionError, RegionError};
pub use locked::{GrowHandler, HeapGuard, LockedHeap};
pub use stats::HeapStats;
pub use tlsf::Heap;

#[cfg(test)]
mod tests;

pub mod backends;
mod macros;

pub use backends::HeapBackend;

/// Gives `heap` a region that lives for ever. Safe because a `'static mut`
/// slice can never be used by anything else again. This is what the `init`
/// function made by [`global_allocator!`](crate::global_allocator) calls.
///
/// # Panics
/// If the backend refuses the region (too small, or a backend that takes one
/// region only and already has it): a bug in the caller's setup.
pub fn init_from_static<B: HeapBackend + ?Sized>(
    heap: &B,
    region: &'static mut [core::mem::MaybeUninit<u8>],
) {
    let (start, size) = (region.as_mut_ptr().cast::<u8>(), region.len());
    // SAFETY: the slice is exclusively ours for the rest of the program.
    if let Err(e) = unsafe { heap.add_region(start, size) } {
        panic!("heap region at {start:p} (+{size} bytes) refused: {e}");
    }
}
