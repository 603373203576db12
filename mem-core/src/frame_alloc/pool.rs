//! [`FramePool`]: a hierarchical-bitmap frame allocator.

use core::fmt;

use super::layout::{CHUNK, Layout, RANGE_WORDS, SEG_WORDS, walk};

/// Capacity of the recently-freed cache: enough to absorb bursts of
/// alloc/free pairs (page tables, DMA buffers), small enough to flush in
/// well under a microsecond.
const RECENT: usize = 16;

/// `FramePool::last_out` when no frame qualifies: not 4 KiB-aligned, so no
/// frame's start address.
const NO_FRAME: u64 = u64::MAX;

/// Level-0 words per 2 MiB chunk.
const WORDS_PER_CHUNK: usize = CHUNK as usize / 64;
/// A chunk's bits in its level-1 summary word.
const CHUNK_SUMMARY_MASK: u64 = (1 << WORDS_PER_CHUNK) - 1;
use super::{FrameAllocError, FrameAllocator, FrameFreeError};
use crate::addr::PhysAddr;
use crate::memory_map::MemoryMap;
use crate::page::{FRAME_SIZE, FrameRange, PhysFrame};

/// Why a [`FramePool`] could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FramePoolInitError {
    /// The map changed since its last [`MemoryMap::normalize`]; it may list
    /// reserved memory as usable.
    NotNormalized,
    /// The storage slice is shorter than
    /// [`FramePool::metadata_words`] requires.
    StorageTooSmall {
        /// Words required.
        needed: usize,
        /// Words given.
        got: usize,
    },
    /// No usable range is large enough to hold the metadata itself
    /// ([`FramePool::new_in_place`]).
    NoRoomForMetadata {
        /// Bytes the metadata needs.
        needed_bytes: usize,
    },
    /// The metadata's physical address plus the given offset is null,
    /// misaligned for `u64`, or wraps past the end of the address space
    /// ([`FramePool::new_in_place`]).
    MetadataUnaddressable {
        /// Physical address of the metadata.
        phys: PhysAddr,
        /// The offset given.
        phys_offset: u64,
    },
    /// The map spans more frames than this target's `usize` can index.
    TooLarge,
}

impl fmt::Display for FramePoolInitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotNormalized => f.write_str("memory map was not normalized"),
            Self::StorageTooSmall { needed, got } => {
                write!(
                    f,
                    "frame pool storage too small: {got} words given, {needed} needed"
                )
            }
            Self::NoRoomForMetadata { needed_bytes } => write!(
                f,
                "no usable memory range can hold the frame pool's {needed_bytes} bytes of metadata"
            ),
            Self::MetadataUnaddressable { phys, phys_offset } => write!(
                f,
                "frame pool metadata at {phys} is not addressable with offset {phys_offset:#x}"
            ),
            Self::TooLarge => f.write_str("memory map spans more frames than usize can index"),
        }
    }
}

impl core::error::Error for FramePoolInitError {}

