//! The default allocator core: segregated fits over a TLSF index, boundary
//! tags, immediate coalescing. Unsynchronised; [`LockedHeap`](super::LockedHeap)
//! wraps it for `GlobalAlloc`.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::{self, NonNull};

use super::bins::{self, Bin, Bins};
use super::cache::{Cache, Pushed};
use super::chunk::{self, GRANULE, MIN_CHUNK, WORD};
use super::error::{CorruptionError, RegionError};
use super::prefetch::prefetch;
use super::region::{self, MIN_FRESH_REGION, PROLOGUE};
use super::stats::HeapStats;

/// A heap over one or more memory regions, with no heap of its own.
///
/// Blocks carry a one-word header; payloads are 16-byte aligned. Free blocks
/// sit in one of 3,520 free lists: one per exact size below 1 KiB
/// (segregated fits), then 64 per power of two (TLSF). A two-level bitmap
/// finds the first non-empty list that fits in O(1). Frees merge with free
/// neighbours at once, so free memory never splinters into adjacent pieces.
/// In front of that, a bounded cache of recently freed small blocks (up to
/// 256 bytes, and up to 1 KiB while less than a quarter of the heap is in
/// use; 16 per size) serves same-size reuse without touching neighbours; it
/// is flushed into the core before any allocation fails, and by
/// [`flush_cache`](Self::flush_cache).
///
/// | operation | cost |
/// |---|---|
/// | [`allocate`](Self::allocate) | O(1) (it looks at one block of the request's size class), except when the only fitting blocks share that class: then a walk of that one list; a failure first flushes the cache (O(cached blocks), at most 1,008) |
/// | [`deallocate`](Self::deallocate) | O(1) |
/// | [`reallocate`](Self::reallocate) | O(1) in place (shrink, or grow into a free neighbour), else allocate + copy + free, else (no free block fits) a slide into the free block below (copy); a shrink moves (copy) into a free block at a lower address if the first fitting one is there: to half or less once more than half of the heap is in use, to a quarter or less once more than a quarter is |
/// | [`flush_cache`](Self::flush_cache) | O(cached blocks), at most 1,008 |
/// | [`check`](Self::check) | O(blocks) |
/// | [`add_region`](Self::add_region) / [`extend`](Self::extend) | O(regions) |
/// | [`stats`](Self::stats) | O(length of the largest size class's list) |
#[derive(Debug)]
pub struct Heap {
    counters: Counters,
    bins: Bins,
    cache: Cache,
    /// A block freed to the core whose free is not finished: its chunk
    /// header (still marked used) or null, and the chunk size its layout
    /// implies, counted as free (the chunk may be larger by less than
    /// [`MIN_CHUNK`], a remainder too small to split off; settling counts
    /// the difference). See [`release`](Self::release).
    pending: *mut u8,
    pending_size: usize,
    regions: *mut u8,
    regions_added: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    in_use: usize,
    peak: usize,
    free: usize,
    arena: usize,
    live: usize,
    total: u64,
    growth: u64,
}

// SAFETY: the heap owns the memory its raw pointers point into (callers of
// `add_region` hand it over for good); nothing in it is tied to a thread.
unsafe impl Send for Heap {}

impl Default for Heap {
    fn default() -> Self {
        Self::empty()
    }
}

impl core::fmt::Debug for Bins {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Bins { .. }")
    }
}

