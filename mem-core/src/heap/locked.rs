//! [`LockedHeap`]: the default allocator behind a spin lock, as a
//! `GlobalAlloc`, with growth on demand.

use core::alloc::{GlobalAlloc, Layout};
use core::ops::{Deref, DerefMut};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};

use super::error::RegionError;
use super::stats::HeapStats;
use super::tlsf::Heap;

/// Called when an allocation fails, to get more memory: it receives the
/// failing layout and returns a region (start, size) to add, or `None` to let
/// the allocation fail. See [`LockedHeap::set_grow_handler`].
pub type GrowHandler = fn(Layout) -> Option<(NonNull<u8>, usize)>;

struct State {
    heap: Heap,
    grow: Option<GrowHandler>,
}

/// The default heap behind a spin lock: a `#[global_allocator]`.
///
/// Every operation takes the lock once, for the O(1) time of the matching
/// [`Heap`] operation (see its table); a reallocation that moves copies under
/// the lock.
///
/// # Growth
/// When an allocation fails and a [grow handler](Self::set_grow_handler) is
/// set, the lock is **released**, the handler is called with the failing
/// layout, the region it returns is added (merging with a region it touches),
/// and the allocation is retried, until it succeeds or the handler returns
/// `None`. Because the lock is not held, the handler may log, take other
/// locks, or even allocate. One growth runs at a time: an allocation that
/// fails while another growth is in progress (including one made by the
/// handler itself) fails instead of growing again, so a handler that
/// allocates cannot recurse.
///
/// ```
/// use core::alloc::{GlobalAlloc, Layout};
/// use mem_core::heap::LockedHeap;
///
/// static HEAP: LockedHeap = LockedHeap::empty();
/// let arena: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
/// // SAFETY: the leaked buffer is ours for the rest of the program.
/// unsafe { HEAP.init(arena.as_mut_ptr(), arena.len()) };
/// let layout = Layout::from_size_align(100, 8).unwrap();
/// // SAFETY: the layout has a non-zero size; the block is freed with it.
/// unsafe {
///     let p = HEAP.alloc(layout);
///     assert!(!p.is_null());
///     assert_eq!(HEAP.stats().bytes_in_use, 100);
///     HEAP.dealloc(p, layout);
/// }
/// assert_eq!(HEAP.stats().bytes_in_use, 0);
/// ```
pub struct LockedHeap {
    state: spin::Mutex<State>,
    growing: AtomicBool,
}

impl core::fmt::Debug for LockedHeap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.try_stats() {
            Some(stats) => f.debug_struct("LockedHeap").field("stats", &stats).finish(),
            None => f.write_str("LockedHeap { <locked> }"),
        }
    }
}

impl Default for LockedHeap {
    fn default() -> Self {
        Self::empty()
    }
}