/// The frame allocator: a two-part hierarchical bitmap over every usable
/// range of a [`MemoryMap`].
///
/// One bit per frame (set = free) with a summary word per 64 words up to a
/// single top word, plus a second, smaller hierarchy with one bit per
/// 2 MiB-aligned chunk of 512 frames that may be entirely free. The metadata
/// is about 1.02 bits per managed frame, 0.0031% of managed memory (33 KiB
/// for 1 GiB), plus at most as much again for holes between ranges that
/// share a segment (see [`metadata_words`](Self::metadata_words)).
///
/// Every single-frame free goes to a LIFO of up to 16 recently freed frames
/// (flushed into the bitmap when full), and single-frame allocations take
/// from it first: a recently freed frame is the one most likely still in the
/// CPU's caches, and taking it back touches no bitmap word at all. With the
/// cache empty, frames come lowest address first, which keeps high memory in
/// whole free chunks for contiguous requests; a cursor remembers the lowest
/// non-empty bitmap word, so even then an allocation usually costs one load.
/// A cached frame keeps its bit clear (used) until the cache is flushed, so
/// a free checks both records: a set bit, or the frame already in the cache,
/// is a double free. Every search or bulk update flushes the cache first.
///
/// The chunk marks are kept as a superset: every entirely free chunk is
/// marked (once the cache is flushed), but single-frame allocations do not
/// clear the mark of the chunk they take from (that keeps the alloc/free
/// pair free of chunk work). A contiguous search checks each mark it uses
/// and drops a stale one, so each stale mark costs one 8-word check, once.
///
/// Complexity, with `L` = levels of the hierarchy (3 up to 1 GiB, 4 up to
/// 64 GiB, 5 up to 4 TiB), `S` = segments and `R` = usable ranges (both at
/// most [`MemoryMap::CAPACITY`], usually 1 to 4); the last range and segment
/// used are cached, so the `log` terms are usually zero:
/// - [`allocate_frame`](FrameAllocator::allocate_frame): O(1) from the
///   recently-freed cache or when the word at the cursor has a free frame,
///   otherwise O(L); plus O(log S).
/// - [`deallocate_frame`](FrameAllocator::deallocate_frame): O(1) into the
///   cache (one bitmap load and a scan of at most 16 cached entries), plus
///   O(16 · L) once every 16 frees at most to flush it; plus O(log R).
/// - [`allocate_contiguous`](FrameAllocator::allocate_contiguous)`(count,
///   align)`: with `count` and `align` both at least 512 (2 MiB), O(L) per
///   marked chunk examined plus O(count / 64) to check and mark the run;
///   otherwise O(L) per free stretch too short or misaligned, plus
///   O(count / 64). Each segment is searched in turn. Plus O(16 · L) to
///   flush the recently-freed cache.
/// - [`deallocate_contiguous`](FrameAllocator::deallocate_contiguous):
///   O(log R + count / 64), whole chunks eight words at a time; plus the
///   cache flush.
/// - [`free_frames`](FrameAllocator::free_frames),
///   [`total_frames`](FrameAllocator::total_frames): O(1).
/// - [`new`](Self::new): O(R + managed frames / 64).
///
/// ```
/// use mem_core::{FrameAllocator, FramePool, MemoryMap, RegionKind};
///
/// let mut map = MemoryMap::new();
/// map.add(0x10_0000, 64 << 20, RegionKind::Usable)?;
/// map.normalize();
/// let mut storage = vec![0u64; FramePool::metadata_words(&map)];
/// let mut pool = FramePool::new(&map, &mut storage)?;
/// let frame = pool.allocate_frame()?;
/// assert_eq!(frame.start_address().as_u64(), 0x10_0000);
/// let run = pool.allocate_contiguous(512, 512)?; // 2 MiB, 2 MiB-aligned
/// assert_eq!(run.start_address().as_u64() % (2 << 20), 0);
/// pool.deallocate_contiguous(run)?;
/// pool.deallocate_frame(frame)?;
/// assert_eq!(pool.free_frames(), pool.total_frames());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FramePool<'a> {
    s: &'a mut [u64],
    layout: Layout,
    /// Free frames the bitmap shows; the recently-freed cache holds
    /// `recent_len` more, so a pair served by the cache keeps this as is.
    free: usize,
    total: usize,
    metadata: Option<FrameRange>,
    /// Index in `s` of the first level-0 (frame) word, copied out of the
    /// layout for the hot paths. Invariant: `bits + level-0 words <=
    /// s.len()`, so every bit index of a managed frame has its word in `s`.
    bits: usize,
    /// Every level-0 word below this one is zero (all used), cached frames'
    /// bits aside: single-frame allocation looks here first (only with the
    /// cache empty) and skips the descent.
    hint: usize,
    /// Recently freed frames (managed frames), handed out
    /// again first, LIFO; `recent_len <= RECENT`. Their level-0 bits stay
    /// clear (used) until a flush sets them and reports them to the
    /// summaries and chunk marks, so these are the only free frames the
    /// bitmap does not show. Every path that reads or writes the bitmap in
    /// bulk flushes the cache first.
    ///
    /// Frames, not bit indices: an alloc/free pair then hands back exactly
    /// what it was given, and the index arithmetic stays off the chain of
    /// loads and stores that links one pair to the next.
    recent: [PhysFrame; RECENT],
    recent_len: usize,
    /// Start address of the frame handed out last by `allocate_frame`, if
    /// it has not been freed since (else `NO_FRAME`). Freeing that frame is
    /// the commonest pattern (a scratch table, a bounce buffer) and needs
    /// no bitmap or cache check: it is known to be allocated and managed.
    last_out: u64,
    /// The range used last, `(start frame, length, first bit)`, and the
    /// segment, `(first bit, length, frame number minus bit index)`, each
    /// checked with one comparison: with one or two ranges, frees and
    /// allocations skip the binary searches.
    last_range: (u64, u64, u64),
    last_segment: (u64, u64, u64),
}

