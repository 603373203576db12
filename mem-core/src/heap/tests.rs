//! Unit tests of the core heap against its own consistency check.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::vec::Vec;

use super::*;

/// A page-aligned buffer from the system allocator, freed on drop.
pub(crate) struct Arena {
    ptr: *mut u8,
    layout: Layout,
}

impl Arena {
    pub(crate) fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }

    pub(crate) fn at(&self, offset: usize) -> *mut u8 {
        self.ptr.wrapping_add(offset)
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

fn heap_over(arena: &Arena, offset: usize, size: usize) -> Heap {
    let mut heap = Heap::empty();
    // SAFETY: the arena outlives the heap in every test and is used by nothing else.
    unsafe { heap.add_region(arena.at(offset), size).unwrap() };
    heap.check().unwrap();
    heap
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// The end of a test whose blocks are all freed: once the front cache is
/// flushed, the heap is consistent and its free memory is one block.
#[track_caller]
fn assert_all_free_coalesced(heap: &mut Heap) {
    heap.flush_cache();
    heap.check().unwrap();
    assert_eq!(heap.stats().fragmentation_permille, Some(0));
}

/// The consistency check after each step of a test: natively every time;
/// under Miri every 8th time, since there one check takes about a second
/// (it reads the list head of every size class through the borrow tracker).
/// The tests' final checks run unconditionally.
#[derive(Default)]
struct Steps(usize);

impl Steps {
    fn check(&mut self, heap: &Heap) {
        self.0 += 1;
        if !cfg!(miri) || self.0.is_multiple_of(8) {
            heap.check().unwrap();
        }
    }
}

#[test]
fn alloc_free_returns_to_one_free_block() {
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    let mut steps = Steps::default();
    let initial = heap.stats();
    assert_eq!(initial.largest_free_block, Some(initial.free_bytes));
    let mut blocks = Vec::new();
    for i in 1..100 {
        let l = layout(i * 7, 8);
        let p = heap.allocate(l).unwrap();
        assert_eq!(p.as_ptr() as usize % 16, 0);
        blocks.push((p, l));
        steps.check(&heap);
    }
    let s = heap.stats();
    assert_eq!(s.allocations, 99);
    assert_eq!(s.bytes_in_use, (1..100).map(|i| i * 7).sum::<usize>());
    // Free every other block, then the rest: the middle frees must coalesce.
    for (p, l) in blocks.iter().step_by(2) {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(*p, *l) };
        steps.check(&heap);
    }
    assert!(heap.stats().fragmentation_permille.unwrap() > 0);
    for (p, l) in blocks.iter().skip(1).step_by(2) {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(*p, *l) };
        steps.check(&heap);
    }
    // Small blocks wait in the front cache until flushed.
    assert_eq!(heap.stats().free_bytes, initial.free_bytes);
    heap.flush_cache();
    heap.check().unwrap();
    let end = heap.stats();
    assert_eq!(end.bytes_in_use, 0);
    assert_eq!(end.allocations, 0);
    assert_eq!(end.total_allocations, 99);
    assert_eq!(end.free_bytes, initial.free_bytes);
    assert_eq!(end.largest_free_block, initial.largest_free_block);
    assert_eq!(end.fragmentation_permille, Some(0));
    assert!(end.peak_bytes >= s.bytes_in_use);
}

#[test]
fn honours_alignment_up_to_a_page() {
    let arena = Arena::new(1 << 18);
    let mut heap = heap_over(&arena, 8, (1 << 18) - 8);
    let mut steps = Steps::default();
    let mut blocks = Vec::new();
    for shift in 0..=12 {
        for size in [1, 24, 100, 5000] {
            let l = layout(size, 1 << shift);
            let p = heap.allocate(l).unwrap();
            assert_eq!(
                p.as_ptr() as usize % (1 << shift),
                0,
                "align {}",
                1 << shift
            );
            blocks.push((p, l));
            steps.check(&heap);
        }
    }
    for (p, l) in blocks {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(p, l) };
        steps.check(&heap);
    }
    assert_eq!(heap.stats().bytes_in_use, 0);
    heap.flush_cache();
    assert_eq!(heap.stats().fragmentation_permille, Some(0));
}

