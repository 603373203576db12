//! `embedded-alloc` 0.7 (LLFF and TLSF) as backends.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, Ordering};

/// rlsf's block granularity (`rlsf::GRANULARITY`, four words).
const GRANULE: usize = 4 * core::mem::size_of::<usize>();

use super::HeapBackend;
use super::counting::Counters;
use crate::heap::{HeapStats, RegionError};

macro_rules! embedded_backend {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        ///
        /// `embedded-alloc` can be initialised once only: a second region is
        /// refused with [`RegionError::Unsupported`]. Locking goes through
        /// `critical-section`, which the final binary must implement.
        pub struct $name {
            heap: $inner,
            claimed: AtomicBool,
            counters: Counters,
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name)).field("stats", &self.stats()).finish()
            }
        }

        impl $name {
            /// A heap with no memory; usable in a `static`.
            #[must_use]
            pub const fn empty() -> Self {
                Self { heap: <$inner>::empty(), claimed: AtomicBool::new(false), counters: Counters::new() }
            }

            /// Gives the heap its only region.
            ///
            /// # Panics
            /// If the region is refused (see [`HeapBackend::add_region`]).
            ///
            /// # Safety
            /// As [`HeapBackend::add_region`].
            pub unsafe fn init(&self, start: *mut u8, size: usize) {
                // SAFETY: forwarded from the caller.
                if let Err(e) = unsafe { self.add_region(start, size) } {
                    panic!("heap init at {start:p} (+{size} bytes) refused: {e}");
                }
            }
        }

        impl HeapBackend for $name {
            unsafe fn add_region(&self, start: *mut u8, size: usize) -> Result<(), RegionError> {
                if start.is_null() {
                    return Err(RegionError::Null);
                }
                (start as usize).checked_add(size).ok_or(RegionError::Overflow)?;
                if size < 64 {
                    return Err(RegionError::TooSmall { size, min: 64 });
                }
                if self.claimed.swap(true, Ordering::AcqRel) {
                    return Err(RegionError::Unsupported);
                }
                // rlsf trims a pool to its granularity, but embedded-alloc's
                // `free()` then walks the untrimmed one and overflows (a
                // panic in debug builds): hand it a pool already trimmed.
                let pad = start.align_offset(GRANULE);
                let usable = size.saturating_sub(pad) & !(GRANULE - 1);
                // SAFETY: the caller hands the region over; `claimed` makes
                // this the only call to `init`; the trimmed pool lies inside it.
                unsafe { self.heap.init(start as usize + pad, usable) };
                self.counters.region_added(size);
                Ok(())
            }

            fn stats(&self) -> HeapStats {
                self.counters.snapshot(self.heap.free())
            }
        }

        // SAFETY: forwards to embedded-alloc, which hands out disjoint,
        // aligned blocks under a critical section.
        unsafe impl GlobalAlloc for $name {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                // SAFETY: forwarded from the caller.
                let p = unsafe { self.heap.alloc(layout) };
                if !p.is_null() {
                    self.counters.allocated(layout.size());
                }
                p
            }

            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                // SAFETY: forwarded from the caller.
                unsafe { self.heap.dealloc(ptr, layout) };
                self.counters.freed(layout.size());
            }

            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                // SAFETY: forwarded from the caller.
                let p = unsafe { self.heap.realloc(ptr, layout, new_size) };
                if !p.is_null() {
                    self.counters.resized(layout.size(), new_size, p != ptr);
                }
                p
            }
        }
    };
}

embedded_backend!(
    /// `embedded-alloc`'s LLFF heap (`linked_list_allocator` inside), with
    /// our counters. Allocation and free are O(free blocks).
    EmbeddedLlffHeap,
    embedded_alloc::LlffHeap
);

embedded_backend!(
    /// `embedded-alloc`'s TLSF heap (`rlsf` inside), with our counters.
    /// Allocation and free are O(1); `stats` walks every block (O(blocks))
    /// because `embedded-alloc` computes its free count that way.
    EmbeddedTlsfHeap,
    embedded_alloc::TlsfHeap
);
