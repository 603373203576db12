//! The front cache: per-size LIFO stacks of recently freed small chunks.
//!
//! Freeing a small chunk pushes it here without touching its neighbours: its
//! boundary tags keep saying "used", so nothing coalesces with it. The next
//! allocation of the same size pops it, again touching only the chunk. Both
//! are a few instructions and one cache line, against the core's neighbour
//! checks, list unlinks and bitmap updates.
//!
//! Depth is bounded per size, and the heap flushes every cached chunk into
//! the coalescing core before it reports an allocation failure, so the cache
//! never causes one.

use core::ptr;

use super::chunk::{self, GRANULE, MIN_CHUNK, WORD};

/// Chunk sizes up to this are cached.
pub(crate) const CACHED_MAX: usize = 256;
const CLASSES: usize = (CACHED_MAX - MIN_CHUNK) / GRANULE + 1;
/// Chunks kept per size: enough to absorb bursts, small enough that a
/// full cache holds a few KiB.
const DEPTH: u8 = 16;

pub(crate) struct Cache {
    /// Bit `k` set iff `heads[k]` is non-null.
    non_empty: u32,
    heads: [*mut u8; CLASSES],
    counts: [u8; CLASSES],
}

#[inline(always)]
const fn class(size: usize) -> usize {
    (size - MIN_CHUNK) / GRANULE
}

impl Cache {
    pub(crate) const fn new() -> Self {
        Self {
            non_empty: 0,
            heads: [ptr::null_mut(); CLASSES],
            counts: [0; CLASSES],
        }
    }

    /// Pops a chunk of `size` bytes' class. Returns it with the class size
    /// it was counted at. O(1). Only the exact class: a chunk from a larger
    /// one would carry its slack for as long as the block lives (1.2 points
    /// of heap efficiency on the 200 B trace), while a miss costs one trip
    /// to the core.
    #[inline(always)]
    pub(crate) fn pop(&mut self, size: usize) -> Option<(*mut u8, usize)> {
        if size > CACHED_MAX {
            return None;
        }
        let k = class(size);
        let c = self.heads[k];
        if c.is_null() {
            return None;
        }
        // SAFETY: cached chunks are ours; their first payload word links them.
        let next = unsafe { c.add(WORD).cast::<*mut u8>().read() };
        self.heads[k] = next;
        self.counts[k] -= 1;
        if next.is_null() {
            self.non_empty &= !(1 << k);
        }
        Some((c, MIN_CHUNK + k * GRANULE))
    }

    /// Pushes the used chunk `c` under `size`'s class if there is room. O(1).
    ///
    /// # Safety
    /// `c` is a used chunk of at least `size` bytes that nobody else uses.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, c: *mut u8, size: usize) -> bool {
        if size > CACHED_MAX {
            return false;
        }
        let k = class(size);
        if self.counts[k] >= DEPTH {
            return false;
        }
        // SAFETY: the payload of the chunk is ours now.
        unsafe { c.add(WORD).cast::<*mut u8>().write(self.heads[k]) };
        self.heads[k] = c;
        self.counts[k] += 1;
        self.non_empty |= 1 << k;
        true
    }

    /// Empties the cache, handing each chunk and its class size to `free`.
    /// O(cached chunks).
    pub(crate) fn drain(&mut self, mut free: impl FnMut(*mut u8, usize)) {
        for k in 0..CLASSES {
            let mut c = self.heads[k];
            while !c.is_null() {
                // SAFETY: as in `pop`.
                let next = unsafe { c.add(WORD).cast::<*mut u8>().read() };
                free(c, MIN_CHUNK + k * GRANULE);
                c = next;
            }
            self.heads[k] = ptr::null_mut();
            self.counts[k] = 0;
        }
        self.non_empty = 0;
    }

    /// Calls `f` with each cached chunk and its class size.
    pub(crate) fn for_each(&self, mut f: impl FnMut(*mut u8, usize)) {
        for k in 0..CLASSES {
            let mut c = self.heads[k];
            while !c.is_null() {
                f(c, MIN_CHUNK + k * GRANULE);
                // SAFETY: as in `pop`.
                c = unsafe { c.add(WORD).cast::<*mut u8>().read() };
            }
        }
    }

    /// Whether any chunk is cached. O(1).
    pub(crate) fn is_empty(&self) -> bool {
        self.non_empty == 0
    }

    /// The largest cached class size, or 0.
    pub(crate) fn largest(&self) -> usize {
        (0..CLASSES)
            .rev()
            .find(|&k| self.counts[k] != 0)
            .map_or(0, |k| MIN_CHUNK + k * GRANULE)
    }
}

impl core::fmt::Debug for Cache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let cached: usize = self.counts.iter().map(|&n| usize::from(n)).sum();
        f.debug_struct("Cache").field("chunks", &cached).finish()
    }
}

const _: () =
    assert!(CACHED_MAX.is_multiple_of(GRANULE) && CACHED_MAX >= MIN_CHUNK && CLASSES <= 32);
const _: () = assert!(
    chunk::MIN_CHUNK >= 2 * WORD,
    "a cached chunk holds its header and a link"
);