#[test]
fn realloc_grows_and_shrinks_in_place_and_keeps_contents() {
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    let l = layout(64, 8);
    let p = heap.allocate(l).unwrap();
    // SAFETY: 64 bytes are ours.
    unsafe { p.as_ptr().write_bytes(0xA5, 64) };
    // Nothing above it is used: growth happens in place.
    // SAFETY: live block with its layout.
    let q = unsafe { heap.reallocate(p, l, 4000) }.unwrap();
    assert_eq!(p, q);
    heap.check().unwrap();
    // SAFETY: the first 64 bytes were copied or kept.
    let kept = unsafe { core::slice::from_raw_parts(q.as_ptr(), 64) };
    assert!(kept.iter().all(|&b| b == 0xA5));
    let l = layout(4000, 8);
    // Block the space above, then shrink: still in place.
    let wall = heap.allocate(layout(16, 8)).unwrap();
    // SAFETY: live block with its layout.
    let r = unsafe { heap.reallocate(q, l, 10) }.unwrap();
    assert_eq!(q, r);
    heap.check().unwrap();
    // Grow past the wall: must move, keeping the 10 bytes.
    let l = layout(10, 8);
    let before = heap.stats().total_allocations;
    // SAFETY: live block with its layout.
    let s = unsafe { heap.reallocate(r, l, 9000) }.unwrap();
    assert_ne!(s, r);
    assert_eq!(heap.stats().total_allocations, before + 1);
    // SAFETY: the first 10 bytes were copied.
    let kept = unsafe { core::slice::from_raw_parts(s.as_ptr(), 10) };
    assert!(kept.iter().all(|&b| b == 0xA5));
    heap.check().unwrap();
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate(s, layout(9000, 8));
        heap.deallocate(wall, layout(16, 8));
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().bytes_in_use, 0);
    assert_eq!(heap.stats().allocations, 0);
}

#[test]
fn failed_realloc_leaves_the_block_alone() {
    let arena = Arena::new(4096);
    let mut heap = heap_over(&arena, 0, 4096);
    let l = layout(100, 8);
    let p = heap.allocate(l).unwrap();
    // SAFETY: live block with its layout.
    assert!(unsafe { heap.reallocate(p, l, 1 << 20) }.is_none());
    heap.check().unwrap();
    assert_eq!(heap.stats().bytes_in_use, 100);
    // SAFETY: still live.
    unsafe { heap.deallocate(p, l) };
    heap.check().unwrap();
}

#[test]
fn huge_and_overflowing_layouts_fail_without_panicking() {
    let arena = Arena::new(4096);
    let mut heap = heap_over(&arena, 0, 4096);
    for (size, align) in [
        (isize::MAX as usize, 1),
        (isize::MAX as usize - 4096, 4096),
        (1 << 40, 8),
        (1, 1 << 40),
        (chunk::MAX_REQUEST, 1 << 30),
    ] {
        assert!(
            heap.allocate(layout(size, align)).is_none(),
            "{size} {align}"
        );
    }
    let l = layout(8, 8);
    let p = heap.allocate(l).unwrap();
    // SAFETY: live block with its layout; it stays live after each failure.
    unsafe {
        assert!(heap.reallocate(p, l, isize::MAX as usize).is_none());
        assert!(heap.reallocate(p, l, usize::MAX).is_none());
        heap.deallocate(p, l);
    }
    heap.check().unwrap();
    assert!(Heap::region_size_for(layout(isize::MAX as usize, 1)).is_none());
}

#[test]
fn empty_heap_fails_and_bad_regions_are_refused() {
    let mut heap = Heap::empty();
    assert!(heap.allocate(layout(1, 1)).is_none());
    assert_eq!(
        heap.stats(),
        HeapStats {
            largest_free_block: Some(0),
            fragmentation_permille: Some(0),
            ..HeapStats::default()
        }
    );
    let arena = Arena::new(4096);
    // SAFETY: the arena outlives the heap; refused regions are not touched.
    unsafe {
        assert_eq!(
            heap.add_region(core::ptr::null_mut(), 4096),
            Err(RegionError::Null)
        );
        assert!(matches!(
            heap.add_region(arena.at(0), 40),
            Err(RegionError::TooSmall { .. })
        ));
        assert_eq!(
            heap.add_region(arena.at(16), usize::MAX),
            Err(RegionError::Overflow)
        );
        assert_eq!(heap.extend(1024), Err(RegionError::Unsupported));
        heap.add_region(arena.at(0), 2048).unwrap();
        assert_eq!(
            heap.add_region(arena.at(1024), 2048),
            Err(RegionError::Overlaps)
        );
        assert_eq!(heap.add_region(arena.at(0), 16), Err(RegionError::Overlaps));
    }
    heap.check().unwrap();
    assert_eq!(heap.stats().growth_events, 0);
}

