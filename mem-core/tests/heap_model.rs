//! Property tests of every heap backend through `GlobalAlloc`, against a
//! model of the live blocks: random alloc/realloc/dealloc sequences with sizes
//! and alignments up to 4 KiB never overlap, honour alignment, keep contents
//! across realloc, and end with zero bytes in use. The default backend also
//! grows through added regions (merged or not) and through its grow handler.
//!
//! Under Miri the case counts and sequence lengths shrink.

use std::alloc::Layout;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use mem_core::heap::{Heap, HeapBackend, LockedHeap};
use proptest::prelude::*;

const CASES: u32 = if cfg!(miri) { 4 } else { 256 };
const MAX_OPS: usize = if cfg!(miri) { 40 } else { 400 };

fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(CASES);
    if cfg!(miri) {
        // Failure files need the working directory, which Miri isolates.
        config.failure_persistence = None;
    }
    config
}

/// A 4 KiB-aligned buffer that plays the heap's memory, freed on drop.
struct Arena {
    ptr: *mut u8,
    layout: Layout,
}

impl Arena {
    fn new(size: usize) -> Self {
        let layout = Layout::from_size_align(size, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { std::alloc::alloc(layout) };
        assert!(!ptr.is_null());
        Self { ptr, layout }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align_log2: u32,
    },
    Free {
        pick: usize,
    },
    Realloc {
        pick: usize,
        new_size: usize,
    },
    /// Hands the heap the next piece of the arena, touching the previous one
    /// (so they merge) or after a gap.
    Grow {
        gap: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..=4096, 0u32..=12).prop_map(|(size, align_log2)| Op::Alloc { size, align_log2 }),
        3 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        2 => (any::<usize>(), 1usize..=8192).prop_map(|(pick, new_size)| Op::Realloc { pick, new_size }),
        1 => any::<bool>().prop_map(|gap| Op::Grow { gap }),
    ]
}

/// The model: live blocks by start address, each with its layout and fill byte.
#[derive(Default)]
struct Model {
    /// Keyed by address; the pointer itself is kept so that no integer is
    /// ever cast back to a pointer (Miri checks provenance).
    live: BTreeMap<usize, (*mut u8, Layout, u8)>,
    next_fill: u8,
}

impl Model {
    fn check_fresh(&self, p: *mut u8, layout: Layout) {
        let start = p as usize;
        let end = start + layout.size();
        assert_eq!(start % layout.align(), 0, "{layout:?} misaligned at {p:p}");
        if let Some((&s, (_, l, _))) = self.live.range(..end).next_back() {
            assert!(
                s + l.size() <= start,
                "block {p:p}+{} overlaps {s:#x}+{}",
                layout.size(),
                l.size()
            );
        }
    }

    fn fill(&mut self, p: *mut u8, layout: Layout) -> u8 {
        self.next_fill = self.next_fill.wrapping_add(1);
        // SAFETY: `p` holds `layout.size()` bytes just handed out.
        unsafe { p.write_bytes(self.next_fill, layout.size()) };
        self.next_fill
    }

    fn verify(p: *mut u8, len: usize, fill: u8) {
        // SAFETY: `p` holds at least `len` bytes of a live block.
        let bytes = unsafe { std::slice::from_raw_parts(p, len) };
        assert!(
            bytes.iter().all(|&b| b == fill),
            "contents of {p:p} changed"
        );
    }

    fn pick(&self, pick: usize) -> Option<(*mut u8, Layout, u8)> {
        if self.live.is_empty() {
            return None;
        }
        let (_, &(p, l, f)) = self.live.iter().nth(pick % self.live.len()).unwrap();
        Some((p, l, f))
    }
}

/// Runs `ops` against `heap`; `grow` adds memory for `Op::Grow` (or refuses).
fn run(heap: &dyn HeapBackend, ops: &[Op], mut grow: impl FnMut(bool)) {
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        match *op {
            Op::Alloc { size, align_log2 } => {
                let layout = Layout::from_size_align(size, 1 << align_log2).unwrap();
                // SAFETY: non-zero size.
                let p = unsafe { heap.alloc(layout) };
                if !p.is_null() {
                    model.check_fresh(p, layout);
                    let fill = model.fill(p, layout);
                    model.live.insert(p as usize, (p, layout, fill));
                }
            }
            Op::Free { pick } => {
                if let Some((p, l, f)) = model.pick(pick) {
                    Model::verify(p, l.size(), f);
                    model.live.remove(&(p as usize));
                    // SAFETY: a live block with its layout.
                    unsafe { heap.dealloc(p, l) };
                }
            }
            Op::Realloc { pick, new_size } => {
                if let Some((p, l, f)) = model.pick(pick) {
                    // SAFETY: a live block with its layout; non-zero new size.
                    let q = unsafe { heap.realloc(p, l, new_size) };
                    if q.is_null() {
                        Model::verify(p, l.size(), f);
                    } else {
                        model.live.remove(&(p as usize));
                        let nl = Layout::from_size_align(new_size, l.align()).unwrap();
                        Model::verify(q, l.size().min(new_size), f);
                        model.check_fresh(q, nl);
                        let fill = model.fill(q, nl);
                        model.live.insert(q as usize, (q, nl, fill));
                    }
                }
            }
            Op::Grow { gap } => grow(gap),
        }
        // Some backends compute their stats by walking every block, which
        // Miri runs very slowly: there, check every eighth step.
        if cfg!(miri) && i % 8 != 0 {
            continue;
        }
        let stats = heap.stats();
        assert_eq!(stats.allocations, model.live.len());
        assert_eq!(
            stats.bytes_in_use,
            model.live.values().map(|(_, l, _)| l.size()).sum::<usize>()
        );
    }
    for (_, (p, l, f)) in std::mem::take(&mut model.live) {
        Model::verify(p, l.size(), f);
        // SAFETY: a live block with its layout.
        unsafe { heap.dealloc(p, l) };
    }
    let stats = heap.stats();
    assert_eq!((stats.bytes_in_use, stats.allocations), (0, 0), "{stats}");
    assert!(stats.peak_bytes <= stats.total_bytes);
}

