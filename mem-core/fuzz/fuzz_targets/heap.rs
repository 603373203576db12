//! Arbitrary bytes as a heap's regions plus an action sequence on the
//! default backend, checked step by step against a model of the live blocks.
//! The actions drive either `Heap` itself or `LockedHeap` through
//! `GlobalAlloc` with a grow handler, which the input tells to hand out
//! enough memory, too little, none, or a region the heap must refuse. The
//! arena is small (at most 256 KiB), so the paths that only run in a full
//! heap run often: failed allocations that flush the front cache and retry,
//! reallocations that slide a block down, and compaction.
//!
//! After every action: `Heap::check` finds the bookkeeping consistent, the
//! statistics agree with the model, and a refused region left the heap
//! unchanged. Every block handed out lies inside the regions, honours its
//! alignment and overlaps no live block; its bytes are filled with a tag and
//! checked when the block is reallocated and after it is freed (a free
//! never writes into the block it frees), so a heap that writes into a live
//! block is caught. A failed allocation must have a reason: no free
//! block large enough for it, and with a grow handler, the handler declined
//! or offered a region the heap refused. At the end everything is freed,
//! and the free memory must be whole again.
#![no_main]

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use mem_core::heap::{Heap, LockedHeap, RegionError};

const ARENA: usize = 256 * 1024;
/// What the heap adds to every block: a one-word header, rounded up to its
/// 16-byte granule, and at least a minimum chunk of 32 bytes.
const WORD: usize = 8;
const GRANULE: usize = 16;
const MIN_CHUNK: usize = 32;

fn chunk_need(size: usize) -> usize {
    (size + WORD).next_multiple_of(GRANULE).max(MIN_CHUNK)
}

/// A byte stream that yields zeros once the input runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The arena, 4 KiB-aligned, freed on drop.
struct Arena(*mut u8);

impl Arena {
    fn new() -> Self {
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc(Self::layout()) };
        assert!(!p.is_null());
        Self(p)
    }

    fn layout() -> Layout {
        Layout::from_size_align(ARENA, 4096).unwrap()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::layout()) }
    }
}

struct Model {
    /// Live blocks by address: layout and the byte their contents repeat.
    live: BTreeMap<usize, (Layout, u8)>,
    /// Address ranges handed to the heap, merged where they touch.
    regions: Vec<(usize, usize)>,
    total: usize,
    in_use: usize,
    peak: usize,
    next_tag: u8,
}

impl Model {
    fn add_region(&mut self, start: usize, end: usize) {
        self.total += end - start;
        self.regions.push((start, end));
        self.regions.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for &(s, e) in &self.regions {
            match merged.last_mut() {
                Some(last) if last.1 == s => last.1 = e,
                _ => merged.push((s, e)),
            }
        }
        self.regions = merged;
    }

    /// Records a new block after checking where it lies, and fills it.
    fn insert(&mut self, p: NonNull<u8>, layout: Layout) {
        let a = p.as_ptr() as usize;
        let end = a + layout.size();
        assert_eq!(a % layout.align(), 0, "{layout:?} at {a:#x} is misaligned");
        assert!(
            self.regions.iter().any(|&(s, e)| s <= a && end <= e),
            "{layout:?} at {a:#x} lies outside the regions {:x?}",
            self.regions
        );
        if let Some((&b, &(l, _))) = self.live.range(..end).next_back() {
            assert!(
                b + l.size() <= a,
                "{layout:?} at {a:#x} overlaps the live block at {b:#x} ({l:?})"
            );
        }
        let tag = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        // SAFETY: the block is ours, `layout.size()` bytes long.
        unsafe { p.as_ptr().write_bytes(tag, layout.size()) };
        self.live.insert(a, (layout, tag));
        self.in_use += layout.size();
        self.peak = self.peak.max(self.in_use);
    }