#[test]
fn adjacent_regions_merge_above_below_and_between() {
    let arena = Arena::new(1 << 16);
    let mut heap = Heap::empty();
    let q = 1 << 14;
    // SAFETY: four disjoint quarters of the arena, which outlives the heap.
    unsafe {
        heap.add_region(arena.at(q), q).unwrap();
        // A block bigger than one quarter fails now...
        assert!(heap.allocate(layout(q + 100, 8)).is_none());
        heap.add_region(arena.at(2 * q), q).unwrap(); // above: merges
        assert_eq!(heap.region_count(), 1);
        heap.check().unwrap();
        heap.add_region(arena.at(0), q - 100).unwrap(); // below, with a gap: separate
        assert_eq!(heap.region_count(), 2);
        heap.add_region(arena.at(3 * q + 8), q - 8).unwrap(); // above, with a gap
        assert_eq!(heap.region_count(), 3);
        heap.extend(0).unwrap_err();
        heap.check().unwrap();
    }
    // ...and succeeds in the merged span.
    let big = heap.allocate(layout(q + 100, 8)).unwrap();
    heap.check().unwrap();
    // SAFETY: fills the gaps exactly: [q-100, q) joins below-left and middle,
    // [3q, 3q+8) joins middle and top.
    unsafe {
        heap.add_region(arena.at(q - 100), 100).unwrap();
        heap.check().unwrap();
        assert_eq!(heap.region_count(), 2);
        heap.add_region(arena.at(3 * q), 8).unwrap_err(); // too small to stand alone
    }
    let s = heap.stats();
    assert_eq!(s.growth_events, 4);
    assert_eq!(s.total_bytes, 4 * q - 8);
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(big, layout(q + 100, 8)) };
    heap.check().unwrap();
    assert_eq!(heap.stats().bytes_in_use, 0);
}

#[test]
fn extend_grows_the_top_region() {
    let arena = Arena::new(1 << 14);
    let mut heap = heap_over(&arena, 0, 4096);
    assert!(heap.allocate(layout(6000, 8)).is_none());
    // SAFETY: the next 12 KiB of the arena are unused.
    unsafe { heap.extend(12 * 1024).unwrap() };
    heap.check().unwrap();
    assert_eq!(heap.region_count(), 1);
    let p = heap.allocate(layout(6000, 8)).unwrap();
    // SAFETY: live block.
    unsafe { heap.deallocate(p, layout(6000, 8)) };
    assert_eq!(
        heap.stats().largest_free_block,
        Some(heap.stats().free_bytes)
    );
}

/// A tiny deterministic generator, so failures reproduce.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_churn_keeps_every_invariant() {
    let arena = Arena::new(1 << 18);
    let mut heap = heap_over(&arena, 0, 1 << 18);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
    let steps = if cfg!(miri) { 300 } else { 20_000 };
    for step in 0..steps {
        match rng.below(10) {
            0..=4 => {
                let max = if rng.below(8) == 0 { 9000 } else { 300 };
                let size = 1 + rng.below(max);
                let align = 1 << rng.below(13);
                let l = layout(size, align);
                if let Some(p) = heap.allocate(l) {
                    let tag = step as u8;
                    // SAFETY: fresh block of `size` bytes.
                    unsafe { p.as_ptr().write_bytes(tag, size) };
                    live.push((p, l, tag));
                }
            }
            5..=7 if !live.is_empty() => {
                let (p, l, tag) = live.swap_remove(rng.below(live.len()));
                // SAFETY: live block, filled with `tag`.
                unsafe {
                    assert!(
                        core::slice::from_raw_parts(p.as_ptr(), l.size())
                            .iter()
                            .all(|&b| b == tag)
                    );
                    heap.deallocate(p, l);
                }
            }
            _ if !live.is_empty() => {
                let i = rng.below(live.len());
                let (p, l, tag) = live[i];
                let new_size = 1 + rng.below(6000);
                // SAFETY: live block with its layout.
                if let Some(q) = unsafe { heap.reallocate(p, l, new_size) } {
                    // SAFETY: `q` holds `new_size` bytes, the first ones kept.
                    unsafe {
                        let kept = l.size().min(new_size);
                        assert!(
                            core::slice::from_raw_parts(q.as_ptr(), kept)
                                .iter()
                                .all(|&b| b == tag)
                        );
                        q.as_ptr().write_bytes(tag, new_size);
                    }
                    live[i] = (q, layout(new_size, l.align()), tag);
                }
            }
            _ => {}
        }
        if step % 64 == 0 {
            heap.check().unwrap();
            assert_eq!(
                heap.stats().bytes_in_use,
                live.iter().map(|b| b.1.size()).sum::<usize>()
            );
        }
    }
    for (p, l, _) in live.drain(..) {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(p, l) };
    }
    heap.check().unwrap();
    heap.flush_cache();
    heap.check().unwrap();
    let s = heap.stats();
    assert_eq!(
        (s.bytes_in_use, s.allocations, s.fragmentation_permille),
        (0, 0, Some(0))
    );
}

