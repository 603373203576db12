//! The boundary-tag chunk format.
//!
//! Every chunk starts with a one-word header: its size (a multiple of
//! [`GRANULE`]) and two flags. The payload follows the header and is
//! [`GRANULE`]-aligned, so headers sit one word below a granule boundary.
//!
//! ```text
//! used chunk:  [size|PREV_FREE?] [payload ..................................]
//! free chunk:  [size|FREE]       [next] [prev] [ unused ....... ] [footer=size]
//! ```
//!
//! A used chunk has no footer: its payload runs up to the next header. A free
//! chunk repeats its size in its last word so the chunk after it can find its
//! start, and that chunk's header carries `PREV_FREE` so it knows to look.
//! Two free chunks are never adjacent (frees coalesce immediately), so a free
//! chunk's neighbours are always used chunks, a region's prologue or its
//! epilogue (a zero-sized used header at the region's end).

use core::mem::size_of;

/// Header size, and the per-allocation overhead.
pub(crate) const WORD: usize = size_of::<usize>();
/// Chunk sizes and payload addresses are multiples of this.
pub(crate) const GRANULE: usize = 16;
/// Room for the header, two links and the footer.
pub(crate) const MIN_CHUNK: usize = (4 * WORD).next_multiple_of(GRANULE);

const FREE: usize = 1;
const PREV_FREE: usize = 2;
const SIZE_MASK: usize = !(GRANULE - 1);

/// The largest request served: anything above fails before any arithmetic can
/// overflow.
pub(crate) const MAX_REQUEST: usize = isize::MAX as usize / 2;

/// The chunk size that holds `size` payload bytes: header plus payload,
/// rounded up to the granule, at least [`MIN_CHUNK`]. `None` for sizes above
/// [`MAX_REQUEST`].
#[inline(always)]
pub(crate) const fn chunk_size_for(size: usize) -> Option<usize> {
    if size > MAX_REQUEST {
        return None;
    }
    let c = (size + WORD + GRANULE - 1) & SIZE_MASK;
    Some(if c < MIN_CHUNK { MIN_CHUNK } else { c })
}

// Every function below takes a chunk address `c` (its header). The caller
// guarantees that `c` is a chunk header inside a region this heap owns, and
// for the link and footer accessors that the chunk is free (or being made
// free), so the words touched belong to the allocator, not to a user.

/// # Safety
/// `c` is a chunk header.
#[inline(always)]
pub(crate) unsafe fn header(c: *mut u8) -> usize {
    // SAFETY: per the caller, `c` is a word-aligned header we own.
    unsafe { c.cast::<usize>().read() }
}

/// # Safety
/// `c` is a chunk header.
#[inline(always)]
pub(crate) unsafe fn set_header(c: *mut u8, value: usize) {
    // SAFETY: as for `header`.
    unsafe { c.cast::<usize>().write(value) }
}

/// Size of the chunk whose header word is `h`.
#[inline(always)]
pub(crate) const fn size_of_header(h: usize) -> usize {
    h & SIZE_MASK
}

/// Whether the header `h` describes a free chunk.
#[inline(always)]
pub(crate) const fn is_free(h: usize) -> bool {
    h & FREE != 0
}

/// Whether the header `h` says the chunk below is free.
#[inline(always)]
pub(crate) const fn prev_is_free(h: usize) -> bool {
    h & PREV_FREE != 0
}

/// Header word of a used chunk.
#[inline(always)]
pub(crate) const fn used_header(size: usize, prev_free: bool) -> usize {
    size | if prev_free { PREV_FREE } else { 0 }
}

/// Marks the chunk at `c` free with `size`, writes its footer. Its previous
/// chunk is used (invariant: frees coalesce), so `PREV_FREE` is clear.
///
/// # Safety
/// `c..c + size` is a chunk the allocator owns.
#[inline(always)]
pub(crate) unsafe fn write_free(c: *mut u8, size: usize) {
    // SAFETY: header and footer words lie inside the chunk.
    unsafe {
        set_header(c, size | FREE);
        c.add(size - WORD).cast::<usize>().write(size);
    }
}

/// Sets or clears `PREV_FREE` in the header at `c`.
///
/// # Safety
/// `c` is a chunk header (possibly an epilogue).
#[inline(always)]
pub(crate) unsafe fn set_prev_free(c: *mut u8, prev_free: bool) {
    // SAFETY: `c` is a header we own.
    unsafe {
        let h = header(c);
        set_header(
            c,
            if prev_free {
                h | PREV_FREE
            } else {
                h & !PREV_FREE
            },
        );
    }
}

/// Size of the free chunk just below `c`, read from its footer.
///
/// # Safety
/// The header at `c` has `PREV_FREE` set.
#[inline(always)]
pub(crate) unsafe fn prev_size(c: *mut u8) -> usize {
    // SAFETY: the footer of the free chunk below is the word below `c`.
    unsafe { c.sub(WORD).cast::<usize>().read() }
}

/// Where a free chunk at `c` keeps its forward link (its first payload
/// word). Computing the address accesses nothing.
#[inline(always)]
pub(crate) fn next_link(c: *mut u8) -> *mut *mut u8 {
    c.wrapping_add(WORD).cast()
}

/// Where a free chunk at `c` keeps its backward link (its second payload
/// word). Computing the address accesses nothing.
#[inline(always)]
pub(crate) fn prev_link(c: *mut u8) -> *mut *mut u8 {
    c.wrapping_add(2 * WORD).cast()
}

/// # Safety
/// `c` is a free chunk.
#[inline(always)]
pub(crate) unsafe fn next(c: *mut u8) -> *mut u8 {
    // SAFETY: the first payload word of a free chunk is its forward link.
    unsafe { c.add(WORD).cast::<*mut u8>().read() }
}

/// # Safety
/// `c` is a free chunk.
#[inline(always)]
pub(crate) unsafe fn prev(c: *mut u8) -> *mut u8 {
    // SAFETY: the second payload word of a free chunk is its backward link.
    unsafe { c.add(2 * WORD).cast::<*mut u8>().read() }
}

/// # Safety
/// `c` is a free chunk.
#[inline(always)]
pub(crate) unsafe fn set_next(c: *mut u8, v: *mut u8) {
    // SAFETY: as for `next`.
    unsafe { c.add(WORD).cast::<*mut u8>().write(v) }
}

/// # Safety
/// `c` is a free chunk.
#[inline(always)]
pub(crate) unsafe fn set_prev(c: *mut u8, v: *mut u8) {
    // SAFETY: as for `prev`.
    unsafe { c.add(2 * WORD).cast::<*mut u8>().write(v) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_round_up_and_cover_the_header() {
        assert_eq!(chunk_size_for(0), Some(MIN_CHUNK));
        assert_eq!(chunk_size_for(1), Some(MIN_CHUNK));
        assert_eq!(chunk_size_for(MIN_CHUNK - WORD), Some(MIN_CHUNK));
        assert_eq!(
            chunk_size_for(MIN_CHUNK - WORD + 1),
            Some(MIN_CHUNK + GRANULE)
        );
        for size in 0..2000 {
            let c = chunk_size_for(size).unwrap();
            assert!(
                c >= size + WORD
                    && c.is_multiple_of(GRANULE)
                    && c < size + WORD + GRANULE + MIN_CHUNK
            );
        }
        assert_eq!(chunk_size_for(usize::MAX), None);
        assert_eq!(chunk_size_for(MAX_REQUEST + 1), None);
    }
}
