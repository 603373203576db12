//! FramePool: every error path and edge.

use std::collections::BTreeSet;

use mem_core::{
    FRAME_SIZE, FrameAllocError, FrameAllocator, FrameFreeError, FramePool, FramePoolInitError,
    FrameRange, MemoryMap, PhysAddr, PhysFrame, RegionKind,
};

const F: u64 = FRAME_SIZE;
const END: u64 = MemoryMap::END.as_u64();

fn map_of(entries: &[(u64, u64, RegionKind)]) -> MemoryMap {
    let mut map = MemoryMap::new();
    for &(s, l, k) in entries {
        map.add(s, l, k).unwrap();
    }
    map.normalize();
    map
}

fn usable(entries: &[(u64, u64)]) -> MemoryMap {
    let v: Vec<_> = entries
        .iter()
        .map(|&(s, l)| (s, l, RegionKind::Usable))
        .collect();
    map_of(&v)
}

fn frame(n: u64) -> PhysFrame {
    PhysFrame::from_number(n).unwrap()
}

fn run(start: u64, len: u64) -> FrameRange {
    FrameRange::from_start_len(frame(start), len).unwrap()
}

fn storage(map: &MemoryMap) -> Vec<u64> {
    vec![0xdead_beef; FramePool::metadata_words(map)]
}

/// Drains the pool one frame at a time, returning frame numbers in order.
fn drain(pool: &mut FramePool<'_>) -> Vec<u64> {
    let mut out = Vec::new();
    while let Ok(f) = pool.allocate_frame() {
        out.push(f.number());
    }
    assert_eq!(pool.free_frames(), 0);
    out
}

#[test]
fn empty_map() {
    let map = MemoryMap::new();
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!((pool.free_frames(), pool.total_frames()), (0, 0));
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    assert_eq!(
        pool.allocate_contiguous(1, 1),
        Err(FrameAllocError::OutOfFrames)
    );
    assert_eq!(
        pool.allocate_contiguous(4, 4),
        Err(FrameAllocError::OutOfFrames)
    );
    assert_eq!(
        pool.deallocate_frame(frame(0)),
        Err(FrameFreeError::NotManaged(frame(0)))
    );
    assert_eq!(
        pool.deallocate_contiguous(run(5, 2)),
        Err(FrameFreeError::NotManaged(frame(5)))
    );
}