mod locked {
    use core::alloc::GlobalAlloc;
    use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

    use super::*;

    const CHUNK: usize = 16 * 1024;
    static POOL: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
    static POOL_USED: AtomicUsize = AtomicUsize::new(0);
    static POOL_SIZE: AtomicUsize = AtomicUsize::new(0);
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    /// Hands out the pool in consecutive 16 KiB pieces (so they merge), or
    /// as many as the layout needs.
    fn grow(layout: Layout) -> Option<(NonNull<u8>, usize)> {
        CALLS.fetch_add(1, Ordering::Relaxed);
        let want = Heap::region_size_for(layout)?.next_multiple_of(CHUNK);
        let used = POOL_USED.load(Ordering::Relaxed);
        if used + want > POOL_SIZE.load(Ordering::Relaxed) {
            return None;
        }
        POOL_USED.store(used + want, Ordering::Relaxed);
        NonNull::new(POOL.load(Ordering::Relaxed).wrapping_add(used)).map(|p| (p, want))
    }

    #[test]
    fn grows_through_the_handler_until_it_gives_up() {
        let pool = Arena::new(1 << 20);
        POOL.store(pool.at(0), Ordering::Relaxed);
        POOL_SIZE.store(1 << 20, Ordering::Relaxed);
        let heap = LockedHeap::empty();
        // SAFETY: the first piece of the pool; `grow` hands out the rest,
        // all of which outlives `heap`.
        unsafe {
            heap.init(pool.at(0), CHUNK);
            POOL_USED.store(CHUNK, Ordering::Relaxed);
            heap.set_grow_handler(Some(grow));
        }
        let l = layout(1000, 8);
        let mut blocks = Vec::new();
        loop {
            // SAFETY: non-zero size.
            let p = unsafe { heap.alloc(l) };
            if p.is_null() {
                break;
            }
            blocks.push(p);
        }
        let s = heap.stats();
        assert!(s.growth_events >= 50, "{s}");
        assert!(
            blocks.len() * 1000 > 900 * 1024,
            "only {} blocks",
            blocks.len()
        );
        // Consecutive pieces merged into one region.
        assert_eq!(heap.lock().region_count(), 1);
        heap.lock().check().unwrap();
        // A big realloc grows too... once the pool is exhausted, it fails cleanly.
        // SAFETY: `blocks[0]` is live with layout `l`.
        let r = unsafe { heap.realloc(blocks[0], l, 1 << 22) };
        assert!(r.is_null());
        for p in blocks {
            // SAFETY: live with layout `l`.
            unsafe { heap.dealloc(p, l) };
        }
        let s = heap.stats();
        assert_eq!((s.bytes_in_use, s.allocations), (0, 0));
        assert_eq!(s.largest_free_block, Some(s.free_bytes));
        assert!(CALLS.load(Ordering::Relaxed) > 50);
    }

    #[test]
    fn without_a_handler_failure_is_null() {
        let arena = Arena::new(4096);
        // SAFETY: the arena outlives the heap.
        let heap = unsafe { LockedHeap::new(arena.at(0), 4096).unwrap() };
        // SAFETY: non-zero sizes.
        unsafe {
            assert!(heap.alloc(layout(8192, 8)).is_null());
            assert!(heap.alloc(layout(1, 1 << 20)).is_null());
            let p = heap.alloc_zeroed(layout(64, 64));
            assert!(!p.is_null() && (p as usize).is_multiple_of(64));
            assert!(core::slice::from_raw_parts(p, 64).iter().all(|&b| b == 0));
            heap.dealloc(p, layout(64, 64));
        }
        assert!(format!("{heap:?}").contains("bytes_in_use: 0"));
        assert!(heap.try_stats().is_some());
    }
}

