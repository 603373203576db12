//! Property tests: the memory map and the frame pool against simple models.
//!
//! Each case draws a hostile memory map and a seed; the seed drives a long
//! random sequence of alloc / free / alloc_contiguous / free_run (and wrong
//! frees), checked step by step against a `BTreeSet` model.

use std::collections::BTreeSet;

use mem_core::{
    FRAME_SIZE, FrameAllocError, FrameAllocator, FrameFreeError, FramePool, FrameRange, MemoryMap,
    PhysFrame, RegionKind,
};
use proptest::prelude::*;

const F: u64 = FRAME_SIZE;
/// Steps per case (the issue asks for at least 10,000 off Miri).
const STEPS: usize = if cfg!(miri) { 300 } else { 12_000 };
const CASES: u32 = if cfg!(miri) { 2 } else { 24 };

/// A raw firmware entry: frame-ish position plus byte noise.
#[derive(Debug, Clone)]
struct Entry {
    start: u64,
    len: u64,
    kind: RegionKind,
}

fn kind() -> impl Strategy<Value = RegionKind> {
    prop_oneof![
        6 => Just(RegionKind::Usable),
        1 => Just(RegionKind::Reserved),
        1 => Just(RegionKind::Kernel),
        1 => Just(RegionKind::AcpiReclaimable),
        1 => any::<u32>().prop_map(RegionKind::Unknown),
    ]
}

/// Entries within a window of about 4,000 frames, some far away (another
/// segment), some unaligned, some empty, some overlapping.
fn entries() -> impl Strategy<Value = Vec<Entry>> {
    let entry = (0u64..4096, 0u64..1200, -2000i64..2000, kind(), 0u8..20).prop_map(
        |(frame, frames, noise, kind, far)| {
            let base = if far == 0 { 1 << 32 } else { 0 };
            let start = (base + frame * F).saturating_add_signed(noise);
            let len = (frames * F).saturating_add_signed(-noise / 3);
            Entry { start, len, kind }
        },
    );
    prop::collection::vec(entry, 0..12)
}

fn build(entries: &[Entry]) -> MemoryMap {
    let mut map = MemoryMap::new();
    for e in entries {
        map.add(e.start, e.len, e.kind).unwrap();
    }
    map.normalize();
    map
}

/// xorshift64*: the action stream.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn frame(n: u64) -> PhysFrame {
    PhysFrame::from_number(n).unwrap()
}

struct Model {
    usable: BTreeSet<u64>,
    used: BTreeSet<u64>,
    /// Runs handed out by allocate_contiguous and not yet freed.
    runs: Vec<FrameRange>,
    /// Single frames handed out, in a vector for random picks.
    singles: Vec<u64>,
}

impl Model {
    fn take(&mut self, f: u64) {
        assert!(
            self.usable.contains(&f),
            "frame {f:#x} is not usable memory"
        );
        assert!(self.used.insert(f), "frame {f:#x} handed out twice");
    }

    /// Whether a run of `count` free usable frames aligned to `align` exists.
    fn has_run(&self, count: u64, align: u64) -> bool {
        let mut run_start = None;
        let mut prev = None;
        for &f in self.usable.iter() {
            let free = !self.used.contains(&f);
            if !free || prev.is_some_and(|p| p + 1 != f) {
                run_start = None;
            }
            if free {
                if run_start.is_none() {
                    run_start = Some(f.next_multiple_of(align));
                }
                if let Some(s) = run_start
                    && f + 1 >= s + count
                {
                    return true;
                }
            }
            prev = Some(f);
        }
        false
    }
}