    /// Forgets the live block at `a`, freed or moved by the heap; the
    /// caller checks its contents.
    fn forget(&mut self, a: usize) -> (Layout, u8) {
        let (layout, tag) = self.live.remove(&a).unwrap();
        self.in_use -= layout.size();
        (layout, tag)
    }

    fn pick(&self, n: u16) -> Option<usize> {
        if self.live.is_empty() {
            return None;
        }
        self.live
            .keys()
            .nth(usize::from(n) % self.live.len())
            .copied()
    }
}

/// Checks that the first `len` bytes at `a` all still hold `tag`.
fn verify(a: usize, len: usize, tag: u8) {
    // SAFETY: `a` is a live block of at least `len` bytes, which we filled.
    let bytes = unsafe { std::slice::from_raw_parts(a as *const u8, len) };
    if let Some(i) = bytes.iter().position(|&b| b != tag) {
        panic!(
            "block at {a:#x}: byte {i} is {:#x}, written {tag:#x}",
            bytes[i]
        );
    }
}

/// A size: mostly small, sometimes up to 64 KiB, or just below the largest
/// free block `largest` (where a fit is tight and the remainder too small to
/// split off), now and then one no heap can serve (but still a valid
/// `Layout` for `align`).
fn size(input: &mut Input<'_>, align: usize, largest: usize) -> usize {
    let kind = input.byte();
    let n = usize::from(input.u16());
    match kind % 16 {
        0..=5 => 1 + n % 256,
        6..=9 => 1 + n % 4096,
        10 | 11 => 1 + n,
        12..=14 => largest
            .saturating_sub(WORD + GRANULE * (n % 64) + n / 64 % 2)
            .max(1),
        _ => match n % 3 {
            0 => isize::MAX as usize - (align - 1),
            1 => isize::MAX as usize / 2 + 1,
            _ => ARENA + n,
        },
    }
}

/// An alignment: 8 or 16 mostly, up to 4 KiB.
fn align(input: &mut Input<'_>) -> usize {
    let b = input.byte();
    if b & 0x80 == 0 {
        8 << (b & 1)
    } else {
        1 << (b % 13)
    }
}

fn check(heap: &Heap, model: &Model) {
    if let Err(e) = heap.check() {
        panic!("{e}");
    }
    let s = heap.stats();
    assert_eq!(s.bytes_in_use, model.in_use);
    assert_eq!(s.peak_bytes, model.peak);
    assert_eq!(s.allocations, model.live.len());
    assert_eq!(s.total_bytes, model.total);
    assert!(s.free_bytes + s.bytes_in_use <= s.total_bytes, "{s:?}");
    let largest = s.largest_free_block.unwrap();
    assert!(largest <= s.free_bytes, "{s:?}");
}

/// After a failed allocation or reallocation of `layout` (which flushed the
/// front cache and settled any pending free), no free block may be large
/// enough for it.
fn assert_no_room(heap: &Heap, layout: Layout) {
    let largest = heap.largest_free_block();
    let need = chunk_need(layout.size());
    let enough = if layout.align() <= GRANULE {
        need
    } else {
        need + layout.align() + MIN_CHUNK
    };
    assert!(
        layout.size() > ARENA || largest < enough,
        "{layout:?} failed with a free block of {largest} bytes"
    );
}

/// What the actions drive.
enum Subject {
    Plain(Box<Heap>),
    /// Through `GlobalAlloc`, growing through [`grow`].
    Locked(Box<LockedHeap>),
}

impl Subject {
    fn with<R>(&mut self, f: impl FnOnce(&mut Heap) -> R) -> R {
        match self {
            Self::Plain(heap) => f(heap),
            Self::Locked(heap) => f(&mut heap.lock()),
        }
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        match self {
            Self::Plain(heap) => heap.allocate(layout),
            // SAFETY: every size drawn is non-zero.
            Self::Locked(heap) => NonNull::new(unsafe { heap.alloc(layout) }),
        }
    }