#[test]
fn front_cache_reuses_small_blocks_and_never_causes_failure() {
    let arena = Arena::new(1 << 14);
    let mut heap = heap_over(&arena, 0, 1 << 14);
    let l = layout(40, 8);
    let p = heap.allocate(l).unwrap();
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(p, l) };
    heap.check().unwrap();
    // Same size class: the cached chunk comes straight back.
    assert_eq!(heap.allocate(layout(33, 16)), Some(p));
    // SAFETY: live block with its (new) layout.
    unsafe { heap.deallocate(p, layout(33, 16)) };
    // Fill the heap with small blocks and free them all (many wait in the
    // cache, uncoalesced); then ask for nearly all free memory as one block:
    // the cache must be flushed and coalesced to serve it.
    let mut blocks = Vec::new();
    while let Some(b) = heap.allocate(layout(100, 8)) {
        blocks.push(b);
    }
    for b in blocks {
        // SAFETY: live blocks with their layout.
        unsafe { heap.deallocate(b, layout(100, 8)) };
    }
    heap.check().unwrap();
    assert!(
        heap.stats().fragmentation_permille.unwrap() > 0,
        "cached blocks are not coalesced yet"
    );
    let free = heap.stats().free_bytes;
    let big = layout(free - 64, 8);
    let p = heap.allocate(big).expect("cache flushed before failing");
    heap.check().unwrap();
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(p, big) };
    assert_eq!(heap.stats().fragmentation_permille, Some(0));
}

/// Fills `p` with a pattern, reallocates it to `new_size` bytes, checks the
/// heap, and checks that the bytes kept (as many as both sizes have) still
/// hold the pattern. Returns the new block.
///
/// # Safety
/// `p` is a live block of `heap` allocated for `l`.
#[track_caller]
unsafe fn reallocate_checked(
    heap: &mut Heap,
    p: NonNull<u8>,
    l: Layout,
    new_size: usize,
) -> NonNull<u8> {
    let pattern = 0xA7;
    // SAFETY: per the caller, `p` is live and holds `l.size()` bytes.
    let q = unsafe {
        p.as_ptr().write_bytes(pattern, l.size());
        heap.reallocate(p, l, new_size)
    }
    .unwrap();
    heap.check().unwrap();
    // SAFETY: `q` holds at least this many bytes, kept or copied from `p`.
    let kept = unsafe { core::slice::from_raw_parts(q.as_ptr(), l.size().min(new_size)) };
    assert!(kept.iter().all(|&x| x == pattern));
    q
}

/// Frees `blocks`, the last live blocks of `heap`, and checks that its free
/// memory is one block again.
///
/// # Safety
/// Each block is a live block of `heap` allocated for its layout.
#[track_caller]
unsafe fn free_all_coalesced(
    heap: &mut Heap,
    blocks: impl IntoIterator<Item = (NonNull<u8>, Layout)>,
) {
    for (p, l) in blocks {
        // SAFETY: per the caller.
        unsafe { heap.deallocate(p, l) };
    }
    assert_all_free_coalesced(heap);
}

/// A free 1100-byte block `a`, a 600-byte block `b` above it holding a
/// pattern, and a wall above `b`; with `fill`, the rest of the arena is
/// used too. Grows `b` to 1400 bytes (not in place: the wall) and returns
/// whether it landed where `a` was, after checking the moved bytes and that
/// freeing everything coalesces the heap into one block.
fn grow_b_past_a_wall(fill: bool) -> bool {
    let arena = Arena::new(1 << 14);
    let mut heap = heap_over(&arena, 0, 1 << 14);
    // Too big for the front cache, so freeing `a` coalesces at once.
    let (la, lb, lw) = (layout(1100, 8), layout(600, 8), layout(600, 8));
    let a = heap.allocate(la).unwrap();
    let b = heap.allocate(lb).unwrap();
    let wall = heap.allocate(lw).unwrap();
    let filler = fill.then(|| {
        let lf = layout(heap.stats().free_bytes - 64, 8);
        (heap.allocate(lf).unwrap(), lf)
    });
    // SAFETY: `a` and `b` are live with their layouts.
    let moved = unsafe {
        heap.deallocate(a, la);
        reallocate_checked(&mut heap, b, lb, 1400)
    };
    let rest = [(moved, layout(1400, 8)), (wall, lw)];
    // SAFETY: live blocks with their layouts.
    unsafe { free_all_coalesced(&mut heap, rest.into_iter().chain(filler)) };
    moved == a
}

#[test]
fn realloc_moves_elsewhere_while_another_block_fits() {
    // `a`'s space and `b`'s together would hold 1400 bytes, but so does the
    // free space above the wall, which a fresh allocation takes.
    assert!(!grow_b_past_a_wall(false));
}

#[test]
fn realloc_slides_down_into_a_free_neighbour_when_nothing_else_fits() {
    // No free block holds 1400 bytes, but `a`'s space plus `b`'s does.
    assert!(grow_b_past_a_wall(true));
}

