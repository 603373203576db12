//! Region bookkeeping, kept inside the regions themselves.
//!
//! Each region starts with a prologue: a used chunk that never frees, whose
//! payload holds the region's raw bounds and a link to the next region. It
//! also guarantees that the first real chunk has a used neighbour below.
//! Each region ends with an epilogue: a zero-sized used header. Regions that
//! touch are merged by turning the lower one's epilogue (and the upper one's
//! prologue) into an ordinary chunk.

use core::ptr;

use super::chunk::{GRANULE, MIN_CHUNK, WORD};

/// Size of the prologue chunk.
pub(crate) const PROLOGUE: usize = (4 * WORD).next_multiple_of(GRANULE);

/// The smallest region [`add_region`](super::Heap::add_region) accepts when
/// it cannot merge: alignment slack, prologue, one minimum chunk, epilogue.
pub(crate) const MIN_FRESH_REGION: usize = GRANULE + PROLOGUE + MIN_CHUNK + GRANULE;

/// Address of the prologue header of a region starting at `start`: the first
/// header position (one word below a granule boundary) at or above `start`.
pub(crate) const fn prologue_addr(start: usize) -> usize {
    (start + WORD).next_multiple_of(GRANULE) - WORD
}

/// Address of the epilogue header of a region ending at `end`: the last header
/// position whose word fits below `end`.
pub(crate) const fn epilogue_addr(end: usize) -> usize {
    (end & !(GRANULE - 1)) - WORD
}

// Node fields live in the prologue's payload: words 1, 2 and 3.
const START: usize = WORD;
const END: usize = 2 * WORD;
const NEXT: usize = 3 * WORD;

/// # Safety
/// `node` is a prologue header of a live region.
pub(crate) unsafe fn start(node: *mut u8) -> usize {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(START).cast::<usize>().read() }
}

/// # Safety
/// `node` is a prologue header of a live region.
pub(crate) unsafe fn end(node: *mut u8) -> usize {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(END).cast::<usize>().read() }
}

/// # Safety
/// `node` is a prologue header of a live region.
pub(crate) unsafe fn next(node: *mut u8) -> *mut u8 {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(NEXT).cast::<*mut u8>().read() }
}

/// # Safety
/// `node` is a prologue header.
pub(crate) unsafe fn set_start(node: *mut u8, v: usize) {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(START).cast::<usize>().write(v) }
}

/// # Safety
/// `node` is a prologue header.
pub(crate) unsafe fn set_end(node: *mut u8, v: usize) {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(END).cast::<usize>().write(v) }
}

/// # Safety
/// `node` is a prologue header.
pub(crate) unsafe fn set_next(node: *mut u8, v: *mut u8) {
    // SAFETY: the prologue payload is ours.
    unsafe { node.add(NEXT).cast::<*mut u8>().write(v) }
}

/// Iterates the region list from `head`.
pub(crate) struct Iter(pub(crate) *mut u8);

impl Iterator for Iter {
    type Item = *mut u8;

    fn next(&mut self) -> Option<*mut u8> {
        if self.0.is_null() {
            return None;
        }
        let node = self.0;
        // SAFETY: every node in the list is a live prologue.
        self.0 = unsafe { next(node) };
        Some(node)
    }
}

/// Null, as a typed empty list head.
pub(crate) const EMPTY: *mut u8 = ptr::null_mut();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_positions_sit_one_word_below_a_granule() {
        for start in 0..64usize {
            let p = prologue_addr(start);
            assert!(p >= start && p < start + GRANULE && (p + WORD).is_multiple_of(GRANULE));
        }
        for end in 64..128usize {
            let e = epilogue_addr(end);
            assert!(
                e + WORD <= end && e + WORD + GRANULE > end && (e + WORD).is_multiple_of(GRANULE)
            );
        }
    }
}