const PIECE: usize = 64 * 1024;
const PIECES: usize = if cfg!(miri) { 4 } else { 16 };

/// Hands out consecutive arena pieces to a heap, optionally skipping a gap.
struct Pieces<'a> {
    arena: &'a Arena,
    next: usize,
}

impl Pieces<'_> {
    fn give(&mut self, heap: &dyn HeapBackend, gap: bool) {
        let at = self.next + if gap { 4096 } else { 0 };
        if at + PIECE > PIECE * PIECES {
            return;
        }
        // SAFETY: each piece of the arena is given once; the arena outlives the heap.
        unsafe {
            heap.add_region(self.arena.ptr.wrapping_add(at), PIECE)
                .unwrap()
        };
        self.next = at + PIECE;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn default_backend_matches_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        let arena = Arena::new(PIECE * PIECES);
        let heap = LockedHeap::empty();
        let mut pieces = Pieces { arena: &arena, next: 0 };
        pieces.give(&heap, false);
        run(&heap, &ops, |gap| {
            pieces.give(&heap, gap);
            heap.lock().check().unwrap();
        });
        heap.lock().check().unwrap();
        let s = heap.stats();
        prop_assert_eq!(s.largest_free_block.map(|l| l <= s.free_bytes), Some(true));
    }

    #[cfg(feature = "linked_list_allocator")]
    #[test]
    fn linked_list_backend_matches_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        let arena = Arena::new(PIECE * PIECES);
        let heap = mem_core::heap::backends::LinkedListHeap::empty();
        let mut pieces = Pieces { arena: &arena, next: 0 };
        pieces.give(&heap, false);
        // Contiguous growth only.
        run(&heap, &ops, |_| pieces.give(&heap, false));
    }

    #[cfg(feature = "embedded-alloc")]
    #[test]
    fn embedded_backends_match_the_model(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        let arena = Arena::new(2 * PIECE * PIECES);
        let llff = mem_core::heap::backends::EmbeddedLlffHeap::empty();
        let tlsf = mem_core::heap::backends::EmbeddedTlsfHeap::empty();
        // SAFETY: two disjoint halves of the arena, which outlives both heaps.
        unsafe {
            llff.add_region(arena.ptr, PIECE * PIECES).unwrap();
            tlsf.add_region(arena.ptr.wrapping_add(PIECE * PIECES), PIECE * PIECES).unwrap();
        }
        run(&llff, &ops, |_| {});
        run(&tlsf, &ops, |_| {});
    }
}

thread_local! {
    /// The grow handler's pool: a `fn` pointer cannot capture, and tests run
    /// on parallel threads.
    static POOL: Cell<(*mut u8, usize)> = const { Cell::new((std::ptr::null_mut(), 0)) };
}

fn grow_from_pool(layout: Layout) -> Option<(NonNull<u8>, usize)> {
    let want = Heap::region_size_for(layout)?.next_multiple_of(4096);
    POOL.with(|pool| {
        let (p, left) = pool.get();
        if want > left {
            return None;
        }
        pool.set((p.wrapping_add(want), left - want));
        NonNull::new(p).map(|p| (p, want))
    })
}

proptest! {
    #![proptest_config(config())]

    /// Starting from a tiny heap, every growth comes from the handler, which
    /// hands out consecutive memory: the heap stays one region.
    #[test]
    fn grow_handler_feeds_the_default_backend(ops in prop::collection::vec(op(), 1..MAX_OPS)) {
        let arena = Arena::new(PIECE * PIECES);
        let heap = LockedHeap::empty();
        // SAFETY: the first 4 KiB; the handler owns the rest. The arena
        // outlives the heap.
        unsafe {
            heap.init(arena.ptr, 4096);
            heap.set_grow_handler(Some(grow_from_pool));
        }
        POOL.with(|p| p.set((arena.ptr.wrapping_add(4096), PIECE * PIECES - 4096)));
        run(&heap, &ops, |_| {});
        heap.lock().check().unwrap();
        prop_assert_eq!(heap.lock().region_count(), 1);
        POOL.with(|p| p.set((std::ptr::null_mut(), 0)));
    }
}