/// The usable ranges of `map` as frame numbers, minus `carve` (which must be
/// the tail of one of them).
fn ranges_of(map: &MemoryMap, carve: Option<FrameRange>) -> impl Iterator<Item = (u64, u64)> + '_ {
    map.usable().filter_map(move |r| {
        let (s, mut e) = (r.start.number(), r.end.number());
        if let Some(c) = carve
            && c.end.number() == e
            && c.start.number() >= s
        {
            e = c.start.number();
        }
        (s < e).then_some((s, e))
    })
}

impl<'a> FramePool<'a> {
    /// Words of storage [`new`](Self::new) needs for `map`.
    ///
    /// # Panics
    /// If `map` is not normalised (see [`MemoryMap::usable`]).
    pub fn metadata_words(map: &MemoryMap) -> usize {
        Layout::compute(ranges_of(map, None)).map_or(usize::MAX, |l| l.words)
    }

    /// Builds a pool over the usable memory of `map`, keeping its metadata in
    /// `storage` (at least [`metadata_words`](Self::metadata_words) long;
    /// extra words are left alone). All usable frames start free.
    ///
    /// # Errors
    /// [`FramePoolInitError::NotNormalized`],
    /// [`FramePoolInitError::StorageTooSmall`],
    /// [`FramePoolInitError::TooLarge`].
    ///
    /// Complexity: O(R + managed frames / 64).
    pub fn new(map: &MemoryMap, storage: &'a mut [u64]) -> Result<Self, FramePoolInitError> {
        Self::build(map, None, storage)
    }

