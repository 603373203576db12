//! Size classes and the two-level bitmap that finds a non-empty one in O(1).
//!
//! Chunk sizes are multiples of [`GRANULE`]. Below [`SMALL_LIMIT`] every size
//! has its own free list (segregated fits: any chunk in the list fits exactly).
//! From [`SMALL_LIMIT`] up, TLSF classes: each power of two is split into
//! [`SUB_CLASSES`] equal ranges, so the chunks of one class differ in size
//! by less than 1/64 of the smallest (finer classes than TLSF's usual 16 or
//! 32: the best heap efficiency with a look at a single chunk).

use core::ptr;

use super::chunk::{self, GRANULE, MIN_CHUNK};

/// Chunk sizes below this have one exact free list per size.
pub(crate) const SMALL_LIMIT: usize = 1024;
const SMALL_BINS: usize = SMALL_LIMIT / GRANULE;
const SMALL_LIMIT_LOG2: u32 = SMALL_LIMIT.trailing_zeros();
const SUB_BITS: u32 = 6;
/// Sub-classes per power of two above [`SMALL_LIMIT`].
pub(crate) const SUB_CLASSES: usize = 1 << SUB_BITS;
/// Number of free lists.
pub(crate) const BIN_COUNT: usize =
    SMALL_BINS + (usize::BITS - SMALL_LIMIT_LOG2) as usize * SUB_CLASSES;
const WORDS: usize = BIN_COUNT.div_ceil(64);
const _: () = assert!(WORDS <= 64, "the summary word must cover every bitmap word");

/// A free-list index, always below [`BIN_COUNT`]: the heads and bitmap
/// words it selects are read without bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bin(usize);

impl Bin {
    /// `index` as a bin, if it is one.
    #[cfg(test)]
    pub(crate) const fn new(index: usize) -> Option<Self> {
        if index < BIN_COUNT {
            Some(Self(index))
        } else {
            None
        }
    }

    /// The list's index.
    #[inline(always)]
    pub(crate) const fn index(self) -> usize {
        self.0
    }

    /// Whether every chunk in this class is at least as large as every chunk
    /// of the class below it, and exactly one size (the small, exact classes).
    #[inline(always)]
    pub(crate) const fn is_exact(self) -> bool {
        self.0 < SMALL_BINS
    }
}

/// The free list a chunk of `size` bytes belongs in (`size >= MIN_CHUNK`).
///
/// O(1): one leading-zero count, and no branch or select between the exact
/// and the TLSF classes. A size below [`SMALL_LIMIT`] is given
/// `SMALL_LIMIT`'s logarithm, at which the TLSF shift is `log2(GRANULE)`:
/// its TLSF index is then its exact index. (Computing both indices and
/// selecting one took 14 instructions on x86_64, this takes 11; a branch
/// instead of the select mispredicts when small and large sizes mix.)
#[inline(always)]
pub(crate) fn bin_of(size: usize) -> Bin {
    // `| SMALL_LIMIT` also makes the operand non-zero, so the count needs
    // no zero check.
    let log2 = (size | SMALL_LIMIT).ilog2() as usize;
    // `size >> shift` is `SUB_CLASSES` + the sub-class for a large size, or
    // the exact index (below `SUB_CLASSES`) for a small one.
    let shift = log2 - SUB_BITS as usize;
    let index = (size >> shift) + ((log2 - SMALL_LIMIT_LOG2 as usize) << SUB_BITS);
    // `log2` is at most `usize::BITS - 1` and the shifted size below
    // `2 * SUB_CLASSES`, which `BIN_COUNT` covers
    // (`classes_are_monotonic_and_cover_every_size` checks the top).
    debug_assert!(index < BIN_COUNT);
    Bin(index)
}

// Equivalently `SMALL_LIMIT >> SUB_BITS == GRANULE`.
const _: () = assert!(
    SMALL_BINS == SUB_CLASSES,
    "below `SMALL_LIMIT` the TLSF shift must give the exact classes, and the \
     first TLSF class follow the last exact one"
);
const _: () = assert!(
    ((usize::BITS - 1 - SMALL_LIMIT_LOG2) as usize) * SUB_CLASSES + (2 * SUB_CLASSES - 1)
        < BIN_COUNT,
    "`bin_of` of the largest size must be a bin"
);

/// Free-list heads plus a bitmap of the non-empty ones.
pub(crate) struct Bins {
    /// Bit `w` is set iff `words[w] != 0`.
    summary: u64,
    /// Bit `i % 64` of `words[i / 64]` is set iff `heads[i]` is non-null,
    /// for the listed classes (`i >= FIRST_LISTED`); the others stay clear.
    words: [u64; WORDS],
    /// `heads[SINK]` is no list: see [`SINK`].
    heads: [*mut u8; BIN_COUNT],
}