/// A 600-byte block `lo` holding a pattern, a 600-byte block `a` above it
/// and a wall above `a`; with `fill`, a filler puts more than a quarter of
/// the heap in use (but less than half). Frees `a`, grows `lo` to 1100
/// bytes and returns whether it grew in place (into `a`'s chunk, which the
/// core then had as free), after checking the bytes kept and that freeing
/// everything coalesces the heap.
fn grow_into_a_freed_mid_sized_block(fill: bool) -> bool {
    let arena = Arena::new(1 << 14);
    let mut heap = heap_over(&arena, 0, 1 << 14);
    let l = layout(600, 8);
    let (lo, a, wall) = (
        heap.allocate(l).unwrap(),
        heap.allocate(l).unwrap(),
        heap.allocate(l).unwrap(),
    );
    let lf = layout(1 << 12, 8);
    let filler = fill.then(|| (heap.allocate(lf).unwrap(), lf));
    // SAFETY: `a` and `lo` are live with their layouts.
    let grown = unsafe {
        heap.deallocate(a, l);
        reallocate_checked(&mut heap, lo, l, 1100)
    };
    let rest = [(grown, layout(1100, 8)), (wall, l)];
    // SAFETY: live blocks with their layouts.
    unsafe { free_all_coalesced(&mut heap, rest.into_iter().chain(filler)) };
    grown == lo
}

#[test]
fn mid_sized_frees_wait_in_the_front_cache_while_the_heap_is_mostly_free() {
    // Cached, `a` still reads as used to the core: `lo` must move.
    assert!(!grow_into_a_freed_mid_sized_block(false));
}

#[test]
fn mid_sized_frees_go_to_the_core_once_a_quarter_of_the_heap_is_in_use() {
    // Freed into the core, `a` is a free neighbour: `lo` grows over it.
    assert!(grow_into_a_freed_mid_sized_block(true));
}

/// Shrinks a 4000-byte block to `new_size` bytes in a heap of `heap_size`
/// bytes, where the block lies above a 1600-byte hole and below a wall, and
/// returns whether the block moved down into the hole. Checks the heap, the
/// bytes kept and, once everything is freed, that free memory is one block.
fn shrink_above_a_hole(heap_size: usize, new_size: usize) -> bool {
    let arena = Arena::new(heap_size);
    let mut heap = heap_over(&arena, 0, heap_size);
    // Too big for the front cache, so freeing `hole` coalesces at once.
    let (lh, lb, lw) = (layout(1600, 8), layout(4000, 8), layout(600, 8));
    let hole = heap.allocate(lh).unwrap();
    let b = heap.allocate(lb).unwrap();
    let wall = heap.allocate(lw).unwrap();
    // SAFETY: `hole` and `b` are live with their layouts.
    let after = unsafe {
        heap.deallocate(hole, lh);
        reallocate_checked(&mut heap, b, lb, new_size)
    };
    let moved = after != b;
    if moved {
        assert_eq!(after, hole);
        // The block's old place merged with the free space around it.
        assert!(heap.largest_free_block() >= 4000);
    } else {
        // The hole is still free and takes the next block that fits it.
        let again = heap.allocate(lh).unwrap();
        assert_eq!(again, hole);
        // SAFETY: `again` is live with its layout.
        unsafe { heap.deallocate(again, lh) };
    }
    // SAFETY: live blocks with their layouts.
    unsafe { free_all_coalesced(&mut heap, [(after, layout(new_size, 8)), (wall, lw)]) };
    moved
}

// In use before the shrink: the 4000-byte block and the wall, 4632 bytes of
// chunks, so a heap of 8 KiB is more than half full, one of 12 KiB a quarter
// to half, one of 32 KiB less than a quarter. 2100 bytes is more than half of
// the block, 1500 bytes half or less but more than a quarter, 900 bytes a
// quarter or less.

#[test]
fn realloc_shrinking_to_half_or_less_in_a_heap_more_than_half_full_moves_down() {
    assert!(!shrink_above_a_hole(8 << 10, 2100));
    assert!(shrink_above_a_hole(8 << 10, 1500));
    assert!(shrink_above_a_hole(8 << 10, 900));
}

#[test]
fn realloc_shrinking_in_a_heap_a_quarter_to_half_full_moves_down_only_to_a_quarter() {
    assert!(!shrink_above_a_hole(12 << 10, 1500));
    assert!(shrink_above_a_hole(12 << 10, 900));
}