fn check_pool(entries: &[Entry], seed: u64) {
    let map = build(entries);
    let usable: BTreeSet<u64> = map
        .usable()
        .flat_map(|r| r.start.number()..r.end.number())
        .collect();
    let mut storage = vec![0; FramePool::metadata_words(&map)];
    let mut pool = FramePool::new(&map, &mut storage).unwrap();
    assert_eq!(pool.total_frames(), usable.len());
    let mut m = Model {
        usable,
        used: BTreeSet::new(),
        runs: Vec::new(),
        singles: Vec::new(),
    };
    let mut rng = Rng(seed | 1);
    let lo = m.usable.first().copied().unwrap_or(0).saturating_sub(600);
    let hi = m.usable.last().copied().unwrap_or(0) + 600;

    for _ in 0..STEPS {
        match rng.below(100) {
            0..=39 => match pool.allocate_frame() {
                Ok(f) => {
                    m.take(f.number());
                    m.singles.push(f.number());
                }
                Err(e) => {
                    assert_eq!(e, FrameAllocError::OutOfFrames);
                    assert_eq!(m.used.len(), m.usable.len());
                }
            },
            40..=69 => {
                if !m.singles.is_empty() {
                    let i = rng.below(m.singles.len() as u64) as usize;
                    let f = m.singles.swap_remove(i);
                    pool.deallocate_frame(frame(f)).unwrap();
                    m.used.remove(&f);
                    // Freeing again is a double free.
                    if rng.below(8) == 0 {
                        assert_eq!(
                            pool.deallocate_frame(frame(f)),
                            Err(FrameFreeError::NotAllocated(frame(f)))
                        );
                    }
                }
            }
            70..=81 => {
                let count = match rng.below(4) {
                    0 => 512 + rng.below(600),
                    _ => 1 + rng.below(40),
                };
                let align = 1 << rng.below(11);
                match pool.allocate_contiguous(count as usize, align as usize) {
                    Ok(r) => {
                        assert_eq!(r.len(), count);
                        assert_eq!(r.start.number() % align, 0, "alignment {align}");
                        for f in r {
                            m.take(f.number());
                        }
                        m.runs.push(r);
                    }
                    Err(FrameAllocError::OutOfFrames) => {
                        assert!(m.usable.len() - m.used.len() < count as usize);
                    }
                    Err(FrameAllocError::NoContiguousRun { .. }) => {
                        assert!(
                            !m.has_run(count, align),
                            "missed a run of {count} at {align}"
                        );
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            82..=91 => {
                if !m.runs.is_empty() {
                    let i = rng.below(m.runs.len() as u64) as usize;
                    let r = m.runs.swap_remove(i);
                    // Sometimes free it in two pieces.
                    let split = rng.below(r.len());
                    if split > 0 && rng.below(2) == 0 {
                        let mid = r.start.checked_add(split).unwrap();
                        pool.deallocate_contiguous(PhysFrame::range(mid, r.end))
                            .unwrap();
                        pool.deallocate_contiguous(PhysFrame::range(r.start, mid))
                            .unwrap();
                    } else {
                        pool.deallocate_contiguous(r).unwrap();
                    }
                    for f in r {
                        m.used.remove(&f.number());
                    }
                }
            }
            _ => {
                // A wrong free: any frame near the managed memory that the
                // model says is not handed out, alone or as a run.
                let f = lo + rng.below(hi - lo);
                if !m.used.contains(&f) {
                    let expected = if m.usable.contains(&f) {
                        FrameFreeError::NotAllocated(frame(f))
                    } else {
                        FrameFreeError::NotManaged(frame(f))
                    };
                    let before = pool.free_frames();
                    if rng.below(2) == 0 {
                        assert_eq!(pool.deallocate_frame(frame(f)), Err(expected));
                    } else {
                        let r = FrameRange::from_start_len(frame(f), 1 + rng.below(4)).unwrap();
                        assert!(pool.deallocate_contiguous(r).is_err());
                    }
                    assert_eq!(pool.free_frames(), before);
                }
            }
        }
        assert_eq!(pool.free_frames(), m.usable.len() - m.used.len());
    }

    // Free everything; the pool is back where it started and hands out every
    // usable frame exactly once.
    for f in m.singles.drain(..) {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    for r in m.runs.drain(..) {
        pool.deallocate_contiguous(r).unwrap();
    }
    assert_eq!(pool.free_frames(), pool.total_frames());
    let mut again = BTreeSet::new();
    while let Ok(f) = pool.allocate_frame() {
        assert!(again.insert(f.number()));
    }
    assert_eq!(again, m.usable);
}

/// Frame-level model of normalisation: a frame is usable iff usable entries
/// cover it entirely and no other entry touches it.
fn check_map(entries: &[Entry]) {
    let map = build(entries);
    let usable: BTreeSet<u64> = map
        .usable()
        .flat_map(|r| r.start.number()..r.end.number())
        .collect();
    let end = MemoryMap::END.as_u64();
    let mut candidates = BTreeSet::new();
    for e in entries.iter().filter(|e| e.kind.is_usable()) {
        let s = e.start.min(end);
        let t = e.start.saturating_add(e.len).min(end);
        candidates.extend(s / F..t.div_ceil(F));
    }
    let mut expected = BTreeSet::new();
    for &f in &candidates {
        let (a, b) = (f * F, f * F + F);
        let touched_by_other = entries.iter().any(|e| {
            !e.kind.is_usable() && e.len > 0 && e.start < b && e.start.saturating_add(e.len) > a
        });
        // Coverage by the union of usable entries, byte-exact.
        let mut covered = a;
        let mut progress = true;
        while covered < b && progress {
            progress = false;
            for e in entries.iter().filter(|e| e.kind.is_usable()) {
                let t = e.start.saturating_add(e.len).min(end);
                if e.start <= covered && t > covered {
                    covered = t;
                    progress = true;
                }
            }
        }
        if covered >= b && !touched_by_other {
            expected.insert(f);
        }
    }
    assert_eq!(usable, expected);
    // Sorted, disjoint, non-empty.
    let regions: Vec<_> = map.regions().collect();
    assert!(regions.iter().all(|r| r.start < r.end));
    assert!(regions.windows(2).all(|w| w[0].end <= w[1].start));
    let rep = map.report();
    assert_eq!(rep.usable_bytes, usable.len() as u64 * F);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pool_matches_model(entries in entries(), seed in any::<u64>()) {
        check_pool(&entries, seed);
    }

    #[test]
    fn map_matches_model(entries in entries()) {
        check_map(&entries);
    }
}