    /// Builds a pool that keeps its metadata in usable memory taken from
    /// `map` itself: the tail of the largest usable range (the lowest, among
    /// equals), which is then no longer managed. The metadata is accessed at
    /// its physical address plus `phys_offset`, modulo 2^64 (0 before paging
    /// on RISC-V; the bootloader's physical-memory offset on x86_64).
    ///
    /// The frames taken are reported by
    /// [`metadata_frames`](Self::metadata_frames): about 33 KiB per GiB
    /// managed, so [`total_frames`](FrameAllocator::total_frames) is the
    /// usable frames of `map` minus those.
    ///
    /// Complexity: as [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new), and
    /// [`FramePoolInitError::NoRoomForMetadata`] or
    /// [`FramePoolInitError::MetadataUnaddressable`].
    ///
    /// # Safety
    /// Every usable frame of `map` must be RAM that nothing else uses or will
    /// use except through this pool, readable and writable at its physical
    /// address plus `phys_offset` for the rest of the program, and no Rust
    /// reference may point into it.
    pub unsafe fn new_in_place(
        map: &MemoryMap,
        phys_offset: u64,
    ) -> Result<FramePool<'static>, FramePoolInitError> {
        if !map.is_normalized() {
            return Err(FramePoolInitError::NotNormalized);
        }
        let needed = Self::metadata_words(map).saturating_mul(8);
        let host = map
            .usable()
            .fold(None::<FrameRange>, |best, r| match best {
                Some(b) if b.len() >= r.len() => Some(b),
                _ => Some(r),
            })
            .ok_or(FramePoolInitError::NoRoomForMetadata {
                needed_bytes: needed,
            })?;
        let mut frames = (needed as u64).div_ceil(FRAME_SIZE);
        // Carving shortens a range, which can only split a segment in two and
        // so add a few words; grow the carve until the metadata fits.
        loop {
            if frames > host.len() {
                return Err(FramePoolInitError::NoRoomForMetadata {
                    needed_bytes: needed,
                });
            }
            let end = host.end;
            let start = PhysFrame::containing_address(end.start_address() - frames * FRAME_SIZE);
            let carve = PhysFrame::range(start, end);
            let layout = Layout::compute(ranges_of(map, Some(carve)))
                .map_err(|_| FramePoolInitError::TooLarge)?;
            let words = usize::try_from(frames * (FRAME_SIZE / 8))
                .map_err(|_| FramePoolInitError::TooLarge)?;
            if layout.words > words {
                frames += 1;
                continue;
            }
            let phys = carve.start_address();
            // Wrapping: an offset that maps memory below its physical
            // address is 2^64 minus the distance. Only the slice itself
            // must not wrap around the address space.
            let virt = phys.as_u64().wrapping_add(phys_offset);
            let aligned = virt % core::mem::align_of::<u64>() as u64 == 0;
            if virt.checked_add(frames * FRAME_SIZE).is_none() || virt == 0 || !aligned {
                return Err(FramePoolInitError::MetadataUnaddressable { phys, phys_offset });
            }
            // SAFETY: the caller guarantees that usable memory, which `carve`
            // is part of, is RAM accessible at phys + phys_offset, unused
            // elsewhere and unaliased for 'static. The carved frames leave
            // the pool's managed ranges, so the pool never hands them out.
            // The address is frame-aligned, hence aligned for u64.
            let storage: &'static mut [u64] =
                unsafe { core::slice::from_raw_parts_mut(virt as usize as *mut u64, words) };
            return FramePool::build(map, Some(carve), storage);
        }
    }

    fn build(
        map: &MemoryMap,
        carve: Option<FrameRange>,
        s: &'a mut [u64],
    ) -> Result<Self, FramePoolInitError> {
        if !map.is_normalized() {
            return Err(FramePoolInitError::NotNormalized);
        }
        let layout =
            Layout::compute(ranges_of(map, carve)).map_err(|_| FramePoolInitError::TooLarge)?;
        if s.len() < layout.words {
            return Err(FramePoolInitError::StorageTooSmall {
                needed: layout.words,
                got: s.len(),
            });
        }
        let total =
            usize::try_from(layout.total_frames).map_err(|_| FramePoolInitError::TooLarge)?;
        s[..layout.words].fill(0);
        {
            let (tables, _) = s.split_at_mut(layout.seg_off + layout.segments * SEG_WORDS);
            let (range_words, seg_words) = tables.split_at_mut(layout.seg_off);
            walk(
                ranges_of(map, carve),
                |i, start, end, first| {
                    range_words[i * RANGE_WORDS..][..RANGE_WORDS]
                        .copy_from_slice(&[start, end, first]);
                },
                |i, base, first, end| {
                    seg_words[i * SEG_WORDS..][..SEG_WORDS].copy_from_slice(&[base, first, end]);
                },
            );
        }
        let mut pool = Self {
            s,
            layout,
            free: 0,
            total,
            metadata: carve,
            bits: layout.frames.base(),
            hint: 0,
            recent: [PhysFrame::containing_address(PhysAddr::ZERO); RECENT],
            recent_len: 0,
            last_out: NO_FRAME,
            last_range: (0, 0, 0),
            last_segment: (0, 0, 0),
        };
        for r in 0..layout.ranges {
            let (start, end, first) = pool.range(r);
            pool.mark_free(first as usize, (end - start) as usize);
        }
        debug_assert_eq!(pool.free, total);
        pool.hint = 0;
        Ok(pool)
    }

    /// Bytes of metadata in use (the storage prefix, or the carved frames'
    /// used part for [`new_in_place`](Self::new_in_place)).
    pub fn metadata_bytes(&self) -> usize {
        self.layout.words * 8
    }

    /// The frames [`new_in_place`](Self::new_in_place) took for its metadata.
    pub fn metadata_frames(&self) -> Option<FrameRange> {
        self.metadata
    }

    /// Number of usable ranges managed.
    pub fn ranges(&self) -> usize {
        self.layout.ranges
    }

    /// Whether `frame` is free (not handed out). Frames this pool does not
    /// manage are reported as not free.
    pub fn is_free(&self, frame: PhysFrame) -> bool {
        self.index_of(frame.number())
            .is_some_and(|i| self.layout.frames.test(self.s, i) || self.cached().contains(&frame))
    }

    // ---- tables ----

    #[inline(always)]
    fn range(&self, r: usize) -> (u64, u64, u64) {
        let w = &self.s[r * RANGE_WORDS..][..RANGE_WORDS];
        (w[0], w[1], w[2])
    }

    #[inline(always)]
    fn segment(&self, g: usize) -> (u64, u64, u64) {
        let w = &self.s[self.layout.seg_off + g * SEG_WORDS..][..SEG_WORDS];
        (w[0], w[1], w[2])
    }

    /// The range holding frame number `f`.
    #[inline]
    fn range_of(&self, f: u64) -> Option<(u64, u64, u64)> {
        let (mut lo, mut hi) = (0, self.layout.ranges);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.range(mid).0 <= f {
                lo = mid
            } else {
                hi = mid
            }
        }
        if hi == 0 {
            return None;
        }
        let r = self.range(lo);
        (r.0 <= f && f < r.1).then_some(r)
    }

    /// Bit index of managed frame number `f`.
    #[inline]
    fn index_of(&self, f: u64) -> Option<usize> {
        self.range_of(f)
            .map(|(start, _, first)| (first + (f - start)) as usize)
    }

    /// The range holding frame number `f`, `(start, end, first bit)`,
    /// through the one-entry cache.
    #[inline(always)]
    fn range_of_cached(&mut self, f: u64) -> Option<(u64, u64, u64)> {
        let (start, len, first) = self.last_range;
        if f.wrapping_sub(start) < len {
            return Some((start, start + len, first));
        }
        let r = self.range_of(f)?;
        self.last_range = (r.0, r.1 - r.0, r.2);
        Some(r)
    }

    /// The segment holding bit `i`.
    #[inline]
    fn segment_of_index(&self, i: usize) -> (u64, u64, u64) {
        let (mut lo, mut hi) = (0, self.layout.segments);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.segment(mid).1 <= i as u64 {
                lo = mid
            } else {
                hi = mid
            }
        }
        self.segment(lo)
    }

    /// The frame of bit `i`, which must belong to a managed frame.
    #[inline(always)]
    fn frame_of(&mut self, i: usize) -> PhysFrame {
        let (first, len, delta) = self.last_segment;
        let number = if (i as u64).wrapping_sub(first) < len {
            (i as u64).wrapping_add(delta)
        } else {
            self.frame_number_other_segment(i)
        };
        // SAFETY: bit i is inside a managed range of a normalised map, whose
        // frames are aligned and below MemoryMap::END, so the product neither
        // overflows nor leaves the physical address space.
        unsafe {
            PhysFrame::from_start_address_unchecked(PhysAddr::new_unchecked(number * FRAME_SIZE))
        }
    }

    /// [`frame_of`](Self::frame_of) outside the cached segment: searches
    /// the segments and caches the one found.
    #[inline(never)]
    fn frame_number_other_segment(&mut self, i: usize) -> u64 {
        let (base, first, end) = self.segment_of_index(i);
        let delta = base.wrapping_sub(first);
        self.last_segment = (first, end - first, delta);
        (i as u64).wrapping_add(delta)
    }

    /// Level-0 word `w`.
    ///
    /// # Safety
    /// `w` must be the word of a bit index of a managed frame (or below the
    /// level-0 word count): then `bits + w < s.len()` (see `bits`).
    #[inline(always)]
    unsafe fn word0_mut(&mut self, w: usize) -> &mut u64 {
        debug_assert!(w < self.layout.frames.level_words(0));
        // A raw place projection, not a slice method: under Miri a method
        // call would retag the whole storage slice on every access.
        let words: *mut u64 = (&raw mut *self.s).cast();
        // SAFETY: the caller keeps w below the level-0 word count, and the
        // layout's words, level 0 included, fit in s (checked in `build`),
        // so the word is inside the slice `words` points to, which `self`
        // borrows exclusively for the returned lifetime.
        unsafe { &mut *words.add(self.bits + w) }
    }

    // ---- bits ----

    /// The level-0 words of chunk `c`.
    #[inline(always)]
    fn chunk_words(&self, c: usize) -> &[u64] {
        self.layout
            .frames
            .words(self.s, c * WORDS_PER_CHUNK, WORDS_PER_CHUNK)
    }

    fn chunk_is_free(&self, c: usize) -> bool {
        self.chunk_words(c).iter().fold(!0, |acc, &w| acc & w) == !0
    }

    /// Applies `f(word index, mask)` to each word of bits `[i, i + n)`.
    #[inline]
    fn for_words(i: usize, n: usize, mut f: impl FnMut(usize, u64)) {
        let end = i + n;
        let mut at = i;
        while at < end {
            let bit = at % 64;
            let k = (64 - bit).min(end - at);
            let mask = if k == 64 {
                !0
            } else {
                ((1u64 << k) - 1) << bit
            };
            f(at / 64, mask);
            at += k;
        }
    }

    /// First bit in `[i, i + n)` that is free (`want_free == false`) or used
    /// (`want_free == true`), that is, the first that spoils a run of the
    /// wanted state. Whole chunks are checked eight words at a time.
    fn first_mismatch(&self, i: usize, n: usize, want_free: bool) -> Option<usize> {
        let c = CHUNK as usize;
        let flip = if want_free { !0 } else { 0 };
        let end = i + n;
        let mut at = i;
        while at < end {
            if at.is_multiple_of(c) && end - at >= c {
                let words = self.chunk_words(at / c);
                if words.iter().fold(0, |acc, &w| acc | (w ^ flip)) == 0 {
                    at += c;
                    continue;
                }
            }
            let bit = at % 64;
            let k = (64 - bit).min(end - at);
            let mask = if k == 64 {
                !0
            } else {
                ((1u64 << k) - 1) << bit
            };
            let bad = (self.layout.frames.word(self.s, at / 64) ^ flip) & mask;
            if bad != 0 {
                return Some(at / 64 * 64 + bad.trailing_zeros() as usize);
            }
            at += k;
        }
        None
    }

    fn mark_used(&mut self, i: usize, n: usize) {
        let (frames, chunks) = (self.layout.frames, self.layout.chunks);
        let s = &mut *self.s;
        let c = CHUNK as usize;
        Self::for_chunks(i, n, |at, k| {
            if k == c {
                // A whole chunk: eight words at once, one summary update.
                let w = at / 64;
                frames.words_mut(s, w, WORDS_PER_CHUNK).fill(0);
                frames.clear_mask_at(s, 1, w / 64, CHUNK_SUMMARY_MASK << (w % 64));
            } else {
                Self::for_words(at, k, |w, mask| frames.clear_mask(s, w, mask));
            }
            if chunks.test(s, at / c) {
                chunks.clear(s, at / c);
            }
        });
        self.free -= n;
    }

    /// Reports the cached frames' bits to the summaries and chunk marks and
    /// empties the cache, restoring "a summary bit is set iff its word is
    /// non-zero" and "every entirely free chunk is marked".
    #[inline]
    fn flush_recent(&mut self) {
        if self.recent_len > 0 {
            self.flush_recent_slow();
        }
    }

    #[cold]
    fn flush_recent_slow(&mut self) {
        for k in 0..self.recent_len {
            let f = self.recent[k].number();
            let (start, _, first) = self
                .range_of_cached(f)
                .expect("cached frames are managed frames");
            let i = (first + (f - start)) as usize;
            // SAFETY: cache entries are bits of managed frames.
            let word = unsafe { self.word0_mut(i / 64) };
            debug_assert!(
                *word & (1 << (i % 64)) == 0,
                "cached frames keep their bit clear"
            );
            *word |= 1 << (i % 64);
            self.publish(i);
        }
        self.free += self.recent_len;
        self.recent_len = 0;
    }

    /// Reports free bit `i`, already set in level 0, to the summaries, the
    /// cursor and the chunk marks.
    #[inline(always)]
    fn publish(&mut self, i: usize) {
        let w = i / 64;
        self.layout.frames.sync_summary(self.s, w);
        self.hint = self.hint.min(w);
        if self.layout.frames.word(self.s, w) == !0 {
            let chunk = i / CHUNK as usize;
            if !self.layout.chunks.test(self.s, chunk) && self.chunk_is_free(chunk) {
                self.layout.chunks.set(self.s, chunk);
            }
        }
    }

    /// The frames in the recently-freed cache.
    #[inline(always)]
    fn cached(&self) -> &[PhysFrame] {
        // SAFETY: recent_len never exceeds RECENT (pushes flush a full
        // cache first); telling the compiler drops the slice's bounds check.
        unsafe { core::hint::assert_unchecked(self.recent_len <= RECENT) };
        &self.recent[..self.recent_len]
    }

    /// Frees managed frame `frame`, whose bit is `i`, after checking that it
    /// is allocated: the tail of
    /// [`deallocate_frame`](FrameAllocator::deallocate_frame).
    #[inline(always)]
    fn free_checked(&mut self, i: usize, frame: PhysFrame) -> Result<(), FrameFreeError> {
        // SAFETY: i is the bit of a managed frame.
        let word = unsafe { *self.word0_mut(i / 64) };
        // Only a load: the bit is set when the cache is flushed, so an
        // alloc/free pair served by the cache never writes the bitmap.
        if word & (1 << (i % 64)) != 0 || self.cached().contains(&frame) {
            return Err(FrameFreeError::NotAllocated(frame));
        }
        self.push_recent(frame);
        Ok(())
    }

    /// Puts `frame`, just freed, on the recently-freed cache.
    #[inline(always)]
    fn push_recent(&mut self, frame: PhysFrame) {
        // A full cache is flushed whole rather than by its oldest entry: the
        // same work per frame, and the cache keeps the newest frames.
        if self.recent_len == RECENT {
            self.flush_recent_slow();
        }
        // SAFETY: recent_len never exceeds RECENT and is below it here.
        unsafe { *self.recent.get_unchecked_mut(self.recent_len) = frame };
        self.recent_len += 1;
    }

    /// [`deallocate_frame`](FrameAllocator::deallocate_frame) outside the
    /// cached range.
    #[inline(never)]
    fn deallocate_frame_other_range(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError> {
        let f = frame.number();
        let (start, end, first) = self.range_of(f).ok_or(FrameFreeError::NotManaged(frame))?;
        self.last_range = (start, end - start, first);
        self.free_checked((first + (f - start)) as usize, frame)
    }

    /// Takes the lowest free frame's bit; the cache must be empty. Out of
    /// line so that the cache path of `allocate_frame` inlines into callers.
    #[inline(never)]
    fn take_lowest(&mut self) -> Result<usize, FrameAllocError> {
        debug_assert_eq!(self.recent_len, 0);
        let mut w = self.hint;
        // SAFETY: the cursor is always a level-0 word index (0, or the word
        // of a managed frame's bit).
        let mut word = unsafe { *self.word0_mut(w) };
        if word == 0 {
            w = self.find_first_word().ok_or(FrameAllocError::OutOfFrames)?;
            // SAFETY: the summaries only lead to level-0 words.
            word = unsafe { *self.word0_mut(w) };
            self.hint = w;
        }
        let new = word & (word - 1);
        // SAFETY: as above.
        unsafe { *self.word0_mut(w) = new };
        if new == 0 {
            self.word_emptied(w);
        }
        // The chunk's "entirely free" mark, if any, is left to go stale: the
        // contiguous search verifies marks and drops stale ones, so a
        // single-frame alloc/free pair never touches the chunk summary.
        Ok(w * 64 + word.trailing_zeros() as usize)
    }

    /// Clears the summary bit of level-0 word `w`, which just became zero:
    /// once every 64 allocations at most, so kept out of line.
    #[inline(never)]
    fn word_emptied(&mut self, w: usize) {
        self.layout.frames.word_emptied(self.s, w);
    }

    /// The lowest non-empty level-0 word, through the summaries.
    #[inline(never)]
    fn find_first_word(&self) -> Option<usize> {
        self.layout.frames.find_first(self.s).map(|i| i / 64)
    }

    /// Marks bits `[i, i + n)` free. The recently-freed cache must be empty
    /// (its frames' bits are clear, and a run over one would free it twice):
    /// `build` starts with it empty and `deallocate_contiguous` flushes it
    /// before checking the run.
    fn mark_free(&mut self, i: usize, n: usize) {
        debug_assert_eq!(self.recent_len, 0);
        self.hint = self.hint.min(i / 64);
        let (frames, chunks) = (self.layout.frames, self.layout.chunks);
        let c = CHUNK as usize;
        Self::for_chunks(i, n, |at, k| {
            if k == c {
                let w = at / 64;
                frames.words_mut(self.s, w, WORDS_PER_CHUNK).fill(!0);
                frames.set_mask_at(self.s, 1, w / 64, CHUNK_SUMMARY_MASK << (w % 64));
                chunks.set(self.s, at / c);
            } else {
                Self::for_words(at, k, |w, mask| frames.set_mask(self.s, w, mask));
                if self.chunk_is_free(at / c) {
                    chunks.set(self.s, at / c);
                }
            }
        });
        self.free += n;
    }

    /// Splits bits `[i, i + n)` at chunk boundaries: `f(start, len)` with
    /// `len == CHUNK` exactly for whole chunks.
    #[inline]
    fn for_chunks(i: usize, n: usize, mut f: impl FnMut(usize, usize)) {
        let c = CHUNK as usize;
        let end = i + n;
        let mut at = i;
        while at < end {
            let k = (c - at % c).min(end - at);
            f(at, k);
            at += k;
        }
    }

    /// A free run of `count` bits inside segment `(base, first, end)` whose
    /// frame number is a multiple of `align`.
    fn find_run(
        &mut self,
        (base, first, end): (u64, u64, u64),
        count: usize,
        align: usize,
    ) -> Option<usize> {
        let (first, end) = (first as usize, end as usize);
        if end - first < count {
            return None;
        }
        let c = CHUNK as usize;
        // frame(i) = i + delta (mod 2^64); alignment is a power of two, so
        // wrapping arithmetic gives the right residue.
        let delta = base.wrapping_sub(first as u64) as usize;
        let mask = align - 1;
        let by_chunk = count >= c && align >= c;
        let mut pos = first;
        loop {
            let cand = if by_chunk {
                let chunk = self.layout.chunks.find_next(self.s, pos.div_ceil(c))?;
                if !self.chunk_is_free(chunk) {
                    // A stale mark (see allocate_frame): drop it, once.
                    self.layout.chunks.clear(self.s, chunk);
                    pos = chunk * c + c;
                    continue;
                }
                chunk * c
            } else {
                self.layout.frames.find_next(self.s, pos)?
            };
            let p = cand + ((align - (cand.wrapping_add(delta) & mask)) & mask);
            if p >= end || end - p < count {
                return None;
            }
            // A chunk just found entirely free needs no second look.
            let checked = if by_chunk && p == cand {
                c.min(count)
            } else {
                0
            };
            match self.first_mismatch(p + checked, count - checked, true) {
                None => return Some(p),
                Some(q) => pos = q + 1,
            }
        }
    }
}