/// Whether bin `i` is marked in bitmap word `word` (the word `i / 64`) and
/// that word in the summary. Takes the words by value, so that a walk over
/// every bin borrows the bitmap once (see [`Bins::lists`]).
fn is_marked_in(word: u64, summary: u64, i: usize) -> bool {
    word & (1 << (i % 64)) != 0 && summary & (1 << (i / 64)) != 0
}

/// The head slot of a class no chunk belongs in (sizes below [`MIN_CHUNK`]),
/// written and never read: a list update whose neighbour is missing stores
/// here instead of branching around the store. In memory the compiler must
/// keep (a local's dead store could be dropped, bringing the branch back),
/// and not a field of its own: 8 more bytes in `Bins` shift the front
/// cache that follows it in `Heap` across cache lines, which cost 2 cycles
/// per action at 200 B.
const SINK: usize = 0;
const _: () = assert!(
    SINK < MIN_CHUNK / GRANULE,
    "no chunk may be listed in the sink's class"
);

/// The first class a chunk can be listed in.
pub(crate) const FIRST_LISTED: usize = MIN_CHUNK / GRANULE;

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
    pub(crate) fn head(&self, bin: Bin) -> *mut u8 {
        // SAFETY: a `Bin` is below `BIN_COUNT`, the length of `heads`.
        unsafe { *self.heads.get_unchecked(bin.0) }
    }

    #[inline(always)]
    fn set_head(&mut self, bin: Bin, c: *mut u8) {
        // SAFETY: as in `head`.
        unsafe { *self.heads.get_unchecked_mut(bin.0) = c }
    }

    /// Bitmap word `w` (`w < WORDS`).
    #[inline(always)]
    fn word(&self, w: usize) -> u64 {
        debug_assert!(w < WORDS);
        // SAFETY: callers pass `bin / 64` for a bin below `BIN_COUNT`, or the
        // index of a set summary bit, and summary bits are only set for
        // words below `WORDS`; both are below `WORDS`.
        unsafe { *self.words.get_unchecked(w) }
    }

    /// The first non-empty bin whose index is at least `from` (which may be
    /// `BIN_COUNT`). O(1): two trailing-zero counts.
    #[inline(always)]
    pub(crate) fn first_non_empty_from(&self, from: usize) -> Option<Bin> {
        if from >= BIN_COUNT {
            return None;
        }
        let w = from / 64;
        let bits = self.word(w) & (u64::MAX << (from % 64));
        if bits != 0 {
            // A set bit marks a non-empty list, so it is a bin.
            return Some(Bin(w * 64 + bits.trailing_zeros() as usize));
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
        Some(Bin(w * 64 + self.word(w).trailing_zeros() as usize))
    }

    /// Every class a chunk can be listed in, with its head and whether the
    /// bitmap marks it non-empty, for consistency checks. The heads are read
    /// through one pointer for the whole walk: a method call per class would
    /// retag the whole table each time, which Miri's borrow tracker pays for
    /// on every class.
    pub(crate) fn lists(&self) -> impl Iterator<Item = (Bin, *mut u8, bool)> + '_ {
        let heads = self.heads.as_ptr();
        let (words, summary) = (&self.words, self.summary);
        (FIRST_LISTED..BIN_COUNT).map(move |i| {
            let marked = is_marked_in(words[i / 64], summary, i);
            // SAFETY: `i < BIN_COUNT`, the length of `heads`.
            (Bin(i), unsafe { heads.add(i).read() }, marked)
        })
    }

    /// Whether `bin` is marked non-empty in the bitmap.
    #[cfg(test)]
    pub(crate) fn is_marked(&self, bin: Bin) -> bool {
        is_marked_in(self.word(bin.0 / 64), self.summary, bin.0)
    }

    /// The highest non-empty bin. O(1).
    pub(crate) fn last_non_empty(&self) -> Option<Bin> {
        if self.summary == 0 {
            return None;
        }
        let w = 63 - self.summary.leading_zeros() as usize;
        Some(Bin(w * 64 + 63 - self.word(w).leading_zeros() as usize))
    }

    /// Pushes the free chunk `c` onto the front of `bin`'s list. O(1).
    ///
    /// # Safety
    /// `c` must be a free chunk (valid link words) that is in no list.
    #[inline(always)]
    pub(crate) unsafe fn push(&mut self, bin: Bin, c: *mut u8) {
        let old = self.head(bin);
        // SAFETY: the caller passes a free chunk, whose link words are ours;
        // `old`, when non-null, is the free head chunk of this list, else
        // the store goes to the sink.
        unsafe {
            chunk::set_next(c, old);
            chunk::set_prev(c, ptr::null_mut());
            prev_slot(old, self.slots(bin).1).write(c);
        }
        // Marking a marked list changes nothing: cheaper than a branch on
        // whether the list was empty, which the free pattern decides.
        self.mark(bin);
        self.set_head(bin, c);
    }

    #[inline(always)]
    fn mark(&mut self, bin: Bin) {
        let w = bin.0 / 64;
        // SAFETY: `w < WORDS` as in `word`.
        unsafe { *self.words.get_unchecked_mut(w) |= 1 << (bin.0 % 64) };
        self.summary |= 1 << w;
    }

    /// Puts `new` in `old`'s place in `bin`'s list (`old` leaves it). O(1),
    /// and the bitmap is unchanged.
    ///
    /// # Safety
    /// `old` is in `bin`'s list; `new` is a free chunk in no list.
    #[inline(always)]
    pub(crate) unsafe fn replace(&mut self, bin: Bin, old: *mut u8, new: *mut u8) {
        let (head, sink) = self.slots(bin);
        // SAFETY: `old`, its list neighbours and `new` are free chunks whose
        // link words this allocator owns; `old`'s links are read first. A
        // missing neighbour's store goes to the list head or the sink.
        unsafe {
            let next = chunk::next(old);
            let prev = chunk::prev(old);
            chunk::set_next(new, next);
            chunk::set_prev(new, prev);
            prev_slot(next, sink).write(new);
            next_slot(prev, head).write(new);
        }
    }

    /// Removes the free chunk `c` of `size` bytes from its list. O(1).
    ///
    /// # Safety
    /// `c` must be in the list of its size's class.
    #[inline(always)]
    pub(crate) unsafe fn unlink_sized(&mut self, c: *mut u8, size: usize) {
        // SAFETY: forwarded.
        unsafe { self.unlink(bin_of(size), c) }
    }

    /// Removes the free chunk `c` from `bin`'s list. O(1).
    ///
    /// Without a branch on where `c` sits in its list: whether it has
    /// neighbours depends on the order of frees, which a branch predictor
    /// cannot learn (on the 30 kB trace, dropping the branches here and in
    /// `replace` and `push` took mispredictions from 1.95 to 1.33 per
    /// action).
    ///
    /// # Safety
    /// `c` must be in `bin`'s list.
    #[inline(always)]
    pub(crate) unsafe fn unlink(&mut self, bin: Bin, c: *mut u8) {
        let (head, sink) = self.slots(bin);
        // SAFETY: `c` and its neighbours in the list are free chunks whose
        // link words this allocator owns; a missing neighbour's store goes
        // to the list head or the sink.
        let emptied = unsafe {
            let next = chunk::next(c);
            let prev = chunk::prev(c);
            prev_slot(next, sink).write(prev);
            next_slot(prev, head).write(next);
            (next as usize | prev as usize) == 0
        };
        let w = bin.0 / 64;
        // SAFETY: `w < WORDS` as in `word`.
        let word = unsafe { self.words.get_unchecked_mut(w) };
        *word &= !(u64::from(emptied) << (bin.0 % 64));
        self.summary &= !(u64::from(*word == 0) << w);
    }

    /// Where `heads[bin]` and `heads[SINK]` live, both from one borrow of
    /// `heads` (a second borrow would invalidate the first pointer).
    #[inline(always)]
    fn slots(&mut self, bin: Bin) -> (*mut *mut u8, *mut *mut u8) {
        let heads = self.heads.as_mut_ptr();
        // SAFETY: as in `head`; `SINK < BIN_COUNT` too.
        unsafe { (heads.add(bin.0), heads.add(SINK)) }
    }
}

