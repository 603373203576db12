//! The heap backends [`global_allocator!`](crate::global_allocator) can
//! declare, all behind one interface, [`HeapBackend`].
//!
//! | backend | type | cargo feature | growth | stats |
//! |---|---|---|---|---|
//! | ours (default) | [`LockedHeap`] | always | any region, merged when adjacent; grow handler | all fields |
//! | `linked_list_allocator` 0.10 | `LinkedListHeap` | `linked_list_allocator` | contiguous only (`extend` above the top) | no largest free block |
//! | `embedded-alloc` 0.7 LLFF | `EmbeddedLlffHeap` | `embedded-alloc` | none after `init` | no largest free block |
//! | `embedded-alloc` 0.7 TLSF | `EmbeddedTlsfHeap` | `embedded-alloc` | none after `init` | no largest free block |
//!
//! The third-party backends are wrapped in a counting layer (a few atomic
//! adds per operation) so that their [`HeapStats`] carry the same counters as
//! ours. `embedded-alloc` locks through `critical-section`: the final binary
//! must provide an implementation (on the host, `critical-section`'s `std`
//! feature; on riscv64, the `riscv` crate's).

use super::{HeapStats, LockedHeap, RegionError};

mod counting;
#[cfg(feature = "embedded-alloc")]
mod embedded;
#[cfg(feature = "linked_list_allocator")]
mod linked_list;

#[cfg(feature = "embedded-alloc")]
pub use embedded::{EmbeddedLlffHeap, EmbeddedTlsfHeap};
#[cfg(feature = "linked_list_allocator")]
pub use linked_list::LinkedListHeap;

/// What every heap backend offers beyond `GlobalAlloc`: taking memory and
/// reporting statistics. Each backend also has an inherent
/// `const fn empty() -> Self` for use in a `static`.
pub trait HeapBackend: core::alloc::GlobalAlloc + Sync {
    /// Hands `[start, start + size)` to the heap: the first call initialises
    /// it, later calls grow it where the backend can (see the module table).
    ///
    /// # Errors
    /// [`RegionError`] if the region is refused; the heap is unchanged.
    ///
    /// # Safety
    /// The memory must be valid for reads and writes, unused by anything
    /// else, and stay so for as long as the heap lives.
    unsafe fn add_region(&self, start: *mut u8, size: usize) -> Result<(), RegionError>;

    /// A snapshot of the statistics.
    fn stats(&self) -> HeapStats;
}

impl HeapBackend for LockedHeap {
    unsafe fn add_region(&self, start: *mut u8, size: usize) -> Result<(), RegionError> {
        // SAFETY: forwarded from the caller.
        unsafe { LockedHeap::add_region(self, start, size) }
    }

    fn stats(&self) -> HeapStats {
        LockedHeap::stats(self)
    }
}