#[test]
fn map_without_usable_memory() {
    let map = map_of(&[(0, 1 << 30, RegionKind::Reserved)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(pool.total_frames(), 0);
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
}

#[test]
fn init_errors() {
    let mut map = usable(&[(0, 1 << 20)]);
    let needed = FramePool::metadata_words(&map);
    let mut short = vec![0; needed - 1];
    assert_eq!(
        FramePool::new(&map, &mut short).unwrap_err(),
        FramePoolInitError::StorageTooSmall {
            needed,
            got: needed - 1
        }
    );
    map.add(1 << 20, F, RegionKind::Usable).unwrap();
    let mut st = vec![0; needed + 16];
    assert_eq!(
        FramePool::new(&map, &mut st).unwrap_err(),
        FramePoolInitError::NotNormalized
    );
    assert!(
        FramePoolInitError::NotNormalized
            .to_string()
            .contains("normalized")
    );
}

#[test]
fn longer_storage_is_left_alone_past_the_metadata() {
    let map = usable(&[(0, 1 << 20)]);
    let needed = FramePool::metadata_words(&map);
    let mut st = vec![7u64; needed + 3];
    {
        let pool = FramePool::new(&map, &mut st).unwrap();
        assert_eq!(pool.metadata_bytes(), needed * 8);
    }
    assert_eq!(st[needed..], [7, 7, 7]);
}

#[test]
fn first_frame_of_the_address_space() {
    let map = usable(&[(0, F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(pool.total_frames(), 1);
    assert_eq!(pool.allocate_frame(), Ok(frame(0)));
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    assert_eq!(
        pool.deallocate_frame(frame(1)),
        Err(FrameFreeError::NotManaged(frame(1)))
    );
    assert_eq!(pool.deallocate_frame(frame(0)), Ok(()));
    assert_eq!(
        pool.deallocate_frame(frame(0)),
        Err(FrameFreeError::NotAllocated(frame(0)))
    );
    assert_eq!(pool.allocate_contiguous(1, 1 << 20), Ok(run(0, 1)));
}

#[test]
fn last_frames_of_the_address_space() {
    let last = END / F - 1;
    let map = usable(&[(END - 3 * F, 3 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(pool.total_frames(), 3);
    // A run that ends exactly at the end of the managed space.
    assert_eq!(pool.allocate_contiguous(2, 2), Ok(run(last - 2, 2)));
    pool.deallocate_contiguous(run(last - 2, 2)).unwrap();
    assert_eq!(pool.allocate_frame(), Ok(frame(last - 2)));
    let r = pool.allocate_contiguous(2, 1).unwrap();
    assert_eq!(r, run(last - 1, 2));
    assert_eq!(r.end.start_address(), MemoryMap::END);
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    pool.deallocate_contiguous(r).unwrap();
    assert_eq!(pool.allocate_frame(), Ok(frame(last - 1)));
    assert_eq!(pool.allocate_frame(), Ok(frame(last)));
    assert_eq!(pool.deallocate_frame(frame(last)), Ok(()));
    assert_eq!(
        pool.deallocate_frame(frame(last)),
        Err(FrameFreeError::NotAllocated(frame(last)))
    );
}

#[test]
fn every_usable_frame_of_every_region_exactly_once() {
    // Regions touching reserved memory, one-frame regions, a small hole that
    // shares a segment, and a huge hole that starts a new one.
    let map = map_of(&[
        (0, 0x9_f000, RegionKind::Usable),
        (0x9_f000, 0x6_1000, RegionKind::Reserved),
        (0x10_0000, 0x40_0000, RegionKind::Usable),
        (0x20_0000, 0x1000, RegionKind::Kernel),
        (0x50_3000, 0x1000, RegionKind::Usable),
        (0x1_0000_0000, 0x20_0000, RegionKind::Usable),
        (0x40_0000_0000, 0x1000, RegionKind::Usable),
    ]);
    let expected: BTreeSet<u64> = map
        .usable()
        .flat_map(|r| r.start.number()..r.end.number())
        .collect();
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(pool.total_frames(), expected.len());
    assert_eq!(pool.ranges(), 6);
    let got = drain(&mut pool);
    assert!(
        got.windows(2).all(|w| w[0] < w[1]),
        "lowest first, no repeats"
    );
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), expected);
    // Reserved frames inside a segment's hole, frames between segments, and
    // frames far out are all foreign.
    for f in [
        0x9f,
        0x200,
        0x503 + 1,
        0x1000,
        0x1_0000_0000 / F - 1,
        0x40_0000_0000 / F + 1,
        END / F - 1,
    ] {
        assert_eq!(
            pool.deallocate_frame(frame(f)),
            Err(FrameFreeError::NotManaged(frame(f)))
        );
    }
    for &f in &got {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    assert_eq!(pool.free_frames(), pool.total_frames());
    // The most recently freed frames come back first, then lowest first.
    let again = drain(&mut pool);
    assert_eq!(again[0], *got.last().unwrap());
    assert_eq!(again.iter().copied().collect::<BTreeSet<_>>(), expected);
}

#[test]
fn invalid_contiguous_requests() {
    let map = usable(&[(F, 64 * F)]); // frames 1..65: none is 128-aligned
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    for (count, align) in [(0, 1), (1, 0), (1, 3), (4, 6), (0, 0)] {
        assert_eq!(
            pool.allocate_contiguous(count, align),
            Err(FrameAllocError::InvalidRequest { count, align })
        );
    }
    assert_eq!(
        pool.allocate_contiguous(65, 1),
        Err(FrameAllocError::OutOfFrames)
    );
    assert_eq!(
        pool.allocate_contiguous(64, 128),
        Err(FrameAllocError::NoContiguousRun {
            count: 64,
            align: 128
        })
    );
    assert_eq!(pool.free_frames(), 64);
}

#[test]
fn contiguous_alignment_is_physical() {
    // The region starts 3 frames past a 2 MiB boundary.
    let map = usable(&[(0x20_3000, 16 << 20)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    for align in [1usize, 2, 4, 8, 64, 512, 1024] {
        let r = pool.allocate_contiguous(3, align).unwrap();
        assert_eq!(r.start.number() % align as u64, 0, "align {align}: {r:?}");
        assert_eq!(r.len(), 3);
    }
    let big = pool.allocate_contiguous(1000, 512).unwrap();
    assert_eq!(big.start.number() % 512, 0);
    assert_eq!(big.len(), 1000);
}

#[test]
fn fragmentation_and_two_mib_runs() {
    let map = usable(&[(0, 8 << 20)]); // 4 chunks
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    // Use every other frame of the first two chunks.
    let all: Vec<u64> = (0..1024)
        .map(|_| pool.allocate_frame().unwrap().number())
        .collect();
    for f in all.iter().step_by(2) {
        pool.deallocate_frame(frame(*f)).unwrap();
    }
    assert_eq!(pool.allocate_contiguous(2, 1), Ok(run(1024, 2)));
    // Chunk 2 is now partly used; chunk 3 is entirely free.
    assert_eq!(pool.allocate_contiguous(512, 512), Ok(run(1536, 512)));
    assert_eq!(
        pool.allocate_contiguous(512, 512),
        Err(FrameAllocError::NoContiguousRun {
            count: 512,
            align: 512
        })
    );
    // Single frames fill the holes in order.
    assert_eq!(pool.allocate_frame(), Ok(frame(0)));
    assert_eq!(pool.allocate_frame(), Ok(frame(2)));
}

#[test]
fn freed_runs_become_whole_chunks_again() {
    let map = usable(&[(0, 4 << 20)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let frames: Vec<_> = (0..1024).map(|_| pool.allocate_frame().unwrap()).collect();
    assert!(pool.allocate_contiguous(512, 512).is_err());
    // Free one chunk frame by frame, in reverse.
    for f in frames[512..].iter().rev() {
        pool.deallocate_frame(*f).unwrap();
    }
    assert_eq!(pool.allocate_contiguous(512, 512), Ok(run(512, 512)));
    pool.deallocate_contiguous(run(512, 512)).unwrap();
    pool.deallocate_contiguous(run(0, 512)).unwrap();
    assert_eq!(pool.allocate_contiguous(1024, 1024), Ok(run(0, 1024)));
}

#[test]
fn deallocate_contiguous_is_all_or_nothing() {
    let map = map_of(&[
        (0, 16 * F, RegionKind::Usable),
        (16 * F, F, RegionKind::Reserved),
    ]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let r = pool.allocate_contiguous(8, 1).unwrap();
    assert_eq!(r, run(0, 8));
    let tail = pool.allocate_contiguous(8, 8).unwrap();
    assert_eq!(tail, run(8, 8));
    pool.deallocate_frame(frame(5)).unwrap();
    let before = pool.free_frames();
    assert_eq!(
        pool.deallocate_contiguous(r),
        Err(FrameFreeError::NotAllocated(frame(5)))
    );
    assert_eq!(pool.free_frames(), before);
    assert!(!pool.is_free(frame(0)) && !pool.is_free(frame(4)) && pool.is_free(frame(5)));
    // Past the end of the managed range: the first foreign frame is named.
    assert_eq!(
        pool.deallocate_contiguous(run(8, 9)),
        Err(FrameFreeError::NotManaged(frame(16)))
    );
    assert_eq!(
        pool.deallocate_contiguous(run(16, 1)),
        Err(FrameFreeError::NotManaged(frame(16)))
    );
    let empty = PhysFrame::range(frame(3), frame(3));
    assert_eq!(
        pool.deallocate_contiguous(empty),
        Err(FrameFreeError::EmptyRange)
    );
    assert_eq!(pool.free_frames(), before);
    pool.deallocate_contiguous(tail).unwrap();
    pool.deallocate_contiguous(run(0, 5)).unwrap();
    pool.deallocate_contiguous(run(6, 2)).unwrap();
    assert_eq!(pool.free_frames(), 16);
}

#[test]
fn out_of_range_frames() {
    let map = usable(&[(0x10_0000, 0x10_0000)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let top = PhysFrame::containing_address(PhysAddr::MAX);
    assert_eq!(
        pool.deallocate_frame(top),
        Err(FrameFreeError::NotManaged(top))
    );
    assert_eq!(
        pool.deallocate_frame(frame(0)),
        Err(FrameFreeError::NotManaged(frame(0)))
    );
    assert_eq!(
        pool.deallocate_frame(frame(0x200)),
        Err(FrameFreeError::NotManaged(frame(0x200)))
    );
    assert_eq!(
        pool.deallocate_frame(frame(0x100)),
        Err(FrameFreeError::NotAllocated(frame(0x100)))
    );
    assert!(!pool.is_free(top));
}

#[test]
fn metadata_overhead_is_at_most_a_thousandth() {
    for (bytes, start) in [
        (128u64 << 20, 0x8000_0000u64),
        (1 << 30, 0),
        (64 << 30, 1 << 32),
    ] {
        let map = usable(&[(start, bytes)]);
        let meta = FramePool::metadata_words(&map) as u64 * 8;
        assert!(meta * 1000 <= bytes, "{meta} bytes for {bytes}");
    }
    // A typical PC map: low memory, main memory, memory above the PCI hole.
    let map = usable(&[
        (0x1000, 0x9_e000),
        (0x10_0000, 0xbff0_0000),
        (1 << 32, 13 << 30),
    ]);
    let meta = FramePool::metadata_words(&map) as u64 * 8;
    assert!(meta * 1000 <= map.usable_bytes(), "{meta}");
}

#[test]
fn in_place_over_a_buffer_playing_physical_memory() {
    const BASE: u64 = 0x8000_0000;
    let mut ram = vec![0u64; (4 << 20) / 8];
    let phys_offset = (ram.as_mut_ptr() as u64).wrapping_sub(BASE);
    let map = map_of(&[
        (BASE, 4 << 20, RegionKind::Usable),
        (BASE + 0x1000, 0x1000, RegionKind::Kernel),
    ]);
    // SAFETY: the usable part of the map is `ram`, which nothing else touches
    // while the pool lives.
    let mut pool = unsafe { FramePool::new_in_place(&map, phys_offset) }.unwrap();
    let meta = pool.metadata_frames().unwrap();
    assert_eq!(meta.end.start_address().as_u64(), BASE + (4 << 20));
    assert!(pool.metadata_bytes() as u64 <= meta.size_bytes());
    assert_eq!(pool.total_frames() as u64, 1024 - 1 - meta.len());
    let got = drain(&mut pool);
    assert_eq!(got.len(), pool.total_frames());
    assert!(
        got.iter()
            .all(|&f| !meta.contains(frame(f)) && f != BASE / F + 1)
    );
    assert_eq!(
        pool.deallocate_frame(meta.start),
        Err(FrameFreeError::NotManaged(meta.start))
    );
    for f in got {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    assert_eq!(pool.free_frames(), pool.total_frames());
}

#[test]
fn in_place_errors() {
    let empty = MemoryMap::new();
    // SAFETY: the map has no usable memory, so nothing is accessed.
    let err = unsafe { FramePool::new_in_place(&empty, 0) }.unwrap_err();
    assert!(matches!(err, FramePoolInitError::NoRoomForMetadata { .. }));
    let map = usable(&[(0x1000, F)]);
    for offset in [u64::MAX, u64::MAX - 0x1100, 0u64.wrapping_sub(0x1000)] {
        // SAFETY: each offset makes the metadata address misaligned, wrap
        // past 2^64 or null, which is checked before any memory is touched.
        let err = unsafe { FramePool::new_in_place(&map, offset) }.unwrap_err();
        assert!(
            matches!(err, FramePoolInitError::MetadataUnaddressable { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn recently_freed_frames_and_runs_share_words() {
    // A frame freed alone sits in the recently-freed cache; a run freed into
    // the same bitmap word afterwards must still be found once the cache
    // has been drained and the search has moved past that word.
    let map = usable(&[(0, 256 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(drain(&mut pool).len(), 256);
    pool.deallocate_frame(frame(70)).unwrap();
    pool.deallocate_contiguous(run(65, 3)).unwrap();
    pool.deallocate_contiguous(run(5, 1)).unwrap();
    pool.deallocate_contiguous(run(200, 1)).unwrap();
    let mut got: Vec<u64> = drain(&mut pool);
    got.sort_unstable();
    assert_eq!(got, [5, 65, 66, 67, 70, 200]);
}

#[test]
fn freed_frames_come_back_newest_first() {
    let map = usable(&[(0, 256 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let held: Vec<PhysFrame> = (0..100).map(|_| pool.allocate_frame().unwrap()).collect();
    for &f in &[held[7], held[70], held[3]] {
        pool.deallocate_frame(f).unwrap();
    }
    assert_eq!(pool.free_frames(), 256 - 97);
    assert_eq!(pool.allocate_frame(), Ok(held[3]));
    assert_eq!(pool.allocate_frame(), Ok(held[70]));
    assert_eq!(pool.allocate_frame(), Ok(held[7]));
    // The cache is empty again: lowest free frame next.
    assert_eq!(pool.allocate_frame(), Ok(frame(100)));
}

#[test]
fn double_free_of_a_cached_frame() {
    let map = usable(&[(0, 256 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let a = pool.allocate_frame().unwrap();
    let b = pool.allocate_frame().unwrap();
    pool.deallocate_frame(a).unwrap();
    pool.deallocate_frame(b).unwrap();
    // Cached, not yet in the bitmap: still reported free.
    assert!(pool.is_free(a) && pool.is_free(b));
    let free = pool.free_frames();
    for f in [a, b] {
        assert_eq!(
            pool.deallocate_frame(f),
            Err(FrameFreeError::NotAllocated(f))
        );
        assert_eq!(
            pool.deallocate_contiguous(PhysFrame::range(f, f.checked_add(1).unwrap())),
            Err(FrameFreeError::NotAllocated(f))
        );
    }
    assert_eq!(pool.free_frames(), free);
    // Each comes back exactly once.
    let mut again = drain(&mut pool);
    again.sort_unstable();
    assert_eq!(again, (0..256).collect::<Vec<_>>());
}

#[test]
fn the_frame_handed_out_last_is_freed_once() {
    // Freeing the frame handed out last takes a fast path that skips the
    // bitmap: every way of freeing it again must still be caught.
    let map = usable(&[(0, 64 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let total = pool.free_frames();
    let a = pool.allocate_frame().unwrap();
    pool.deallocate_frame(a).unwrap();
    assert_eq!(
        pool.deallocate_frame(a),
        Err(FrameFreeError::NotAllocated(a))
    );
    // Served again from the cache, then freed as a run.
    assert_eq!(pool.allocate_frame(), Ok(a));
    let one = PhysFrame::range(a, a.checked_add(1).unwrap());
    pool.deallocate_contiguous(one).unwrap();
    assert_eq!(
        pool.deallocate_frame(a),
        Err(FrameFreeError::NotAllocated(a))
    );
    assert_eq!(
        pool.deallocate_contiguous(one),
        Err(FrameFreeError::NotAllocated(a))
    );
    // Handed out last, but another frame freed in between.
    let b = pool.allocate_frame().unwrap();
    let c = pool.allocate_frame().unwrap();
    pool.deallocate_frame(b).unwrap();
    pool.deallocate_frame(c).unwrap();
    for f in [b, c] {
        assert_eq!(
            pool.deallocate_frame(f),
            Err(FrameFreeError::NotAllocated(f))
        );
    }
    assert_eq!(pool.free_frames(), total);
    let mut all = drain(&mut pool);
    all.sort_unstable();
    assert_eq!(all, (0..64).collect::<Vec<_>>());
}

#[test]
fn wrong_frees_while_frames_are_cached() {
    let map = map_of(&[
        (0, 128 * F, RegionKind::Usable),
        (128 * F, 64 * F, RegionKind::Reserved),
        (192 * F, 64 * F, RegionKind::Usable),
    ]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let held: Vec<PhysFrame> = (0..10).map(|_| pool.allocate_frame().unwrap()).collect();
    for &f in &held[..5] {
        pool.deallocate_frame(f).unwrap();
    }
    let free = pool.free_frames();
    // Never allocated, in both ranges; reserved; beyond the map.
    for f in [frame(50), frame(200)] {
        assert_eq!(
            pool.deallocate_frame(f),
            Err(FrameFreeError::NotAllocated(f))
        );
    }
    for f in [frame(130), frame(1000)] {
        assert_eq!(pool.deallocate_frame(f), Err(FrameFreeError::NotManaged(f)));
    }
    assert_eq!(pool.free_frames(), free);
    let mut again: Vec<PhysFrame> = (0..5).map(|_| pool.allocate_frame().unwrap()).collect();
    again.reverse();
    assert_eq!(again, held[..5]);
    assert_eq!(pool.allocate_frame(), Ok(frame(10)));
}

#[test]
fn contiguous_runs_take_cached_frames_once() {
    // The cached frames are the newest of a freed 2 MiB chunk: a run
    // request must see the chunk whole, and afterwards the cache must not
    // hand out any of the run's frames.
    let map = usable(&[(0, 1024 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    assert_eq!(pool.allocate_contiguous(1024, 1), Ok(run(0, 1024)));
    for f in 512..1024 {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    assert_eq!(pool.allocate_contiguous(512, 512), Ok(run(512, 512)));
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    // Cached frames inside a run that is being freed are caught too.
    pool.deallocate_frame(frame(700)).unwrap();
    assert_eq!(
        pool.deallocate_contiguous(run(512, 512)),
        Err(FrameFreeError::NotAllocated(frame(700)))
    );
    assert_eq!(pool.free_frames(), 1);
    // A small unaligned run made of cached and published frames.
    pool.deallocate_contiguous(run(600, 100)).unwrap();
    pool.deallocate_frame(frame(599)).unwrap();
    pool.deallocate_frame(frame(701)).unwrap();
    assert_eq!(pool.allocate_contiguous(103, 1), Ok(run(599, 103)));
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    assert_eq!(pool.free_frames(), 0);
}

#[test]
fn cache_overflow_and_exhaustion() {
    // More frees than the cache holds, in an order that leaves it full of
    // frames from words the summaries show as empty.
    let map = usable(&[(0, 100 * F)]);
    let mut st = storage(&map);
    let mut pool = FramePool::new(&map, &mut st).unwrap();
    let all = drain(&mut pool);
    assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
    for &f in all.iter().rev() {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    assert_eq!(pool.free_frames(), 100);
    // Each round reorders the frees; one is enough to cover the paths under
    // Miri, which is slow.
    for _ in 0..if cfg!(miri) { 1 } else { 3 } {
        let mut got = drain(&mut pool);
        assert_eq!(pool.allocate_frame(), Err(FrameAllocError::OutOfFrames));
        for &f in got.iter().step_by(3) {
            pool.deallocate_frame(frame(f)).unwrap();
        }
        for &f in got
            .iter()
            .skip(1)
            .step_by(3)
            .chain(got.iter().skip(2).step_by(3))
        {
            pool.deallocate_frame(frame(f)).unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    }
    assert_eq!(pool.allocate_contiguous(100, 1), Ok(run(0, 100)));
}