impl FrameAllocator for FramePool<'_> {
    #[inline]
    fn allocate_frame(&mut self) -> Result<PhysFrame, FrameAllocError> {
        if self.recent_len != 0 {
            self.recent_len -= 1;
            debug_assert!(self.recent_len < RECENT);
            // SAFETY: recent_len never exceeds RECENT, so after the decrement
            // it indexes the array. A cached frame's bit is still clear, so
            // nothing else changes.
            let frame = unsafe { *self.recent.get_unchecked(self.recent_len) };
            self.last_out = frame.start_address().as_u64();
            return Ok(frame);
        }
        let i = self.take_lowest()?;
        self.free -= 1;
        let frame = self.frame_of(i);
        self.last_out = frame.start_address().as_u64();
        Ok(frame)
    }

    #[inline]
    fn deallocate_frame(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError> {
        if frame.start_address().as_u64() == self.last_out {
            self.last_out = NO_FRAME;
            self.push_recent(frame);
            return Ok(());
        }
        let f = frame.number();
        let (start, len, first) = self.last_range;
        let offset = f.wrapping_sub(start);
        if offset >= len {
            return self.deallocate_frame_other_range(frame);
        }
        self.free_checked((first + offset) as usize, frame)
    }

    fn allocate_contiguous(
        &mut self,
        count: usize,
        align: usize,
    ) -> Result<FrameRange, FrameAllocError> {
        if count == 0 || !align.is_power_of_two() {
            return Err(FrameAllocError::InvalidRequest { count, align });
        }
        if count > self.free_frames() {
            return Err(FrameAllocError::OutOfFrames);
        }
        self.flush_recent();
        if count == 1 && align == 1 {
            let f = self.allocate_frame()?;
            return Ok(PhysFrame::range(
                f,
                f.checked_add(1).expect("managed frames end below END"),
            ));
        }
        for g in 0..self.layout.segments {
            let seg = self.segment(g);
            if let Some(i) = self.find_run(seg, count, align) {
                self.mark_used(i, count);
                let start = self.frame_of(i);
                // The run lies inside a managed range, so its end is at most
                // MemoryMap::END and representable.
                return Ok(FrameRange::from_start_len(start, count as u64)
                    .expect("managed frames end below END"));
            }
        }
        Err(FrameAllocError::NoContiguousRun { count, align })
    }

    fn deallocate_contiguous(&mut self, range: FrameRange) -> Result<(), FrameFreeError> {
        if range.is_empty() {
            return Err(FrameFreeError::EmptyRange);
        }
        // The run may hold the frame handed out last; forgetting it is
        // always sound and only costs that frame's fast free.
        self.last_out = NO_FRAME;
        let f0 = range.start.number();
        let (start, end, first) = self
            .range_of_cached(f0)
            .ok_or(FrameFreeError::NotManaged(range.start))?;
        let i = (first + (f0 - start)) as usize;
        let inside = (range.end.number().min(end) - f0) as usize;
        // Cached frames are free but look used in the bitmap: flushed first
        // so that a run overlapping one is caught as a double free.
        self.flush_recent();
        let to_frame = |idx: usize| {
            range
                .start
                .checked_add((idx - i) as u64)
                .expect("inside the range being freed")
        };
        if let Some(q) = self.first_mismatch(i, inside, false) {
            return Err(FrameFreeError::NotAllocated(to_frame(q)));
        }
        if range.end.number() > end {
            return Err(FrameFreeError::NotManaged(to_frame(i + inside)));
        }
        self.mark_free(i, inside);
        Ok(())
    }

    #[inline]
    fn free_frames(&self) -> usize {
        self.free + self.recent_len
    }

    #[inline]
    fn total_frames(&self) -> usize {
        self.total
    }
}

impl fmt::Debug for FramePool<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FramePool")
            .field("free", &self.free_frames())
            .field("total", &self.total)
            .field("ranges", &self.layout.ranges)
            .field("segments", &self.layout.segments)
            .field("metadata_bytes", &self.metadata_bytes())
            .field("metadata_frames", &self.metadata)
            .finish()
    }
}