    /// # Safety
    /// `a` is a live block of `layout`.
    unsafe fn dealloc(&mut self, a: usize, layout: Layout) {
        let ptr = NonNull::new(a as *mut u8).unwrap();
        match self {
            // SAFETY: per the caller.
            Self::Plain(heap) => unsafe { heap.deallocate(ptr, layout) },
            // SAFETY: per the caller.
            Self::Locked(heap) => unsafe { heap.dealloc(ptr.as_ptr(), layout) },
        }
    }

    /// # Safety
    /// `a` is a live block of `layout`; `new_size` is non-zero and a valid
    /// `Layout` size for its alignment.
    unsafe fn realloc(&mut self, a: usize, layout: Layout, new_size: usize) -> Option<NonNull<u8>> {
        let ptr = NonNull::new(a as *mut u8).unwrap();
        match self {
            // SAFETY: per the caller.
            Self::Plain(heap) => unsafe { heap.reallocate(ptr, layout, new_size) },
            // SAFETY: per the caller.
            Self::Locked(heap) => {
                NonNull::new(unsafe { heap.realloc(a as *mut u8, layout, new_size) })
            }
        }
    }
}

/// Where regions come from: the arena above `cursor`. Shared by the grow
/// handler (a plain `fn`, so it can only reach a static) and the actions
/// that add regions themselves.
struct Grower {
    arena: ArenaPtr,
    cursor: usize,
    /// Decides each handler call, in turn (cycled).
    script: Vec<u8>,
    calls: usize,
    /// Regions offered since the model last looked: (offset, length).
    offered: Vec<(usize, usize)>,
    /// Whether the handler's last answer was `None`.
    declined: bool,
    /// Whether the handler already gave, during this action, a region of
    /// at least `Heap::region_size_for` the layout: that is documented as
    /// always enough, so it must not be asked again.
    gave_enough: bool,
}

/// The arena's pointer, in a static.
struct ArenaPtr(*mut u8);

// SAFETY: the fuzzer runs inputs on one thread; the static only hands the
// pointer back to it.
unsafe impl Send for ArenaPtr {}

static GROWER: Mutex<Option<Grower>> = Mutex::new(None);

fn grower<R>(f: impl FnOnce(&mut Grower) -> R) -> R {
    f(GROWER.lock().unwrap().as_mut().unwrap())
}

/// The grow handler: by the script, no memory, what `Heap::region_size_for`
/// says is enough, more, or a little (which the heap may refuse, or take
/// and still fail, so that it asks again); above the last region or after
/// a gap.
fn grow(layout: Layout) -> Option<(NonNull<u8>, usize)> {
    grower(|g| {
        assert!(
            !g.gave_enough,
            "{layout:?} still failed after a region of Heap::region_size_for bytes"
        );
        let b = g
            .script
            .get(g.calls % g.script.len().max(1))
            .copied()
            .unwrap_or(0);
        g.calls += 1;
        let enough = Heap::region_size_for(layout);
        let len = match b % 4 {
            0 => None,
            1 => enough,
            2 => Some(16 * usize::from(b / 4 % 8)),
            _ => enough.map(|n| n + 64 * usize::from(b / 4 % 16)),
        };
        let start = g.cursor + if b & 0x80 != 0 { 64 } else { 0 };
        match len {
            Some(len) if start + len <= ARENA => {
                g.gave_enough = enough.is_some_and(|n| len >= n);
                g.cursor = start + len;
                g.offered.push((start, len));
                g.declined = false;
                NonNull::new(g.arena.0.wrapping_add(start)).map(|p| (p, len))
            }
            _ => {
                g.declined = true;
                None
            }
        }
    })
}

