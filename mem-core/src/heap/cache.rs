//! The front cache: per-size LIFO stacks of recently freed small chunks.
//!
//! Freeing a small chunk pushes its address here without touching the chunk
//! or its neighbours: its boundary tags keep saying "used", so nothing
//! coalesces with it. The next allocation of the same size pops it, again
//! without touching any chunk. Both are a few instructions, against the
//! core's neighbour checks, list unlinks and bitmap updates.
//!
//! Chunks up to 256 bytes are always cached; chunks up to 1 KiB only while
//! less than a quarter of the heap is in use (the caller says which, see
//! [`Cache::push`]). Those sizes are mostly blocks that a `realloc` grew
//! past the small sizes, and moving such a block is an allocation and a
//! free of that size: through the cache, about 8% fewer cycles per action
//! on the 200 B + realloc trace. In a fuller heap they go to the core, where
//! they coalesce at once: cached, a chunk keeps its free neighbours from
//! merging across it, which cost 0.3 points of heap efficiency on the 200 B
//! trace when they were cached at any fullness.
//!
//! Depth is bounded per size, and the heap flushes every cached chunk into
//! the coalescing core before it reports an allocation failure, so the cache
//! never causes one.

use core::ptr;

use super::chunk::{self, GRANULE, MIN_CHUNK, WORD};

/// Chunk sizes up to this are always cached.
const ALWAYS_CACHED_MAX: usize = 256;
/// Chunk sizes up to this are cached while the heap is mostly free.
const CACHED_MAX: usize = 1024;
const CLASSES: usize = (CACHED_MAX - MIN_CHUNK) / GRANULE + 1;
/// Chunks kept per size: enough to absorb bursts (2 or 4 for the sizes
/// above 256 bytes gave back most of their gain). A full cache holds 1,008
/// chunks, 520 KiB, most of it in chunks cached only while three quarters
/// of the heap are free.
const DEPTH: u8 = 16;

pub(crate) struct Cache {
    counts: [u8; CLASSES],
    /// Per class, a stack of chunk headers (`counts[k]` of them, newest
    /// last). Kept here rather than linked through the chunks: a push
    /// writes nothing into the block being freed (its owner's references
    /// may still be live for the duration of the free, which Stacked
    /// Borrows enforces), and a pop does not wait on a load from the chunk.
    slots: [[*mut u8; DEPTH as usize]; CLASSES],
}

/// What [`Cache::push`] did with a chunk.
pub(crate) enum Pushed {
    /// Cached.
    Cached,
    /// Cached; its class was full, so the class's oldest chunk left the
    /// cache and goes to the core: that chunk and the class size it was
    /// counted at.
    Evicted(*mut u8, usize),
    /// Larger than any cached class: not cached.
    TooLarge,
}

#[inline(always)]
const fn class(size: usize) -> usize {
    (size - MIN_CHUNK) / GRANULE
}

impl Cache {
    pub(crate) const fn new() -> Self {
        Self {
            counts: [0; CLASSES],
            slots: [[ptr::null_mut(); DEPTH as usize]; CLASSES],
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
        let n = self.counts[k];
        if n == 0 {
            return None;
        }
        let n = n - 1;
        self.counts[k] = n;
        Some((self.slots[k][usize::from(n)], MIN_CHUNK + k * GRANULE))
    }

    /// Like [`pop`](Self::pop), for a payload aligned to `align` (a power of
    /// two above the granule): the newest chunk of the class whose payload
    /// (one word above the chunk) is aligned, or `None`. O(DEPTH): a scan of
    /// at most 16 addresses, which keeps small over-aligned requests (one in
    /// sixteen in talc's traces) off the core's slower aligned path.
    #[inline]
    pub(crate) fn pop_aligned(&mut self, size: usize, align: usize) -> Option<(*mut u8, usize)> {
        if size > CACHED_MAX {
            return None;
        }
        let k = class(size);
        let n = usize::from(self.counts[k]);
        let slots = &mut self.slots[k][..n];
        let i = slots
            .iter()
            // `align` is a power of two: a mask, not a division.
            .rposition(|&c| (c as usize + WORD) & (align - 1) == 0)?;
        let c = slots[i];
        // Keep the rest in age order: the newest stay on top.
        slots.copy_within(i + 1.., i);
        self.counts[k] = (n - 1) as u8;
        Some((c, MIN_CHUNK + k * GRANULE))
    }

    /// Pushes the used chunk `c` under `size`'s class. O(1). Only `c`'s
    /// address is stored; its memory is not touched. A full class makes
    /// room by handing back its oldest chunk: that one was freed by an
    /// earlier call, so the core may write into it now, while `c` (whose
    /// owner may still hold a reference for the duration of this free) may
    /// not be written. A chunk above 256 bytes is cached only if `roomy`
    /// (called only for those) says the heap is mostly free.
    #[inline(always)]
    pub(crate) fn push(&mut self, c: *mut u8, size: usize, roomy: impl FnOnce() -> bool) -> Pushed {
        if size > ALWAYS_CACHED_MAX && (size > CACHED_MAX || !roomy()) {
            return Pushed::TooLarge;
        }
        let k = class(size);
        let n = self.counts[k];
        if n < DEPTH {
            self.slots[k][usize::from(n)] = c;
            self.counts[k] = n + 1;
            return Pushed::Cached;
        }
        let slots = &mut self.slots[k];
        let oldest = slots[0];
        slots.copy_within(1.., 0);
        slots[usize::from(DEPTH) - 1] = c;
        Pushed::Evicted(oldest, MIN_CHUNK + k * GRANULE)
    }

    /// Empties the cache, handing each chunk and its class size to `free`,
    /// newest first within a class. O(cached chunks).
    pub(crate) fn drain(&mut self, mut free: impl FnMut(*mut u8, usize)) {
        for k in 0..CLASSES {
            let n = usize::from(core::mem::take(&mut self.counts[k]));
            for &c in self.slots[k][..n].iter().rev() {
                free(c, MIN_CHUNK + k * GRANULE);
            }
        }
    }

    /// Calls `f` with each cached chunk and its class size.
    pub(crate) fn for_each(&self, mut f: impl FnMut(*mut u8, usize)) {
        for k in 0..CLASSES {
            for &c in &self.slots[k][..usize::from(self.counts[k])] {
                f(c, MIN_CHUNK + k * GRANULE);
            }
        }
    }

    /// Whether any chunk is cached. O(cached size classes), for slow paths.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.iter().all(|&n| n == 0)
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

const _: () = assert!(
    CACHED_MAX.is_multiple_of(GRANULE)
        && ALWAYS_CACHED_MAX.is_multiple_of(GRANULE)
        && MIN_CHUNK <= ALWAYS_CACHED_MAX
        && ALWAYS_CACHED_MAX <= CACHED_MAX
        && CLASSES <= 256
);
const _: () = assert!(
    chunk::MIN_CHUNK > WORD,
    "a cached chunk is a used chunk with a payload"
);