#[test]
fn realloc_shrinking_in_a_mostly_free_heap_stays_in_place() {
    // Less than a quarter in use: the shrink does not pay a copy for density.
    assert!(!shrink_above_a_hole(32 << 10, 1500));
    assert!(!shrink_above_a_hole(32 << 10, 900));
}

#[test]
fn a_large_request_takes_a_fitting_block_of_its_own_class_first() {
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    // `near` is a 4016-byte chunk, in the class of the 4000-byte chunk that
    // 3980 bytes need (4000 to 4031 bytes); `far` is twice as large, in a
    // class above. Walls keep the holes from merging.
    let (ln, lf, lw) = (layout(4008, 8), layout(8000, 8), layout(600, 8));
    let near = heap.allocate(ln).unwrap();
    let wall = heap.allocate(lw).unwrap();
    let far = heap.allocate(lf).unwrap();
    let wall2 = heap.allocate(lw).unwrap();
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate(near, ln);
        heap.deallocate(far, lf);
    }
    // Finish the pending free so that both holes are in the free lists.
    heap.flush_cache();
    heap.check().unwrap();
    let p = heap.allocate(layout(3980, 8)).unwrap();
    assert_eq!(p, near, "the class above was split instead");
    heap.check().unwrap();
    // The larger hole stayed whole for a request only it can serve.
    let q = heap.allocate(layout(7900, 8)).unwrap();
    assert_eq!(q, far);
    heap.check().unwrap();
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate(p, layout(3980, 8));
        heap.deallocate(q, layout(7900, 8));
        heap.deallocate(wall, lw);
        heap.deallocate(wall2, lw);
    }
    assert_all_free_coalesced(&mut heap);
}

#[test]
fn a_class_above_comes_before_the_rest_of_the_own_class_which_comes_last() {
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    // Chunks of 4016 (`b`) and 4000 bytes (`a`), both in the class of
    // 4000 to 4031 bytes, and `c` of 8016 bytes in a class above; walls
    // between them, and a filler that takes the rest of the arena, so that
    // no other free chunk exists.
    let (la, lb, lc, lw) = (
        layout(3992, 8),
        layout(4008, 8),
        layout(8008, 8),
        layout(600, 8),
    );
    let b = heap.allocate(lb).unwrap();
    let w1 = heap.allocate(lw).unwrap();
    let a = heap.allocate(la).unwrap();
    let w2 = heap.allocate(lw).unwrap();
    let c = heap.allocate(lc).unwrap();
    let w3 = heap.allocate(lw).unwrap();
    let rest = heap.stats().largest_free_block.unwrap();
    let lf = layout(rest - chunk::WORD, 8);
    let filler = heap.allocate(lf).unwrap();
    assert_eq!(heap.stats().free_bytes, 0);
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate(b, lb);
        heap.deallocate(a, la);
        heap.deallocate(c, lc);
    }
    heap.flush_cache();
    heap.check().unwrap();
    // 4000 bytes need a 4016-byte chunk. The own class's head is `a`, too
    // small: the class above serves it, without a walk down the own class.
    let lr = layout(4000, 8);
    let p = heap.allocate(lr).unwrap();
    assert_eq!(p, c);
    heap.check().unwrap();
    // `c`'s 4000-byte tail now heads the own class, and nothing is free
    // above: only then is the own class walked, past the tail and `a`.
    let q = heap.allocate(lr).unwrap();
    assert_eq!(q, b);
    heap.check().unwrap();
    // SAFETY: live blocks with their layouts.
    unsafe {
        for (ptr, l) in [(p, lr), (q, lr), (w1, lw), (w2, lw), (w3, lw), (filler, lf)] {
            heap.deallocate(ptr, l);
        }
    }
    assert_all_free_coalesced(&mut heap);
}

#[test]
fn a_free_writes_nothing_into_the_freed_block() {
    // The caller of `dealloc` may still hold a reference to the block for
    // the duration of the call: the free must leave its bytes alone, on the
    // front-cache path, on the core path (cache full, or large blocks), and
    // when the next free finishes the previous one.
    let arena = Arena::new(1 << 18);
    let mut heap = heap_over(&arena, 0, 1 << 18);
    let mut steps = Steps::default();
    for size in [1, 24, 100, 240, 1000, 5000] {
        let l = layout(size, 8);
        let blocks: Vec<NonNull<u8>> = (0..20).map(|_| heap.allocate(l).unwrap()).collect();
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: a live block of `size` bytes.
            unsafe { p.as_ptr().write_bytes(0xa5 ^ i as u8, size) };
        }
        for (i, &p) in blocks.iter().enumerate() {
            // SAFETY: live block with its layout.
            unsafe { heap.deallocate(p, l) };
            // SAFETY: the arena outlives the heap, so the freed block's bytes
            // are still memory we may read.
            let bytes = unsafe { core::slice::from_raw_parts(p.as_ptr(), size) };
            assert!(
                bytes.iter().all(|&b| b == 0xa5 ^ i as u8),
                "free of block {i} of {size} bytes wrote into it"
            );
            steps.check(&heap);
        }
        assert_eq!(heap.stats().bytes_in_use, 0);
        assert_all_free_coalesced(&mut heap);
    }
}

