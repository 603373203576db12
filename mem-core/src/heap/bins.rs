//! Size classes and the two-level bitmap that finds a non-empty one in O(1).
//!
//! Chunk sizes are multiples of [`GRANULE`]. Below [`SMALL_LIMIT`] every size
//! has its own free list (segregated fits: any chunk in the list fits exactly).
//! From [`SMALL_LIMIT`] up, TLSF classes: each power of two is split into
//! [`SUB_CLASSES`] equal ranges, so a chunk taken from a class above the
//! request's own wastes at most 1/16 of the request before splitting.

use core::ptr;

use super::chunk::{self, GRANULE};

/// Chunk sizes below this have one exact free list per size.
pub(crate) const SMALL_LIMIT: usize = 1024;
const SMALL_BINS: usize = SMALL_LIMIT / GRANULE;
const SMALL_LIMIT_LOG2: u32 = SMALL_LIMIT.trailing_zeros();
const SUB_BITS: u32 = 4;
/// Sub-classes per power of two above [`SMALL_LIMIT`].
pub(crate) const SUB_CLASSES: usize = 1 << SUB_BITS;
/// Number of free lists.
pub(crate) const BIN_COUNT: usize =
    SMALL_BINS + (usize::BITS - SMALL_LIMIT_LOG2) as usize * SUB_CLASSES;
const WORDS: usize = BIN_COUNT.div_ceil(64);
const _: () = assert!(WORDS <= 64, "the summary word must cover every bitmap word");

/// The free list a chunk of `size` bytes belongs in (`size >= MIN_CHUNK`).
///
/// O(1): one leading-zero count.
#[inline(always)]
pub(crate) fn bin_of(size: usize) -> usize {
    // `size >> (log2 - SUB_BITS)` is 16 + the sub-class, so one shift-add
    // per term gives the TLSF index; both candidates are cheap enough to
    // compute and select without a branch (small and large sizes mix).
    let log2 = usize::BITS - 1 - size.leading_zeros();
    let large = ((log2 as usize) << SUB_BITS)
        .wrapping_add(size >> (log2.wrapping_sub(SUB_BITS) & (usize::BITS - 1)))
        .wrapping_sub(LARGE_BIAS);
    if size < SMALL_LIMIT {
        size / GRANULE
    } else {
        large
    }
}

/// `(log2 + 1) * SUB_CLASSES - SMALL_BINS` at the first large size, so that
/// `SMALL_LIMIT` maps to class `SMALL_BINS`.
const LARGE_BIAS: usize = (SMALL_LIMIT_LOG2 as usize + 1) * SUB_CLASSES - SMALL_BINS;

/// Whether every chunk in `bin` is at least as large as every chunk of the
/// size class below it, and exactly one size (the small, exact classes).
#[inline(always)]
pub(crate) fn is_exact(bin: usize) -> bool {
    bin < SMALL_BINS
}

/// Free-list heads plus a bitmap of the non-empty ones.
pub(crate) struct Bins {
    /// Bit `w` is set iff `words[w] != 0`.
    summary: u64,
    /// Bit `i % 64` of `words[i / 64]` is set iff `heads[i]` is non-null.
    words: [u64; WORDS],
    heads: [*mut u8; BIN_COUNT],
}

impl Bins {
    pub(crate) const fn new() -> Self {
        Self {
            words: [0; WORDS],
            summary: 0,
            heads: [ptr::null_mut(); BIN_COUNT],
        }
    }

    /// Head chunk of `bin`, or null. O(1).
    #[inline(always)]
    pub(crate) fn head(&self, bin: usize) -> *mut u8 {
        self.heads[bin]
    }

    /// The first non-empty bin at or above `bin`. O(1): two trailing-zero counts.
    #[inline(always)]
    pub(crate) fn first_non_empty_from(&self, bin: usize) -> Option<usize> {
        if bin >= BIN_COUNT {
            return None;
        }
        let w = bin / 64;
        let bits = self.words[w] & (u64::MAX << (bin % 64));
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        let higher = if w + 1 >= 64 {
            0
        } else {
            self.summary & (u64::MAX << (w + 1))
        };
        if higher == 0 {
            return None;
        }
        let w = higher.trailing_zeros() as usize;
        Some(w * 64 + self.words[w].trailing_zeros() as usize)
    }

    /// Whether `bin` is marked non-empty in the bitmap.
    pub(crate) fn is_marked(&self, bin: usize) -> bool {
        self.words[bin / 64] & (1 << (bin % 64)) != 0 && self.summary & (1 << (bin / 64)) != 0
    }

    /// The highest non-empty bin. O(1).
    pub(crate) fn last_non_empty(&self) -> Option<usize> {
        if self.summary == 0 {
            return None;
        }
        let w = 63 - self.summary.leading_zeros() as usize;
        Some(w * 64 + 63 - self.words[w].leading_zeros() as usize)
    }