/// After an allocation or reallocation of `layout`: adds the regions the
/// heap took from the grow handler to the model (a prefix of those offered,
/// since a refusal ends the growth, told by how much the arena grew), and if
/// the call `failed`, checks that it had a reason: no free block large
/// enough, and when the heap can grow, the last growth ended with the
/// handler declining or the heap refusing its region.
fn after_call(heap: &mut Subject, model: &mut Model, layout: Layout, failed: bool) {
    let gave_up = sync_grown(model, heap.with(|h| h.stats().total_bytes));
    if failed {
        assert!(
            matches!(heap, Subject::Plain(_)) || gave_up,
            "{layout:?} failed while the heap could grow"
        );
        heap.with(|h| assert_no_room(h, layout));
    }
}

/// The growth half of [`after_call`]: returns whether the last growth ended
/// with the handler declining or the heap refusing its region.
fn sync_grown(model: &mut Model, total: usize) -> bool {
    let (offered, declined, base) = grower(|g| {
        g.gave_enough = false;
        (
            std::mem::take(&mut g.offered),
            g.declined,
            g.arena.0 as usize,
        )
    });
    let mut grown = total - model.total;
    let mut refused = false;
    for (start, len) in offered {
        if grown == 0 {
            refused = true;
            break;
        }
        assert!(len <= grown, "the heap grew by less than a region it took");
        model.add_region(base + start, base + start + len);
        grown -= len;
    }
    assert_eq!(grown, 0, "the heap grew by more than it was offered");
    declined || refused
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let arena = Arena::new();
    let base = arena.0 as usize;
    let mode = input.byte();
    let script = (0..mode % 16).map(|_| input.byte()).collect();
    let mut heap = if mode & 0x80 != 0 {
        let locked = Box::new(LockedHeap::empty());
        // SAFETY: `grow` hands out unused parts of the arena only.
        unsafe { locked.set_grow_handler(Some(grow)) };
        Subject::Locked(locked)
    } else {
        Subject::Plain(Box::new(Heap::empty()))
    };
    let mut model = Model {
        live: BTreeMap::new(),
        regions: Vec::new(),
        total: 0,
        in_use: 0,
        peak: 0,
        next_tag: 1,
    };

    // The first region: at a small offset (so its start need not be aligned)
    // and 256 bytes to 64 KiB long; later ones go above it.
    let offset = usize::from(input.byte() % 64);
    let len = 256 + usize::from(input.u16());
    // SAFETY: within the arena, which outlives the heap's use below.
    match heap.with(|h| unsafe { h.add_region(arena.0.wrapping_add(offset), len) }) {
        Ok(()) => model.add_region(base + offset, base + offset + len),
        Err(e) => panic!("the first region ({len} bytes) was refused: {e}"),
    }
    *GROWER.lock().unwrap() = Some(Grower {
        arena: ArenaPtr(arena.0),
        cursor: offset + len,
        script,
        calls: 0,
        offered: Vec::new(),
        declined: false,
        gave_enough: false,
    });

    while !input.is_empty() {
        match input.byte() % 16 {
            0..=5 => {
                let align = align(&mut input);
                let largest = heap.with(|h| h.largest_free_block());
                let layout =
                    Layout::from_size_align(size(&mut input, align, largest), align).unwrap();
                let p = heap.alloc(layout);
                after_call(&mut heap, &mut model, layout, p.is_none());
                if let Some(p) = p {
                    model.insert(p, layout);
                }
            }
            6..=9 => {
                let Some(a) = model.pick(input.u16()) else {
                    continue;
                };
                let (layout, tag) = model.forget(a);
                // SAFETY: `a` is a live block of `layout`, freed once.
                unsafe { heap.dealloc(a, layout) };
                // The contents lasted until the free, and a free never writes
                // into the block it frees (the caller may still hold a
                // reference to it during the call).
                verify(a, layout.size(), tag);
            }
            10..=13 => {
                let Some(a) = model.pick(input.u16()) else {
                    continue;
                };
                let (layout, tag) = model.live[&a];
                let largest = heap.with(|h| h.largest_free_block());
                let new_size = size(&mut input, layout.align(), largest);
                let new = Layout::from_size_align(new_size, layout.align()).unwrap();
                // SAFETY: `a` is a live block of `layout`; `new_size` is
                // non-zero and a valid `Layout` size for its alignment.
                let p = unsafe { heap.realloc(a, layout, new_size) };
                after_call(&mut heap, &mut model, new, p.is_none());
                match p {
                    Some(p) => {
                        verify(p.as_ptr() as usize, layout.size().min(new_size), tag);
                        model.forget(a);
                        model.insert(p, new);
                    }
                    None => verify(a, layout.size(), tag),
                }
            }
            14 => heap.with(|h| h.flush_cache()),
            _ => {
                // More memory: above the current top (merged), after a gap,
                // or a region the heap must refuse.
                let how = input.byte();
                let len = usize::from(input.u16() % 16384);
                let cursor = grower(|g| g.cursor);
                // `extend` grows the highest region, which ends below the
                // cursor when the heap refused the grow handler's last offer.
                let top = model.regions.last().unwrap().1 - base;
                let before = heap.with(|h| h.stats());
                let (start, result) = match how % 4 {
                    0 if top + len <= ARENA => {
                        // SAFETY: [top, top + len) is unused arena: nothing
                        // the heap took lies above its top.
                        (top, heap.with(|h| unsafe { h.extend(len) }))
                    }
                    1 => {
                        let gap = usize::from(how / 4) * 16;
                        let start = cursor + gap;
                        if start + len > ARENA {
                            continue;
                        }
                        let p = arena.0.wrapping_add(start);
                        // SAFETY: as above.
                        (start, heap.with(|h| unsafe { h.add_region(p, len) }))
                    }
                    2 => {
                        // Overlapping what the heap has: must be refused.
                        let (s, e) = model.regions[usize::from(how) % model.regions.len()];
                        let start = s + (usize::from(how) * 8) % (e - s);
                        // SAFETY: refused before any write (asserted below).
                        let r =
                            heap.with(|h| unsafe { h.add_region(start as *mut u8, len.max(1)) });
                        assert_eq!(r, Err(RegionError::Overlaps));
                        (start, r)
                    }
                    _ => {
                        // SAFETY: a null region is refused.
                        let r = heap.with(|h| unsafe { h.add_region(std::ptr::null_mut(), len) });
                        assert_eq!(r, Err(RegionError::Null));
                        (0, r)
                    }
                };
                let after = heap.with(|h| h.stats());
                match result {
                    Ok(()) => {
                        model.add_region(base + start, base + start + len);
                        grower(|g| g.cursor = g.cursor.max(start + len));
                    }
                    Err(RegionError::TooSmall { size, min }) => {
                        assert_eq!(size, len);
                        assert!(len < min, "{len} bytes refused as too small (min {min})");
                        assert_eq!(after, before, "a refused region changed the heap");
                    }
                    Err(_) => assert_eq!(after, before, "a refused region changed the heap"),
                }
            }
        }
        heap.with(|h| check(h, &model));
    }

    // Everything freed, the free memory whole again: one free block per
    // separate region, and the largest one usable in full.
    while let Some(&a) = model.live.keys().next() {
        let (layout, tag) = model.forget(a);
        // SAFETY: `a` is a live block of `layout`, freed once.
        unsafe { heap.dealloc(a, layout) };
        verify(a, layout.size(), tag);
    }
    heap.with(|h| {
        h.flush_cache();
        check(h, &model);
        let s = h.stats();
        if h.region_count() == 1 {
            assert_eq!(s.largest_free_block, Some(s.free_bytes), "{s:?}");
        }
        let largest = s.largest_free_block.unwrap();
        let layout = Layout::from_size_align(largest - WORD, 8).unwrap();
        let p = h
            .allocate(layout)
            .unwrap_or_else(|| panic!("an empty heap refused its largest free block: {s:?}"));
        model.peak = model.peak.max(layout.size());
        // SAFETY: just allocated for `layout`.
        unsafe { h.deallocate(p, layout) };
        check(h, &model);
    });
    *GROWER.lock().unwrap() = None;
});