#[test]
fn a_pending_block_larger_than_its_layout_counts_in_full() {
    // A free too large for the front cache stays pending, counted at the
    // chunk size its layout implies. A chunk that absorbed a remainder too
    // small to split off is larger than that: statistics and the check must
    // see its real size before it settles, and settling must count the rest.
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    // A 1504-byte chunk (too big for the front cache), held in place by the
    // block above it, then freed.
    let hole = heap.allocate(layout(1496, 8)).unwrap();
    let wall = heap.allocate(layout(1496, 8)).unwrap();
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(hole, layout(1496, 8)) };
    heap.flush_cache();
    let free = heap.stats().free_bytes;
    // 1480 bytes need a 1488-byte chunk; the 16 bytes left of the hole
    // cannot stand alone, so the block takes all 1504.
    let small = layout(1480, 8);
    let p = heap.allocate(small).unwrap();
    assert_eq!(p, hole);
    assert_eq!(heap.stats().free_bytes, free - 1504);
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(p, small) };
    heap.check().unwrap();
    assert_eq!(heap.stats().free_bytes, free);
    assert_eq!(heap.stats().largest_free_block, Some(free - 1504));
    heap.flush_cache();
    heap.check().unwrap();
    assert_eq!(heap.stats().free_bytes, free);
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(wall, layout(1496, 8)) };
    assert_all_free_coalesced(&mut heap);
}

#[test]
fn over_aligned_small_requests_reuse_aligned_cached_blocks() {
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    let l = layout(100, 8);
    let blocks: Vec<NonNull<u8>> = (0..8).map(|_| heap.allocate(l).unwrap()).collect();
    for &p in &blocks {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(p, l) };
    }
    heap.check().unwrap();
    for align in [32, 64] {
        let want = blocks
            .iter()
            .rev()
            .find(|p| (p.as_ptr() as usize).is_multiple_of(align))
            .copied();
        let q = heap.allocate(layout(100, align)).unwrap();
        assert!((q.as_ptr() as usize).is_multiple_of(align));
        if let Some(p) = want {
            // The newest cached block with that alignment, not a new one.
            assert_eq!(q, p, "align {align}");
        }
        heap.check().unwrap();
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(q, layout(100, align)) };
        heap.check().unwrap();
    }
    // The others were kept, newest first.
    let again = heap.allocate(l).unwrap();
    assert!(blocks.contains(&again));
    // SAFETY: live block with its layout.
    unsafe { heap.deallocate(again, l) };
    assert_all_free_coalesced(&mut heap);
}

#[test]
fn back_to_back_large_frees_coalesce_while_the_next_is_pending() {
    // Each large free becomes pending and settles the one before it, while
    // the new one's chunk still reads as used: the settled block must treat
    // it as a used neighbour, and once everything has settled the three
    // adjacent blocks must form one free block again.
    let arena = Arena::new(1 << 16);
    let mut heap = heap_over(&arena, 0, 1 << 16);
    // 2000 bytes need a 2016-byte chunk (the header, rounded to 16).
    let l = layout(2000, 8);
    let blocks: Vec<NonNull<u8>> = (0..3).map(|_| heap.allocate(l).unwrap()).collect();
    let wall = heap.allocate(l).unwrap();
    let free = heap.stats().free_bytes;
    for (i, &p) in blocks.iter().enumerate() {
        // SAFETY: live block with its layout.
        unsafe { heap.deallocate(p, l) };
        heap.check().unwrap();
        assert_eq!(heap.stats().free_bytes, free + (i + 1) * 2016);
    }
    heap.flush_cache();
    heap.check().unwrap();
    // The three blocks merged: a block spanning them fits where they were.
    let big = layout(3 * 2016 - 8, 8);
    let p = heap.allocate(big).unwrap();
    assert_eq!(p, blocks[0]);
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate(p, big);
        heap.deallocate(wall, l);
    }
    assert_all_free_coalesced(&mut heap);
}