    /// Pushes the free chunk `c` onto the front of `bin`'s list. O(1).
    ///
    /// # Safety
    /// `c` must be a free chunk (valid link words) that is in no list.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, bin: usize, c: *mut u8) {
        let old = self.heads[bin];
        // SAFETY: the caller passes a free chunk, whose link words are ours;
        // `old`, when non-null, is the free head chunk of this list.
        unsafe {
            chunk::set_next(c, old);
            chunk::set_prev(c, ptr::null_mut());
            if old.is_null() {
                // Only an empty list changes the bitmap.
                self.words[bin / 64] |= 1 << (bin % 64);
                self.summary |= 1 << (bin / 64);
            } else {
                chunk::set_prev(old, c);
            }
        }
        self.heads[bin] = c;
    }

    /// Puts `new` in `old`'s place in `bin`'s list (`old` leaves it). O(1),
    /// and the bitmap is unchanged.
    ///
    /// # Safety
    /// `old` is in `bin`'s list; `new` is a free chunk in no list.
    #[inline(always)]
    pub(crate) unsafe fn replace(&mut self, bin: usize, old: *mut u8, new: *mut u8) {
        // SAFETY: `old`, its list neighbours and `new` are free chunks whose
        // link words this allocator owns; `old`'s links are read first.
        unsafe {
            let next = chunk::next(old);
            let prev = chunk::prev(old);
            chunk::set_next(new, next);
            chunk::set_prev(new, prev);
            if !next.is_null() {
                chunk::set_prev(next, new);
            }
            if prev.is_null() {
                self.heads[bin] = new;
            } else {
                chunk::set_next(prev, new);
            }
        }
    }

    /// Removes the free chunk `c` of `size` bytes from its list. O(1). The
    /// class is computed only when `c` heads its list.
    ///
    /// # Safety
    /// `c` must be in the list of its size's class.
    #[inline(always)]
    pub(crate) unsafe fn unlink_sized(&mut self, c: *mut u8, size: usize) {
        // SAFETY: forwarded; a chunk with a predecessor never touches `bin`.
        unsafe {
            if chunk::prev(c).is_null() {
                self.unlink(bin_of(size), c);
            } else {
                self.unlink(usize::MAX, c);
            }
        }
    }

    /// Removes the free chunk `c` from `bin`'s list. O(1).
    ///
    /// # Safety
    /// `c` must be in `bin`'s list (`bin` is unused if `c` is not its head).
    #[inline(always)]
    pub(crate) unsafe fn unlink(&mut self, bin: usize, c: *mut u8) {
        // SAFETY: `c` and its neighbours in the list are free chunks whose
        // link words this allocator owns.
        unsafe {
            let next = chunk::next(c);
            let prev = chunk::prev(c);
            if !next.is_null() {
                chunk::set_prev(next, prev);
            }
            if prev.is_null() {
                self.heads[bin] = next;
                if next.is_null() {
                    let w = bin / 64;
                    self.words[w] &= !(1 << (bin % 64));
                    if self.words[w] == 0 {
                        self.summary &= !(1 << w);
                    }
                }
            } else {
                chunk::set_next(prev, next);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::chunk::MIN_CHUNK;

    #[test]
    fn classes_are_monotonic_and_cover_every_size() {
        let mut last = bin_of(MIN_CHUNK);
        let mut size = MIN_CHUNK;
        let limit = if cfg!(miri) { 1 << 16 } else { 1 << 24 };
        while size < limit {
            let b = bin_of(size);
            assert!(
                b == last || b == last + 1,
                "gap at size {size}: {last} -> {b}"
            );
            assert!(b < BIN_COUNT);
            last = b;
            size += GRANULE;
        }
        assert!(bin_of(usize::MAX & !(GRANULE - 1)) < BIN_COUNT);
    }

    #[test]
    fn bitmap_finds_next_non_empty() {
        let mut bins = Bins::new();
        let mut a = [0usize; 4];
        let mut b = [0usize; 4];
        let pa = a.as_mut_ptr().cast::<u8>();
        let pb = b.as_mut_ptr().cast::<u8>();
        assert_eq!(bins.first_non_empty_from(0), None);
        // SAFETY: both arrays are large enough for the link words and in no list.
        unsafe {
            bins.push(5, pa);
            bins.push(700, pb);
        }
        assert_eq!(bins.first_non_empty_from(0), Some(5));
        assert_eq!(bins.first_non_empty_from(6), Some(700));
        assert_eq!(bins.first_non_empty_from(701), None);
        assert_eq!(bins.last_non_empty(), Some(700));
        // SAFETY: `pa` is in bin 5.
        unsafe { bins.unlink(5, pa) };
        assert_eq!(bins.first_non_empty_from(0), Some(700));
        // SAFETY: `pb` is in bin 700.
        unsafe { bins.unlink(700, pb) };
        assert_eq!(bins.last_non_empty(), None);
        assert_eq!(bins.first_non_empty_from(0), None);
    }
}
