//! `linked_list_allocator` 0.10 as a backend.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use super::HeapBackend;
use super::counting::Counters;
use crate::heap::{HeapStats, RegionError};

/// `linked_list_allocator`'s first-fit free list behind our spin lock, with
/// our counters.
///
/// Allocation and free are O(free blocks) (a list walk); reallocation is
/// allocate + copy + free. It grows only contiguously: a region added later
/// must start exactly at the current top.
pub struct LinkedListHeap {
    heap: spin::Mutex<linked_list_allocator::Heap>,
    counters: Counters,
}

impl core::fmt::Debug for LinkedListHeap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinkedListHeap")
            .field("stats", &self.stats())
            .finish()
    }
}

impl LinkedListHeap {
    /// A heap with no memory; usable in a `static`.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            heap: spin::Mutex::new(linked_list_allocator::Heap::empty()),
            counters: Counters::new(),
        }
    }

    /// Gives the heap its first region.
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

impl HeapBackend for LinkedListHeap {
    unsafe fn add_region(&self, start: *mut u8, size: usize) -> Result<(), RegionError> {
        if start.is_null() {
            return Err(RegionError::Null);
        }
        (start as usize)
            .checked_add(size)
            .ok_or(RegionError::Overflow)?;
        // linked_list_allocator needs room for one hole descriptor.
        let min = 2 * core::mem::size_of::<usize>() + core::mem::align_of::<usize>();
        if size < min {
            return Err(RegionError::TooSmall { size, min });
        }
        let mut heap = self.heap.lock();
        if heap.size() == 0 {
            // SAFETY: the caller hands the region over.
            unsafe { heap.init(start, size) };
        } else if heap.top() == start {
            // SAFETY: the caller hands over the memory right above the top.
            unsafe { heap.extend(size) };
        } else {
            return Err(RegionError::Unsupported);
        }
        self.counters.region_added(size);
        Ok(())
    }

    fn stats(&self) -> HeapStats {
        let free = self.heap.lock().free();
        self.counters.snapshot(free)
    }
}

// SAFETY: forwards to linked_list_allocator, which hands out disjoint,
// aligned blocks; all access is serialised by the lock.
unsafe impl GlobalAlloc for LinkedListHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.heap.lock().allocate_first_fit(layout) {
            Ok(p) => {
                self.counters.allocated(layout.size());
                p.as_ptr()
            }
            Err(()) => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `GlobalAlloc`'s contract: a live, non-null block of ours.
        unsafe {
            self.heap
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout)
        };
        self.counters.freed(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        let new = match self.heap.lock().allocate_first_fit(new_layout) {
            Ok(p) => p.as_ptr(),
            Err(()) => return ptr::null_mut(),
        };
        // SAFETY: both blocks are live and distinct; the copy fits in both.
        unsafe {
            ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.heap
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout);
        }
        self.counters.resized(layout.size(), new_size, true);
        new
    }
}