impl LockedHeap {
    /// A heap with no memory and no grow handler; usable in a `static`.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            state: spin::Mutex::new(State {
                heap: Heap::empty(),
                grow: None,
            }),
            growing: AtomicBool::new(false),
        }
    }

    /// A heap over `[start, start + size)`.
    ///
    /// # Errors
    /// As [`Heap::add_region`].
    ///
    /// # Safety
    /// As [`Heap::add_region`].
    pub unsafe fn new(start: *mut u8, size: usize) -> Result<Self, RegionError> {
        let heap = Self::empty();
        // SAFETY: forwarded from the caller.
        unsafe { heap.add_region(start, size)? };
        Ok(heap)
    }

    /// Gives the heap its first region (or any further one).
    ///
    /// # Panics
    /// If the region is refused (null, wrapping, overlapping, or smaller than
    /// about 100 bytes): that is a bug in the caller's memory layout. Use
    /// [`add_region`](Self::add_region) to handle it instead.
    ///
    /// # Safety
    /// As [`Heap::add_region`].
    pub unsafe fn init(&self, start: *mut u8, size: usize) {
        // SAFETY: forwarded from the caller.
        if let Err(e) = unsafe { self.add_region(start, size) } {
            panic!("heap init at {start:p} (+{size} bytes) refused: {e}");
        }
    }

    /// Adds a region, merging it with a region it touches. O(regions).
    ///
    /// # Errors
    /// As [`Heap::add_region`].
    ///
    /// # Safety
    /// As [`Heap::add_region`].
    pub unsafe fn add_region(&self, start: *mut u8, size: usize) -> Result<(), RegionError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.state.lock().heap.add_region(start, size) }
    }

    /// Grows the highest region by `additional` bytes directly above it.
    ///
    /// # Errors
    /// As [`Heap::extend`].
    ///
    /// # Safety
    /// As [`Heap::extend`].
    pub unsafe fn extend(&self, additional: usize) -> Result<(), RegionError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.state.lock().heap.extend(additional) }
    }

    /// Sets (or with `None`, removes) the function called to get more memory
    /// when an allocation fails. See the type's docs for the locking rules;
    /// [`Heap::region_size_for`] tells how much to return at least.
    ///
    /// # Safety
    /// Every region the handler returns must satisfy the contract of
    /// [`Heap::add_region`].
    pub unsafe fn set_grow_handler(&self, handler: Option<GrowHandler>) {
        self.state.lock().grow = handler;
    }

    /// A snapshot of the statistics, after returning the front cache's small
    /// blocks to the core so that the largest free block and fragmentation
    /// describe coalesced memory. Holds the lock for that flush (at most a
    /// few hundred blocks), a copy of the counters and one walk of the
    /// largest size class's list.
    #[must_use]
    pub fn stats(&self) -> HeapStats {
        let mut state = self.state.lock();
        state.heap.flush_cache();
        state.heap.stats()
    }

    /// Like [`stats`](Self::stats), but `None` instead of waiting if the lock
    /// is held (for out-of-memory and panic reports, which may run while the
    /// heap is locked).
    #[must_use]
    pub fn try_stats(&self) -> Option<HeapStats> {
        self.state.try_lock().map(|mut s| {
            s.heap.flush_cache();
            s.heap.stats()
        })
    }

    /// Locks the heap for direct use of [`Heap`]'s API.
    pub fn lock(&self) -> HeapGuard<'_> {
        HeapGuard(self.state.lock())
    }

    /// Runs `op` under the lock; on failure, grows through the handler (lock
    /// released) and retries.
    #[inline(always)]
    fn with_growth(
        &self,
        layout: Layout,
        mut op: impl FnMut(&mut Heap) -> Option<NonNull<u8>>,
    ) -> *mut u8 {
        let grow = {
            let mut state = self.state.lock();
            if let Some(p) = op(&mut state.heap) {
                return p.as_ptr();
            }
            state.grow
        };
        match grow {
            Some(handler) => self.grow_and_retry(layout, handler, op),
            None => ptr::null_mut(),
        }
    }

    #[cold]
    fn grow_and_retry(
        &self,
        layout: Layout,
        handler: GrowHandler,
        mut op: impl FnMut(&mut Heap) -> Option<NonNull<u8>>,
    ) -> *mut u8 {
        if self.growing.swap(true, Ordering::Acquire) {
            return ptr::null_mut();
        }
        let result = loop {
            let Some((start, size)) = handler(layout) else {
                break ptr::null_mut();
            };
            let mut state = self.state.lock();
            // SAFETY: `set_grow_handler`'s caller vouched for every region
            // the handler returns.
            if unsafe { state.heap.add_region(start.as_ptr(), size) }.is_err() {
                break ptr::null_mut();
            }
            if let Some(p) = op(&mut state.heap) {
                break p.as_ptr();
            }
        };
        self.growing.store(false, Ordering::Release);
        result
    }
}

/// The lock on a [`LockedHeap`], from [`LockedHeap::lock`]; dereferences to
/// the [`Heap`]. Unlocks when dropped.
#[must_use = "the heap unlocks as soon as the guard is dropped"]
pub struct HeapGuard<'a>(spin::MutexGuard<'a, State>);

impl core::fmt::Debug for HeapGuard<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.heap.fmt(f)
    }
}

impl Deref for HeapGuard<'_> {
    type Target = Heap;

    fn deref(&self) -> &Heap {
        &self.0.heap
    }
}

impl DerefMut for HeapGuard<'_> {
    fn deref_mut(&mut self) -> &mut Heap {
        &mut self.0.heap
    }
}

// SAFETY: `Heap` hands out disjoint blocks of memory it owns, aligned as the
// layout asks; all access is serialised by the lock.
unsafe impl GlobalAlloc for LockedHeap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.with_growth(layout, move |heap| heap.allocate(layout))
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `GlobalAlloc` requires `ptr` to be a live block from this
        // allocator with this layout, so it is non-null.
        unsafe {
            self.state
                .lock()
                .heap
                .deallocate(NonNull::new_unchecked(ptr), layout)
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: `GlobalAlloc` requires `ptr` to be a live block from this
        // allocator with `layout`; a failed attempt leaves it untouched, so
        // retrying after growth is sound.
        self.with_growth(new_layout, move |heap| unsafe {
            heap.reallocate_inlined(NonNull::new_unchecked(ptr), layout, new_size)
        })
    }
}