impl Heap {
    /// A heap with no memory: every allocation fails until a region is added.
    ///
    /// A `Heap` is about 30 KiB, nearly all of it list heads: keep it in a
    /// `static` (as [`LockedHeap`](super::LockedHeap) and
    /// [`global_allocator!`](crate::global_allocator) do), not on a small
    /// kernel stack.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            bins: Bins::new(),
            cache: Cache::new(),
            pending: ptr::null_mut(),
            pending_size: 0,
            regions: region::EMPTY,
            regions_added: 0,
            counters: Counters {
                in_use: 0,
                peak: 0,
                free: 0,
                arena: 0,
                live: 0,
                total: 0,
                growth: 0,
            },
        }
    }

    /// The region size that is always enough for `layout` to succeed when
    /// added as a fresh, unmerged region, or `None` if no region can serve it.
    /// A grow handler should return at least this much. O(1).
    #[must_use]
    pub const fn region_size_for(layout: Layout) -> Option<usize> {
        let Some(need) = chunk::chunk_size_for(layout.size()) else {
            return None;
        };
        let slack = if layout.align() > GRANULE {
            layout.align() + MIN_CHUNK
        } else {
            0
        };
        let Some(n) = need.checked_add(slack) else {
            return None;
        };
        n.checked_add(MIN_FRESH_REGION)
    }

    /// Hands `[start, start + size)` to the heap. If it touches a region the
    /// heap already manages (either end), the two merge, so a block may span
    /// both. O(number of regions).
    ///
    /// # Errors
    /// [`RegionError`] if the region is null, wraps, overlaps a managed
    /// region, or is too small; the heap is then unchanged.
    ///
    /// # Safety
    /// The memory must be valid for reads and writes, not used by anything
    /// else, and stay so for as long as this heap (or any allocation from it)
    /// lives. A pointer into a merged region is derived from the lower
    /// region's pointer, so adjacent regions must come from one provenance
    /// (on real hardware: any memory; under Miri: one allocation).
    pub unsafe fn add_region(&mut self, start: *mut u8, size: usize) -> Result<(), RegionError> {
        self.settle_pending();
        if start.is_null() {
            return Err(RegionError::Null);
        }
        let s = start as usize;
        let e = s.checked_add(size).ok_or(RegionError::Overflow)?;
        // SAFETY: the list holds live prologues only.
        if region::Iter(self.regions).any(|n| unsafe { s < region::end(n) && region::start(n) < e })
        {
            return Err(RegionError::Overlaps);
        }
        // SAFETY: the list holds live prologues only.
        let below = region::Iter(self.regions).find(|&n| unsafe { region::end(n) } == s);
        let node = match below {
            // SAFETY: `n` is live and the caller hands us [s, e).
            Some(n) => unsafe { self.append(n, e, size)? },
            // SAFETY: the caller hands us [s, e).
            None => unsafe { self.fresh(start, e, size)? },
        };
        self.counters.arena += size;
        if self.regions_added > 0 {
            self.counters.growth += 1;
        }
        self.regions_added += 1;
        // SAFETY: `node` is live; list entries are live prologues.
        unsafe {
            let top = region::end(node);
            let above = region::Iter(self.regions).find(|&n| region::start(n) == top);
            if let Some(above) = above {
                self.join(node, above);
            }
        }
        Ok(())
    }

    /// Grows the region with the highest end address by `additional` bytes
    /// directly above it. O(number of regions).
    ///
    /// # Errors
    /// As [`add_region`](Self::add_region); [`RegionError::Unsupported`] if
    /// the heap has no region yet.
    ///
    /// # Safety
    /// As [`add_region`](Self::add_region), for the `additional` bytes above
    /// the current top.
    pub unsafe fn extend(&mut self, additional: usize) -> Result<(), RegionError> {
        self.settle_pending();
        // SAFETY: list entries are live prologues.
        let top = region::Iter(self.regions)
            .map(|n| unsafe { region::end(n) })
            .max();
        let Some(top) = top else {
            return Err(RegionError::Unsupported);
        };
        let node = region::Iter(self.regions).find(|&n| unsafe {
            // SAFETY: as above.
            region::end(n) == top
        });
        let node = node.ok_or(RegionError::Unsupported)?;
        // Derive the pointer from the region's own so it keeps its provenance.
        // SAFETY: `node` is live.
        let start = node.wrapping_add(top - node as usize);
        // SAFETY: forwarded from the caller.
        unsafe { self.add_region(start, additional) }
    }

    /// Lays out a region that touches no other: prologue, one free chunk,
    /// epilogue.
    unsafe fn fresh(
        &mut self,
        start: *mut u8,
        e: usize,
        size: usize,
    ) -> Result<*mut u8, RegionError> {
        let s = start as usize;
        let too_small = RegionError::TooSmall {
            size,
            min: MIN_FRESH_REGION,
        };
        let p = region::prologue_addr(s);
        let first = p + PROLOGUE;
        if e < first + MIN_CHUNK + WORD {
            return Err(too_small);
        }
        let epi = region::epilogue_addr(e);
        if epi < first + MIN_CHUNK {
            return Err(too_small);
        }
        let node = start.wrapping_add(p - s);
        let c = start.wrapping_add(first - s);
        let epi_ptr = start.wrapping_add(epi - s);
        // SAFETY: all three addresses lie in [s, e), which the caller hands us.
        unsafe {
            chunk::set_header(node, chunk::used_header(PROLOGUE, false));
            region::set_start(node, s);
            region::set_end(node, e);
            region::set_next(node, self.regions);
            chunk::set_header(epi_ptr, chunk::used_header(0, false));
            chunk::set_header(c, chunk::used_header(epi - first, false));
            self.free_chunk(c);
        }
        self.regions = node;
        Ok(node)
    }

    /// Extends region `node` (which ends at `s`) up to `e`.
    unsafe fn append(
        &mut self,
        node: *mut u8,
        e: usize,
        size: usize,
    ) -> Result<*mut u8, RegionError> {
        // SAFETY: `node` is live.
        let old_end = unsafe { region::end(node) };
        let old_epi = region::epilogue_addr(old_end);
        let new_epi = region::epilogue_addr(e);
        if new_epi < old_epi + MIN_CHUNK {
            return Err(RegionError::TooSmall {
                size,
                min: MIN_CHUNK + GRANULE,
            });
        }
        let n = node as usize;
        let c = node.wrapping_add(old_epi - n);
        let epi_ptr = node.wrapping_add(new_epi - n);
        // SAFETY: the old epilogue is ours, the new one lies in the caller's
        // region; the chunk between them is the caller's memory plus the
        // old epilogue word.
        unsafe {
            let prev_free = chunk::prev_is_free(chunk::header(c));
            chunk::set_header(epi_ptr, chunk::used_header(0, false));
            chunk::set_header(c, chunk::used_header(new_epi - old_epi, prev_free));
            region::set_end(node, e);
            self.free_chunk(c);
        }
        Ok(node)
    }

    /// Merges region `above`, which starts where `node` ends, into `node`.
    unsafe fn join(&mut self, node: *mut u8, above: *mut u8) {
        // SAFETY: both nodes are live; the chunk made spans `node`'s epilogue,
        // the gap up to `above`'s prologue, and that prologue.
        unsafe {
            let n = node as usize;
            let epi = region::epilogue_addr(region::end(node));
            let first_above = above as usize + PROLOGUE;
            let c = node.wrapping_add(epi - n);
            let prev_free = chunk::prev_is_free(chunk::header(c));
            chunk::set_header(c, chunk::used_header(first_above - epi, prev_free));
            region::set_end(node, region::end(above));
            self.unlink_region(above);
            self.free_chunk(c);
        }
    }

    /// # Safety
    /// `target` is in the region list.
    unsafe fn unlink_region(&mut self, target: *mut u8) {
        // SAFETY: list entries are live prologues.
        unsafe {
            if self.regions == target {
                self.regions = region::next(target);
                return;
            }
            let mut n = self.regions;
            while !n.is_null() {
                let next = region::next(n);
                if next == target {
                    region::set_next(n, region::next(target));
                    return;
                }
                n = next;
            }
        }
    }

    /// Allocates a block for `layout`, or `None` if no free block fits.
    /// Never panics, whatever the layout. O(1) (see the type's table).
    #[inline]
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let p = self.allocate_chunk(layout)?;
        self.count_alloc(layout.size());
        Some(p)
    }

    #[inline(always)]
    fn count_alloc(&mut self, size: usize) {
        let c = &mut self.counters;
        c.in_use += size;
        if c.in_use > c.peak {
            c.peak = c.in_use;
        }
        c.live += 1;
        c.total += 1;
    }

    #[inline(always)]
    fn allocate_chunk(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let need = chunk::chunk_size_for(layout.size())?;
        if layout.align() <= GRANULE
            && let Some((c, counted)) = self.cache.pop(need)
        {
            self.counters.free -= counted;
            // SAFETY: a cached chunk is a used chunk of at least `need`
            // bytes; its payload is granule-aligned.
            return Some(unsafe { NonNull::new_unchecked(c.add(WORD)) });
        }
        self.allocate_uncached(layout, need)
    }

    /// [`allocate_chunk`](Self::allocate_chunk) past the front cache's
    /// common case. Out of line so that a cache hit, the most frequent
    /// allocation, does not pay for the registers the core needs.
    #[inline(never)]
    fn allocate_uncached(&mut self, layout: Layout, need: usize) -> Option<NonNull<u8>> {
        if layout.align() > GRANULE {
            return self.allocate_over_aligned(layout, need);
        }
        self.allocate_from_core(layout, need)
            .or_else(|| self.flush_and_retry(layout, need))
    }

    /// [`allocate_uncached`](Self::allocate_uncached) for an alignment
    /// above the granule (one request in sixteen in talc's traces). Out of
    /// line: the front cache's scan for an aligned chunk and the core's
    /// split at an aligned address need registers that the common path
    /// would otherwise save and restore on every call (kept apart, it saves
    /// three instead of six: 4 fewer instructions per action on the 30 kB
    /// trace).
    #[inline(never)]
    fn allocate_over_aligned(&mut self, layout: Layout, need: usize) -> Option<NonNull<u8>> {
        if let Some((c, counted)) = self.cache.pop_aligned(need, layout.align()) {
            self.counters.free -= counted;
            // SAFETY: a cached chunk is a used chunk of at least `need`
            // bytes; `pop_aligned` checked the payload's alignment.
            return Some(unsafe { NonNull::new_unchecked(c.add(WORD)) });
        }
        self.allocate_from_core(layout, need)
            .or_else(|| self.flush_and_retry(layout, need))
    }

    /// Before giving up, returns cached chunks to the core, where they may
    /// coalesce into a block that fits. (The failed core allocation already
    /// settled any pending block.)
    #[cold]
    fn flush_and_retry(&mut self, layout: Layout, need: usize) -> Option<NonNull<u8>> {
        if self.cache.is_empty() {
            return None;
        }
        self.flush_cache();
        self.allocate_from_core(layout, need)
    }

    /// Returns every chunk of the front cache to the coalescing core.
    /// O(cached chunks), at most a few hundred. Allocation does this itself
    /// before failing; call it to make [`stats`](Self::stats) show the
    /// coalesced picture.
    pub fn flush_cache(&mut self) {
        self.settle_pending();
        let mut cache = core::mem::replace(&mut self.cache, Cache::new());
        cache.drain(|c, class_size| {
            self.counters.free -= class_size;
            // SAFETY: cached chunks are used chunks of this heap, at least
            // their class size.
            unsafe { self.free_chunk_guessing(c, class_size) };
        });
    }

    #[inline(always)]
    fn allocate_from_core(&mut self, layout: Layout, need: usize) -> Option<NonNull<u8>> {
        self.settle_pending();
        if layout.align() <= GRANULE {
            let (c, size, bin) = self.find(need)?;
            // SAFETY: `find` returned a free chunk of `size >= need` in `bin`.
            return Some(unsafe { self.carve_listed(c, size, need, bin) });
        }
        self.allocate_aligned(layout.align(), need)
    }

    /// The core's path for an alignment above the granule: a chunk with
    /// room to spare, split at the aligned address. Out of line, so that
    /// the common path does not carry its registers.
    #[inline(never)]
    fn allocate_aligned(&mut self, align: usize, need: usize) -> Option<NonNull<u8>> {
        let search = need.checked_add(align)?.checked_add(MIN_CHUNK)?;
        if search > chunk::MAX_REQUEST {
            return None;
        }
        let (c, size) = self.take(search)?;
        let payload = c as usize + WORD;
        // `align` is a power of two (a `Layout`'s), so a mask rounds up
        // without the division `next_multiple_of` would cost.
        let mut gap = ((payload + align - 1) & !(align - 1)) - payload;
        if gap != 0 && gap < MIN_CHUNK {
            // Too small to be a free chunk of its own: skip to the next boundary.
            gap += align;
        }
        // SAFETY: `c` is a chunk removed from its list with `size >= search`;
        // `gap + need <= size` by the choice of `search`.
        unsafe {
            if gap == 0 {
                return Some(self.carve(c, size, need, false));
            }
            chunk::write_free(c, gap);
            self.bins.push(bins::bin_of(gap), c);
            self.counters.free += gap;
            let rest = c.add(gap);
            Some(self.carve(rest, size - gap, need, true))
        }
    }

    /// Finds a free chunk of at least `need` bytes: `(chunk, size, class)`,
    /// still in its list.
    ///
    /// Exact classes: any chunk of the class fits. Otherwise the head of the
    /// request's own class comes first if it fits: it is less than 1/64
    /// larger than the request, where a chunk of a class above would be split
    /// and leave the larger chunks, which only the large requests can use,
    /// smaller (taking a class above first costs 0.1-0.2 points of heap
    /// efficiency). Then the first non-empty class above, which fits without
    /// looking at a chunk; only if there is none, the rest of the request's
    /// own class. Looking further down the own class than its head, for a
    /// best fit among the first 2 or 4 chunks, gains no efficiency with
    /// classes this fine, and each look is a dependent load that often
    /// misses the cache.
    #[inline(always)]
    fn find(&mut self, need: usize) -> Option<(*mut u8, usize, Bin)> {
        if need < bins::SMALL_LIMIT {
            // Branching on the size first reduces `bin_of` to a shift.
            let bin = bins::bin_of(need);
            debug_assert!(bin.is_exact());
            let head = self.bins.head(bin);
            let (c, b) = if head.is_null() {
                let b = self.bins.first_non_empty_from(bin.index() + 1)?;
                (self.bins.head(b), b)
            } else {
                (head, bin)
            };
            // SAFETY: `c` is a free chunk.
            let size = unsafe { chunk::size_of_header(chunk::header(c)) };
            return Some((c, size, b));
        }
        let bin = bins::bin_of(need);
        let head = self.bins.head(bin);
        if !head.is_null() {
            // SAFETY: a list's head is a free chunk.
            let size = unsafe { chunk::size_of_header(chunk::header(head)) };
            if size >= need {
                return Some((head, size, bin));
            }
        }
        if let Some(above) = self.bins.first_non_empty_from(bin.index() + 1) {
            let c = self.bins.head(above);
            // SAFETY: `c` heads a non-empty list, so it is a free chunk.
            let size = unsafe { chunk::size_of_header(chunk::header(c)) };
            return Some((c, size, above));
        }
        // Nothing above: the rest of the own class is all there is.
        let mut c = head;
        while !c.is_null() {
            // SAFETY: list members are free chunks.
            unsafe {
                let size = chunk::size_of_header(chunk::header(c));
                if size >= need {
                    return Some((c, size, bin));
                }
                c = chunk::next(c);
            }
        }
        None
    }

    /// [`find`](Self::find), then unlinks the chunk.
    #[inline(always)]
    fn take(&mut self, need: usize) -> Option<(*mut u8, usize)> {
        let (c, size, b) = self.find(need)?;
        // SAFETY: `c` is in list `b`.
        unsafe { self.bins.unlink(b, c) };
        self.counters.free -= size;
        Some((c, size))
    }

    /// Like [`carve`](Self::carve) for a chunk still in list `bin`: when the
    /// tail stays in the same class (the common case for large free chunks),
    /// it takes the chunk's place in the list, and the bitmap is untouched.
    ///
    /// # Safety
    /// `c` is a free chunk of `size >= need` bytes in list `bin`.
    #[inline(always)]
    unsafe fn carve_listed(
        &mut self,
        c: *mut u8,
        size: usize,
        need: usize,
        bin: Bin,
    ) -> NonNull<u8> {
        let rest = size - need;
        // SAFETY: all writes stay within [c, c + size] plus the next header;
        // the list links of `c` are read before the tail's are written.
        unsafe {
            if rest >= MIN_CHUNK {
                let tail = c.add(need);
                chunk::write_free(tail, rest);
                let tail_bin = bins::bin_of(rest);
                if tail_bin == bin {
                    self.bins.replace(bin, c, tail);
                } else {
                    self.bins.unlink(bin, c);
                    self.bins.push(tail_bin, tail);
                }
                chunk::set_header(c, chunk::used_header(need, false));
                self.counters.free -= need;
            } else {
                self.bins.unlink(bin, c);
                chunk::set_header(c, chunk::used_header(size, false));
                chunk::set_prev_free(c.add(size), false);
                self.counters.free -= size;
            }
            NonNull::new_unchecked(c.add(WORD))
        }
    }

    /// Turns the unlinked free chunk `c` of `size` bytes into a used chunk of
    /// `need` bytes, freeing the tail if it can stand alone. Returns the payload.
    ///
    /// # Safety
    /// `c` is an unlinked chunk of `size >= need` bytes whose neighbour above
    /// is used and flagged `PREV_FREE`.
    #[inline(always)]
    unsafe fn carve(
        &mut self,
        c: *mut u8,
        size: usize,
        need: usize,
        prev_free: bool,
    ) -> NonNull<u8> {
        let rest = size - need;
        // SAFETY: all writes stay within [c, c + size] plus the next header.
        unsafe {
            if rest >= MIN_CHUNK {
                chunk::set_header(c, chunk::used_header(need, prev_free));
                let tail = c.add(need);
                chunk::write_free(tail, rest);
                self.bins.push(bins::bin_of(rest), tail);
                self.counters.free += rest;
            } else {
                chunk::set_header(c, chunk::used_header(size, prev_free));
                chunk::set_prev_free(c.add(size), false);
            }
            NonNull::new_unchecked(c.add(WORD))
        }
    }

    /// Frees the used chunk `c`, merging it with free neighbours, and counts
    /// its bytes as free.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap, not a prologue or epilogue.
    #[inline(always)]
    unsafe fn free_chunk(&mut self, c: *mut u8) {
        // SAFETY: forwarded; MIN_CHUNK never exceeds a chunk's size.
        unsafe { self.free_chunk_guessing(c, MIN_CHUNK) }
    }

    /// [`free_chunk`](Self::free_chunk), loading the header at `c + guess`
    /// at the same time as `c`'s own: when the guess is the chunk's size (the
    /// usual case: the size its layout asks for), the two likely cache
    /// misses overlap instead of the second waiting for the first.
    ///
    /// # Safety
    /// As `free_chunk`, and `guess` is at most the chunk's size.
    #[inline(always)]
    unsafe fn free_chunk_guessing(&mut self, c: *mut u8, guess: usize) {
        // SAFETY: forwarded.
        let own = unsafe { self.coalesce_guessing(c, guess) };
        self.counters.free += own;
    }

    /// [`free_chunk_guessing`](Self::free_chunk_guessing) without counting
    /// the chunk's bytes as free (for a chunk already counted so). Returns
    /// the chunk's size.
    ///
    /// # Safety
    /// As `free_chunk_guessing`.
    #[inline(always)]
    unsafe fn coalesce_guessing(&mut self, c: *mut u8, guess: usize) -> usize {
        // SAFETY: `c` and its neighbours are chunks of a live region; the
        // boundary tags say which neighbours are free. `c + guess` lies in
        // the chunk or is its neighbour's header: memory we own, read as
        // `MaybeUninit` (volatile, so that the load is issued now) and only
        // used when it is that header.
        unsafe {
            let guessed = c.add(guess).cast::<MaybeUninit<usize>>().read_volatile();
            let h = chunk::header(c);
            let own = chunk::size_of_header(h);
            let next = c.add(own);
            let nh = if own == guess {
                guessed.assume_init()
            } else {
                chunk::header(next)
            };
            let next_free = chunk::is_free(nh);
            let ns = if next_free {
                chunk::size_of_header(nh)
            } else {
                0
            };
            if !next_free {
                chunk::set_prev_free(next, true);
            }
            // A merged chunk that stays in the class of the free neighbour
            // it grew from keeps (or takes over) that neighbour's list place:
            // no unlink, no push, no bitmap change.
            if chunk::prev_is_free(h) {
                let ps = chunk::prev_size(c);
                let p = c.sub(ps);
                if next_free {
                    self.bins.unlink_sized(next, ns);
                }
                let total = ps + own + ns;
                let (pb, tb) = (bins::bin_of(ps), bins::bin_of(total));
                if pb != tb {
                    self.bins.unlink(pb, p);
                    self.bins.push(tb, p);
                }
                chunk::write_free(p, total);
            } else if next_free {
                let total = own + ns;
                let (nb, tb) = (bins::bin_of(ns), bins::bin_of(total));
                if nb == tb {
                    self.bins.replace(nb, next, c);
                } else {
                    self.bins.unlink(nb, next);
                    self.bins.push(tb, c);
                }
                chunk::write_free(c, total);
            } else {
                chunk::write_free(c, own);
                self.bins.push(bins::bin_of(own), c);
            }
            own
        }
    }

    /// Returns the block at `ptr`, whose layout asked for `size` bytes, to
    /// the front cache (a full size class passes its oldest block on to the
    /// core), or, if the block is too large for the cache (above 1 KiB, or
    /// above 256 bytes once a quarter of the heap is in use), to the core.
    ///
    /// Neither writes into the block. The caller of `dealloc` may still hold
    /// a reference to it for the duration of the call (std's `Box` does, and
    /// Stacked Borrows protects it), so a write there through the heap's own
    /// pointer would be undefined behaviour. The front cache stores only the
    /// address, and an evicted block was freed by an earlier call; a large
    /// block becomes `pending`, and its free (links, footer, coalescing) is
    /// finished by the next operation that uses the core: an allocation the
    /// front cache cannot serve, a free it does not take, a reallocation, a
    /// region change or
    /// [`flush_cache`](Self::flush_cache). So the core never places a block
    /// while another is pending, and placement is as if frees were
    /// immediate; small allocations served by the cache do not pay for it.
    ///
    /// # Safety
    /// `ptr` is a live payload of this heap allocated for `size` bytes.
    #[inline(always)]
    unsafe fn release(&mut self, ptr: NonNull<u8>, size: usize) {
        // The chunk is at least the size its layout needs.
        let guess = chunk::chunk_size_for(size).unwrap_or(MIN_CHUNK);
        let c = heap_pointer(ptr).wrapping_sub(WORD);
        // Chunks above 256 bytes are cached only while less than a quarter
        // of the heap is in use: the fullness below which compaction does
        // not run either, since density does not matter yet.
        let counters = &self.counters;
        match self.cache.push(c, guess, || {
            counters.free > counters.arena - counters.arena / 4
        }) {
            Pushed::Cached => {
                self.counters.free += guess;
                return;
            }
            Pushed::Evicted(old, class_size) => {
                // `c` takes the evicted chunk's place in the free count:
                // same class, and a class holds one chunk size. The core
                // counts the evicted one again, at its real size.
                debug_assert_eq!(class_size, guess);
                // SAFETY: a cached chunk is a used chunk of this heap, at
                // least its class size, freed by an earlier call.
                unsafe { self.free_evicted(old, class_size) };
                return;
            }
            Pushed::TooLarge => {}
        }
        // Nothing is read here, not even the block's header: the two headers
        // settling reads (the block's, and the one above it at the size the
        // layout implies) are prefetched, so that both misses overlap with
        // the caller's work. A load of the header here would hold the caller
        // up until it returned, and the neighbour's miss would come later,
        // alone. Cycles per action on the 30 kB trace (10 million actions):
        // reading the header here 146.9, prefetching 145.5, and leaving both
        // reads to the settling without a prefetch 152.4; with realloc,
        // 359.4 and 347.2.
        prefetch(c);
        prefetch(c.wrapping_add(guess));
        self.counters.free += guess;
        // The previous pending block is settled after `c` takes its place,
        // not before: then nothing of this call is needed after the settling
        // call returns, and `dealloc` keeps one register across it instead
        // of four (on every free, cached or not: 4.7 fewer instructions per
        // action on the 30 kB trace, 5.4 on the 200 B one).
        let old = core::mem::replace(&mut self.pending, c);
        let old_size = core::mem::replace(&mut self.pending_size, guess);
        if !old.is_null() {
            // SAFETY: `old` was pending: a used chunk of this heap of at
            // least `old_size` bytes, nobody's any more. `c` is still marked
            // used, so the settling treats it as a used neighbour.
            unsafe { self.settle(old, old_size) };
        }
    }

    /// Frees a chunk the front cache let go of. Out of line: a free the
    /// cache takes without evicting should not pay for the core's registers.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap of at least `class_size` bytes that
    /// nobody uses any more.
    #[inline(never)]
    unsafe fn free_evicted(&mut self, c: *mut u8, class_size: usize) {
        // SAFETY: forwarded.
        unsafe { self.free_chunk_guessing(c, class_size) };
    }

    /// Finishes the free of the pending block, if any. O(1).
    #[inline(always)]
    fn settle_pending(&mut self) {
        // Checked before it is cleared: no store when nothing is pending.
        if !self.pending.is_null() {
            let c = core::mem::replace(&mut self.pending, ptr::null_mut());
            // SAFETY: a pending chunk is a used chunk of this heap, of at
            // least `pending_size` bytes, that nobody uses any more; its
            // `dealloc` has returned.
            unsafe { self.settle(c, self.pending_size) };
        }
    }

    /// Finishes the free of a block that was pending with `counted` bytes
    /// counted free; the rest of its bytes are counted now.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap, of at least `counted` bytes, that
    /// nobody uses any more, and no longer `pending`.
    #[inline(never)]
    unsafe fn settle(&mut self, c: *mut u8, counted: usize) {
        // SAFETY: forwarded.
        let own = unsafe { self.coalesce_guessing(c, counted) };
        self.counters.free += own - counted;
    }

    /// Frees a block. O(1).
    ///
    /// The caller's pointer only carries the provenance of its own block,
    /// but freeing reads and merges the neighbouring chunks: the heap works
    /// with a pointer re-derived from the region's provenance instead.
    ///
    /// # Safety
    /// `ptr` was returned by this heap for `layout` (or for a layout of the
    /// same alignment whose size was later changed to `layout.size()` by
    /// [`reallocate`](Self::reallocate)) and has not been freed since.
    #[inline]
    pub unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // Counted first, so that nothing is left to do after `release`.
        self.counters.in_use -= layout.size();
        self.counters.live -= 1;
        // SAFETY: per the caller, `ptr` is a live payload of this heap.
        unsafe {
            self.release(ptr, layout.size());
        }
    }

    /// Resizes a block, in place when the block or its free neighbour above
    /// has room, else by allocate + copy + free. A shrink moves the block
    /// down if the first fitting free block lies below it and the shrink is
    /// deep enough for how full the heap is (to half or less once more than
    /// half of the heap is in use, to a quarter or less once more than a
    /// quarter is): left in place, the small remainder would split the space
    /// it frees from its free neighbours (compacting this way lifts heap
    /// efficiency at first failure by about 1 point on 30 kB blocks; a
    /// mostly free heap does not need the density and skips the copy). When
    /// no free block fits the new size, the block may still slide down into
    /// its free neighbour below (joined with its own space and any free
    /// neighbour above). Returns `None` (and leaves the block untouched) if
    /// no room is found.
    ///
    /// # Safety
    /// As [`deallocate`](Self::deallocate) for `ptr` and `layout`.
    pub unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: forwarded.
        unsafe { self.reallocate_inlined(ptr, layout, new_size) }
    }

    /// [`reallocate`](Self::reallocate), inlined into the caller: for
    /// [`LockedHeap`](super::LockedHeap)'s `realloc`, whose own registers
    /// are then saved once with the reallocation's, not again around a call
    /// (five of them: 1.7 fewer instructions per action on the 200 B trace
    /// with realloc, 2.0 on the 30 kB one).
    ///
    /// # Safety
    /// As [`reallocate`](Self::reallocate).
    #[inline(always)]
    pub(crate) unsafe fn reallocate_inlined(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: forwarded.
        unsafe { self.reallocate_once(ptr, layout, new_size, false) }
    }

    /// The second and last attempt of a reallocation. A function of its own
    /// (not a loop around the first attempt), so that the first attempt's
    /// set-up is not hoisted ahead of its early exits.
    ///
    /// # Safety
    /// As [`reallocate`](Self::reallocate).
    #[cold]
    #[inline(never)]
    unsafe fn reallocate_retry(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: forwarded.
        unsafe { self.reallocate_once(ptr, layout, new_size, true) }
    }

    /// [`reallocate`](Self::reallocate); `retried` after a failed attempt.
    ///
    /// # Safety
    /// As [`reallocate`](Self::reallocate).
    #[inline(always)]
    unsafe fn reallocate_once(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
        retried: bool,
    ) -> Option<NonNull<u8>> {
        let need = chunk::chunk_size_for(new_size)?;
        // Growing in place reads the neighbours, which must not be pending.
        self.settle_pending();
        let copy_len = layout.size().min(new_size);
        let ptr = NonNull::new(heap_pointer(ptr)).unwrap_or(ptr);
        let c = ptr.as_ptr().wrapping_sub(WORD);
        // SAFETY: per the caller, `ptr` is a live payload of this heap.
        let h = unsafe { chunk::header(c) };
        let size = chunk::size_of_header(h);
        let relocated = if layout.align() <= GRANULE && self.compacts(need, size) {
            self.relocate_below(c, need)
        } else {
            None
        };
        let out = if let Some(new) = relocated {
            // SAFETY: both blocks are live and distinct, and hold at least
            // `copy_len` bytes; `ptr` was allocated for `layout`.
            unsafe { self.move_block(ptr, new, copy_len, layout.size()) }
        } else if need <= size {
            // SAFETY: `c` is the live chunk of `ptr`, with header `h`.
            unsafe { self.shrink_in_place(c, h, need) };
            ptr
        // SAFETY: `c` is the live chunk of `ptr`, with header `h`.
        } else if unsafe { self.grow_in_place(c, h, need) } {
            ptr
        } else {
            // SAFETY: alignment is unchanged and was valid; size checked above.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            match self.allocate_chunk(new_layout) {
                // SAFETY: both blocks are live and distinct, and hold at least
                // `copy_len` bytes; `ptr` was allocated for `layout`.
                Some(new) => unsafe { self.move_block(ptr, new, copy_len, layout.size()) },
                // The failed allocation flushed the cache and settled the
                // pending block; blocks next to this one may have coalesced
                // into room for it in place.
                // SAFETY: forwarded.
                None if !retried => return unsafe { self.reallocate_retry(ptr, layout, new_size) },
                None => {
                    // SAFETY: `c` is the live chunk of `ptr`; the payload holds
                    // `copy_len` bytes, and `copy_len + WORD <= need` since
                    // `need` covers `new_size` plus the header.
                    let p = unsafe { self.slide_down(c, need, copy_len, layout.align()) }?;
                    self.counters.total += 1;
                    p
                }
            }
        };
        let cnt = &mut self.counters;
        cnt.in_use = cnt.in_use - layout.size() + new_size;
        if cnt.in_use > cnt.peak {
            cnt.peak = cnt.in_use;
        }
        Some(out)
    }

    /// Whether a shrink of a `size`-byte chunk to `need` bytes moves the
    /// block down (compaction): to half or less once more than half of the
    /// heap is in use, to a quarter or less once more than a quarter is.
    /// Compaction buys density with a copy of the new size, which pays when
    /// memory runs short (at 30 kB it is worth 0.9 points of heap efficiency
    /// at first failure, and a growing heap is nearly full whenever it
    /// grows); in a heap that is three quarters free it is copying for
    /// nothing (7% of all bytes copied on the 30 kB + realloc trace in a
    /// 512 MiB arena). Between a quarter and half full only the deeper
    /// shrinks move, which free the most room per byte copied: that keeps
    /// the efficiency of compacting every shrink to half from a quarter full
    /// (97.18% against 97.17%, 1,536 rounds; from half full alone 97.12%)
    /// and copies 3.4% fewer bytes on the 30 kB + realloc trace in a ninth
    /// of the arena, where the heap stays between a quarter and two thirds
    /// full.
    #[inline(always)]
    fn compacts(&self, need: usize, size: usize) -> bool {
        let arena = self.counters.arena;
        let free = self.counters.free;
        // A mostly free heap, the common case, is ruled out by one compare.
        if free >= arena - arena / 4 {
            return false;
        }
        need <= size / 4 || (need <= size / 2 && free < arena / 2)
    }

    /// Copies the first `copy_len` bytes of the block at `ptr` to `new`,
    /// frees the old block and returns `new`.
    ///
    /// # Safety
    /// `ptr` is a live block of this heap allocated for `old_size` bytes,
    /// `new` another live block, and both hold at least `copy_len` bytes.
    unsafe fn move_block(
        &mut self,
        ptr: NonNull<u8>,
        new: NonNull<u8>,
        copy_len: usize,
        old_size: usize,
    ) -> NonNull<u8> {
        // SAFETY: per the caller; the old block is freed after the copy.
        unsafe {
            ptr::copy_nonoverlapping(ptr.as_ptr(), new.as_ptr(), copy_len);
            self.release(ptr, old_size);
        }
        self.counters.total += 1;
        new
    }

    /// A block of `need` bytes (16-byte aligned) at a lower address than
    /// the chunk `c`, or `None` (nothing changed) if the first fitting
    /// free block lies above it.
    fn relocate_below(&mut self, c: *mut u8, need: usize) -> Option<NonNull<u8>> {
        let (f, size, bin) = self.find(need)?;
        if f >= c {
            return None;
        }
        // SAFETY: `find` returned a free chunk of `size >= need` in `bin`.
        Some(unsafe { self.carve_listed(f, size, need, bin) })
    }

    /// Grows the used chunk `c` into the free chunk below it (and the one
    /// above, if free), moving the first `copy_len` payload bytes down: the
    /// last resort of a reallocation, when no free block fits the new size
    /// but this block and its free neighbours together do. Only then, since
    /// sliding on every failed in-place growth kept the heap's top higher
    /// (13.5 against 9.6 MiB on the 30 kB trace with realloc) for no gain in
    /// heap efficiency, and cost instructions on every move. Returns the new
    /// payload, or `None` (nothing changed) if the neighbours are too small
    /// or the lower payload would break `align`.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap whose payload holds `copy_len` bytes,
    /// `copy_len + WORD <= need`.
    unsafe fn slide_down(
        &mut self,
        c: *mut u8,
        need: usize,
        copy_len: usize,
        align: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: `c`'s neighbours are chunks of a live region; the tags say
        // which are free. The copy runs before any header is written inside
        // the source or destination ranges.
        unsafe {
            let h = chunk::header(c);
            if !chunk::prev_is_free(h) {
                return None;
            }
            let size = chunk::size_of_header(h);
            let ps = chunk::prev_size(c);
            let p = c.sub(ps);
            // `align` is a power of two: a mask, not a division.
            if (p as usize + WORD) & (align - 1) != 0 {
                return None;
            }
            let next = c.add(size);
            let nh = chunk::header(next);
            let ns = if chunk::is_free(nh) {
                chunk::size_of_header(nh)
            } else {
                0
            };
            let total = ps + size + ns;
            if total < need {
                return None;
            }
            self.bins.unlink_sized(p, ps);
            if ns != 0 {
                self.bins.unlink_sized(next, ns);
            } else {
                // `carve` expects the chunk above a free chunk to say so.
                chunk::set_prev_free(next, true);
            }
            self.counters.free -= ps + ns;
            ptr::copy(c.add(WORD), p.add(WORD), copy_len);
            Some(self.carve(p, total, need, false))
        }
    }

    /// Shrinks the used chunk `c` (header `h`) to `need` bytes in place,
    /// freeing the tail if it can stand alone.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap whose header is `h`, `need` at most
    /// its size and a chunk size.
    unsafe fn shrink_in_place(&mut self, c: *mut u8, h: usize, need: usize) {
        let rest = chunk::size_of_header(h) - need;
        if rest >= MIN_CHUNK {
            // SAFETY: both headers lie in the chunk; the tail is a chunk of
            // its own once its header is written.
            unsafe {
                chunk::set_header(c, chunk::used_header(need, chunk::prev_is_free(h)));
                let tail = c.add(need);
                chunk::set_header(tail, chunk::used_header(rest, false));
                self.free_chunk_guessing(tail, rest);
            }
        }
    }

    /// Grows the used chunk `c` (header `h`) to `need` bytes into its
    /// neighbour above, if that is free and the two together are large
    /// enough. Only the neighbour's header is read here: most reallocs that
    /// must move have no free neighbour above, and skip the call (which
    /// saved 3.4 cycles per action at 200 B + realloc).
    ///
    /// # Safety
    /// `c` is a used chunk of this heap whose header is `h`.
    #[inline(always)]
    unsafe fn grow_in_place(&mut self, c: *mut u8, h: usize, need: usize) -> bool {
        // SAFETY: `c + size` is the header of `c`'s neighbour (a chunk or
        // the region's epilogue); when free, it is right above `c`.
        unsafe {
            let nh = chunk::header(c.add(chunk::size_of_header(h)));
            chunk::is_free(nh) && self.grow_into_next(c, h, nh, need)
        }
    }

    /// [`grow_in_place`](Self::grow_in_place) past the check that the
    /// neighbour above (header `nh`) is free.
    ///
    /// # Safety
    /// `c` is a used chunk of this heap whose header is `h`, and `nh` the
    /// header of the free chunk right above it.
    unsafe fn grow_into_next(&mut self, c: *mut u8, h: usize, nh: usize, need: usize) -> bool {
        let size = chunk::size_of_header(h);
        let ns = chunk::size_of_header(nh);
        let total = size + ns;
        if total < need {
            return false;
        }
        // SAFETY: the neighbour is a listed free chunk of `ns` bytes; the
        // two chunks are contiguous, so `c` spans `total` bytes.
        unsafe {
            self.bins.unlink_sized(c.add(size), ns);
            self.counters.free -= ns;
            self.carve(c, total, need, chunk::prev_is_free(h));
        }
        true
    }

    /// A snapshot of the counters, with the largest free block found by
    /// walking the highest non-empty size class.
    #[must_use]
    pub fn stats(&self) -> HeapStats {
        let c = self.counters;
        let free = c.free + self.pending_uncounted();
        let largest = self.largest_free_block();
        HeapStats {
            bytes_in_use: c.in_use,
            peak_bytes: c.peak,
            free_bytes: free,
            total_bytes: c.arena,
            allocations: c.live,
            total_allocations: c.total,
            growth_events: c.growth,
            largest_free_block: Some(largest),
            fragmentation_permille: Some(HeapStats::fragmentation_of(largest, free)),
        }
    }

    /// Size of the largest free block (0 if none). O(length of the highest
    /// non-empty size class).
    #[must_use]
    pub fn largest_free_block(&self) -> usize {
        let cached = self.cache.largest().max(self.pending_coalesced_size());
        let Some(bin) = self.bins.last_non_empty() else {
            return cached;
        };
        let mut best = 0;
        let mut c = self.bins.head(bin);
        while !c.is_null() {
            // SAFETY: list members are free chunks.
            unsafe {
                best = best.max(chunk::size_of_header(chunk::header(c)));
                c = chunk::next(c);
            }
        }
        best.max(cached)
    }

    /// Bytes of the pending block not yet counted free: the part of its
    /// chunk beyond the size its layout implies (0 if none).
    fn pending_uncounted(&self) -> usize {
        self.pending_header()
            .map_or(0, |h| chunk::size_of_header(h) - self.pending_size)
    }

    /// The pending block's header word, if there is a pending block.
    fn pending_header(&self) -> Option<usize> {
        if self.pending.is_null() {
            return None;
        }
        // SAFETY: the pending chunk is a used chunk of this heap.
        Some(unsafe { chunk::header(self.pending) })
    }

    /// The size the pending block will have once settled and merged with
    /// its free neighbours (0 if none), so that statistics show the
    /// coalesced picture without settling it.
    fn pending_coalesced_size(&self) -> usize {
        let Some(h) = self.pending_header() else {
            return 0;
        };
        let c = self.pending;
        // SAFETY: the pending chunk is a used chunk of this heap; its
        // neighbours are chunks (or the prologue / epilogue) whose tags say
        // whether they are free, and a free chunk below has a footer.
        unsafe {
            let own = chunk::size_of_header(h);
            let mut size = own;
            if chunk::prev_is_free(h) {
                size += chunk::prev_size(c);
            }
            let nh = chunk::header(c.add(own));
            if chunk::is_free(nh) {
                size += chunk::size_of_header(nh);
            }
            size
        }
    }

    /// Number of separate regions (merged regions count once). O(regions).
    #[must_use]
    pub fn region_count(&self) -> usize {
        region::Iter(self.regions).count()
    }

    /// Walks every chunk of every region and every free list, checking the
    /// boundary tags, that no two free chunks touch, that each free chunk is
    /// in the list of its size class, and that the free-byte counter adds up.
    /// O(chunks + free chunks): a debugging aid, not for hot paths.
    ///
    /// # Errors
    /// The first inconsistency found.
    pub fn check(&self) -> Result<(), CorruptionError> {
        let fail = |addr: *mut u8, what| {
            Err(CorruptionError {
                addr: addr as usize,
                what,
            })
        };
        let mut free_in_regions = 0usize;
        let mut free_chunks = 0usize;
        let mut used_chunks = 0usize;
        for node in region::Iter(self.regions) {
            // SAFETY: list entries are live prologues; walking by header sizes
            // stays inside the region while the tags are sane, which is
            // checked at each step before moving on.
            unsafe {
                let end = region::end(node);
                let epi = region::epilogue_addr(end);
                let mut c = node;
                let mut prev_was_free = false;
                loop {
                    let h = chunk::header(c);
                    if chunk::prev_is_free(h) != prev_was_free {
                        return fail(c, "PREV_FREE flag disagrees with the chunk below");
                    }
                    let size = chunk::size_of_header(h);
                    if c as usize == epi {
                        if size != 0 || chunk::is_free(h) {
                            return fail(c, "epilogue is not a zero-sized used header");
                        }
                        break;
                    }
                    if size < MIN_CHUNK || c as usize + size > epi {
                        return fail(c, "chunk size out of bounds");
                    }
                    let free = chunk::is_free(h);
                    if !free {
                        used_chunks += 1;
                    }
                    if free {
                        if prev_was_free {
                            return fail(c, "two adjacent free chunks");
                        }
                        if chunk::prev_size(c.add(size)) != size {
                            return fail(c, "footer disagrees with header");
                        }
                        free_in_regions += size;
                        free_chunks += 1;
                    }
                    prev_was_free = free;
                    c = c.add(size);
                }
            }
        }
        let mut listed = 0usize;
        let mut listed_bytes = 0usize;
        for (bin, head, marked) in self.bins.lists() {
            let mut c = head;
            let mut prev = ptr::null_mut();
            while !c.is_null() {
                // SAFETY: list members are free chunks (checked just below
                // through their headers, which the region walk validated).
                unsafe {
                    let h = chunk::header(c);
                    if !chunk::is_free(h) {
                        return fail(c, "used chunk in a free list");
                    }
                    let size = chunk::size_of_header(h);
                    if bins::bin_of(size) != bin {
                        return fail(c, "free chunk in the wrong size class");
                    }
                    if chunk::prev(c) != prev {
                        return fail(c, "broken backward link");
                    }
                    listed += 1;
                    listed_bytes += size;
                    if listed > free_chunks {
                        return fail(c, "free lists hold more chunks than the regions");
                    }
                    prev = c;
                    c = chunk::next(c);
                }
            }
            if head.is_null() == marked {
                return fail(head, "bitmap disagrees with a free list");
            }
        }
        if listed != free_chunks || listed_bytes != free_in_regions {
            return fail(self.regions, "free chunk missing from the free lists");
        }
        let mut cached_bytes = 0usize;
        let mut bad_cached = None;
        self.cache.for_each(|c, class_size| {
            // SAFETY: cached chunks are used chunks of this heap.
            let h = unsafe { chunk::header(c) };
            if chunk::is_free(h) || chunk::size_of_header(h) < class_size {
                bad_cached = Some(c);
            }
            cached_bytes += class_size;
        });
        if let Some(c) = bad_cached {
            return fail(c, "cached chunk is free or smaller than its class");
        }
        let mut cached_chunks = 0usize;
        self.cache.for_each(|_, _| cached_chunks += 1);
        if let Some(h) = self.pending_header() {
            let size = chunk::size_of_header(h);
            if chunk::is_free(h)
                || size < self.pending_size
                || size >= self.pending_size + MIN_CHUNK
            {
                return fail(
                    self.pending,
                    "pending chunk is free or not the size its layout implies",
                );
            }
            cached_chunks += 1;
            cached_bytes += self.pending_size;
        }
        if used_chunks != self.counters.live + cached_chunks + self.region_count() {
            return fail(self.regions, "used chunks do not match live allocations");
        }
        if listed_bytes + cached_bytes != self.counters.free {
            return fail(self.regions, "free-byte counter is off");
        }
        Ok(())
    }
}

/// `ptr` with the provenance of the heap region it lies in rather than that
/// of the single block the caller was given. Every region's start pointer is
/// exposed when the region is added (its address is taken with an `as`
/// cast), so the exposed provenance covers the whole region; boundary tags
/// of neighbouring chunks may then be read and written through the result.
#[inline(always)]
fn heap_pointer(ptr: NonNull<u8>) -> *mut u8 {
    core::ptr::with_exposed_provenance_mut(ptr.as_ptr().addr())
}