/// Where the free chunk `c`'s backward link lives, or `other` if `c` is
/// null: the caller stores without a branch on `c`.
#[inline(always)]
fn prev_slot(c: *mut u8, other: *mut *mut u8) -> *mut *mut u8 {
    core::hint::select_unpredictable(c.is_null(), other, chunk::prev_link(c))
}

/// Where the free chunk `c`'s forward link lives, or `other` if `c` is
/// null.
#[inline(always)]
fn next_slot(c: *mut u8, other: *mut *mut u8) -> *mut *mut u8 {
    core::hint::select_unpredictable(c.is_null(), other, chunk::next_link(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_monotonic_and_cover_every_size() {
        let mut last = bin_of(MIN_CHUNK).index();
        let mut size = MIN_CHUNK;
        let limit = if cfg!(miri) { 1 << 16 } else { 1 << 24 };
        while size < limit {
            let b = bin_of(size).index();
            assert!(
                b == last || b == last + 1,
                "gap at size {size}: {last} -> {b}"
            );
            assert!(b < BIN_COUNT);
            last = b;
            size += GRANULE;
        }
        assert!(bin_of(usize::MAX & !(GRANULE - 1)).index() < BIN_COUNT);
        assert_eq!(bin_of(usize::MAX & !(GRANULE - 1)).index(), BIN_COUNT - 1);
    }

    /// The classes as the module docs define them, written the long way:
    /// one exact list per size below `SMALL_LIMIT`, then `SUB_CLASSES`
    /// equal ranges per power of two.
    fn reference_bin(size: usize) -> usize {
        if size < SMALL_LIMIT {
            return size / GRANULE;
        }
        let log2 = size.ilog2();
        let width = 1usize << (log2 - SUB_BITS);
        let sub = (size - (1usize << log2)) / width;
        SMALL_BINS + (log2 - SMALL_LIMIT_LOG2) as usize * SUB_CLASSES + sub
    }

    #[test]
    fn classes_match_their_definition() {
        let mut sizes: Vec<usize> = (MIN_CHUNK..1 << 16).step_by(GRANULE).collect();
        for log2 in 16..usize::BITS {
            let base = 1usize << log2;
            let width = base >> SUB_BITS;
            for sub in [0, 1, SUB_CLASSES / 2, SUB_CLASSES - 1] {
                let start = base + sub * width;
                sizes.extend([start, start + GRANULE, start + (width - GRANULE)]);
            }
        }
        for size in sizes {
            assert_eq!(bin_of(size).index(), reference_bin(size), "size {size}");
        }
        assert_eq!(bin_of(SMALL_LIMIT - GRANULE).index(), SMALL_BINS - 1);
        assert_eq!(bin_of(SMALL_LIMIT).index(), SMALL_BINS);
    }

    #[test]
    fn bitmap_finds_next_non_empty() {
        let mut bins = Bins::new();
        let mut a = [0usize; 4];
        let mut b = [0usize; 4];
        let pa = a.as_mut_ptr().cast::<u8>();
        let pb = b.as_mut_ptr().cast::<u8>();
        let (b5, b700) = (Bin::new(5).unwrap(), Bin::new(700).unwrap());
        assert_eq!(Bin::new(BIN_COUNT), None);
        assert_eq!(bins.first_non_empty_from(0), None);
        // SAFETY: both arrays are large enough for the link words and in no list.
        unsafe {
            bins.push(b5, pa);
            bins.push(b700, pb);
        }
        assert_eq!(bins.first_non_empty_from(0), Some(b5));
        assert_eq!(bins.first_non_empty_from(6), Some(b700));
        assert_eq!(bins.first_non_empty_from(701), None);
        assert_eq!(bins.first_non_empty_from(BIN_COUNT), None);
        assert_eq!(bins.last_non_empty(), Some(b700));
        // SAFETY: `pa` is in bin 5.
        unsafe { bins.unlink(b5, pa) };
        assert_eq!(bins.first_non_empty_from(0), Some(b700));
        // SAFETY: `pb` is in bin 700.
        unsafe { bins.unlink(b700, pb) };
        assert_eq!(bins.last_non_empty(), None);
        assert_eq!(bins.first_non_empty_from(0), None);
    }

    /// Walks `bin`'s list forwards, checking every backward link on the way.
    fn members(bins: &Bins, bin: Bin) -> Vec<*mut u8> {
        let mut out = Vec::new();
        let mut prev = ptr::null_mut();
        let mut c = bins.head(bin);
        while !c.is_null() {
            // SAFETY: list members are the test's arrays, valid link words.
            unsafe {
                assert_eq!(chunk::prev(c), prev);
                out.push(c);
                prev = c;
                c = chunk::next(c);
            }
        }
        out
    }

    #[test]
    fn unlink_and_replace_at_head_middle_and_tail() {
        let mut bins = Bins::new();
        let mut mem = [[0usize; 4]; 4];
        let [a, b, c, d] = mem.each_mut().map(|m| m.as_mut_ptr().cast::<u8>());
        let bin = Bin::new(300).unwrap();
        // SAFETY: the arrays are large enough for the link words; each is in
        // at most one list at a time, as each call requires.
        unsafe {
            bins.push(bin, c);
            bins.push(bin, b);
            bins.push(bin, a);
            assert_eq!(members(&bins, bin), [a, b, c]);
            bins.replace(bin, b, d);
            assert_eq!(members(&bins, bin), [a, d, c]);
            bins.replace(bin, a, b);
            assert_eq!(members(&bins, bin), [b, d, c]);
            bins.replace(bin, c, a);
            assert_eq!(members(&bins, bin), [b, d, a]);
            bins.unlink(bin, d);
            assert_eq!(members(&bins, bin), [b, a]);
            bins.unlink(bin, a);
            assert_eq!(members(&bins, bin), [b]);
            assert!(bins.is_marked(bin));
            bins.replace(bin, b, c);
            assert_eq!(members(&bins, bin), [c]);
            bins.unlink(bin, c);
        }
        assert!(members(&bins, bin).is_empty());
        assert!(!bins.is_marked(bin));
        assert_eq!(bins.first_non_empty_from(0), None);
    }
}
