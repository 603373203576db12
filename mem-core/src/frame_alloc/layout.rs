//! How a [`FramePool`](super::FramePool) lays out its metadata.
//!
//! Usable ranges are grouped into *segments*: a segment covers one or more
//! ranges in one stretch of bits, so the bitmap has one bit per frame of the
//! segment, holes included (hole bits stay "used"). A range joins the
//! current segment when the hole before it is no larger than the usable
//! frames the segment would then hold, so holes never more than double the
//! bitmap, while memory with large holes (RAM above 4 GiB after the PCI hole,
//! say) does not pay for them.
//!
//! Segments start and end on 2 MiB (512-frame) boundaries both in physical
//! memory and in bit index space, so a bit index and its frame number agree
//! modulo 512 and every 2 MiB chunk of bits is a 2 MiB-aligned physical
//! chunk.
//!
//! Storage words, in order: per range `[start frame, end frame, first bit]`,
//! per segment `[base frame, first bit, end bit]`, the frame bitset, the
//! chunk bitset (see [`Hier`]).

use super::hier::Hier;

/// Frames per 2 MiB chunk.
pub(super) const CHUNK: u64 = 512;
pub(super) const RANGE_WORDS: usize = 3;
pub(super) const SEG_WORDS: usize = 3;

/// Sizes and offsets of everything in the storage.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) ranges: usize,
    pub(super) segments: usize,
    pub(super) seg_off: usize,
    pub(super) frames: Hier,
    pub(super) chunks: Hier,
    pub(super) words: usize,
    pub(super) total_frames: u64,
}

/// The layout could not be computed: the bit index space does not fit in a
/// `usize` (only possible on 32-bit targets with huge maps).
#[derive(Debug)]
pub(super) struct TooLarge;

/// Walks sorted, disjoint usable ranges `(start frame, end frame)`, calling
/// `on_range(range index, start, end, first bit)` and
/// `on_segment(segment index, base frame, first bit, end bit)`.
pub(super) fn walk<I>(
    ranges: I,
    mut on_range: impl FnMut(usize, u64, u64, u64),
    mut on_segment: impl FnMut(usize, u64, u64, u64),
) -> (usize, usize, u64, u64)
where
    I: Iterator<Item = (u64, u64)>,
{
    let (mut n_ranges, mut n_segs, mut bits, mut total) = (0usize, 0usize, 0u64, 0u64);
    // (base frame, end of last range, usable frames, first bit) of the open segment.
    let mut open: Option<(u64, u64, u64, u64)> = None;
    for (s, e) in ranges {
        debug_assert!(s < e);
        total += e - s;
        match open {
            Some((base, last_end, usable, first))
                if s < last_end.next_multiple_of(CHUNK) || s - last_end <= usable + (e - s) =>
            {
                on_range(n_ranges, s, e, first + (s - base));
                open = Some((base, e, usable + (e - s), first));
            }
            _ => {
                if let Some((base, last_end, _, first)) = open {
                    let span = last_end.next_multiple_of(CHUNK) - base;
                    on_segment(n_segs, base, first, first + span);
                    n_segs += 1;
                    bits += span;
                }
                let base = s - s % CHUNK;
                on_range(n_ranges, s, e, bits + (s - base));
                open = Some((base, e, e - s, bits));
            }
        }
        n_ranges += 1;
    }
    if let Some((base, last_end, _, first)) = open {
        let span = last_end.next_multiple_of(CHUNK) - base;
        on_segment(n_segs, base, first, first + span);
        n_segs += 1;
        bits += span;
    }
    (n_ranges, n_segs, bits, total)
}

impl Layout {
    pub(super) fn compute<I>(ranges: I) -> Result<Self, TooLarge>
    where
        I: Iterator<Item = (u64, u64)>,
    {
        let (n_ranges, n_segs, bits, total) = walk(ranges, |_, _, _, _| {}, |_, _, _, _| {});
        let bits = usize::try_from(bits).map_err(|_| TooLarge)?;
        let seg_off = n_ranges * RANGE_WORDS;
        let frames_off = seg_off + n_segs * SEG_WORDS;
        let (frames, frame_words) = Hier::layout(bits, frames_off);
        let (chunks, chunk_words) = Hier::layout(bits / CHUNK as usize, frames_off + frame_words);
        Ok(Self {
            ranges: n_ranges,
            segments: n_segs,
            seg_off,
            frames,
            chunks,
            words: frames_off + frame_words + chunk_words,
            total_frames: total,
        })
    }
}
