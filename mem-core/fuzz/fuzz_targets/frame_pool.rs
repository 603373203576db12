//! Arbitrary bytes as a small memory map plus an action sequence, checked
//! against a `BTreeSet` model: no frame handed out twice, none outside usable
//! memory, alignment honoured, wrong frees refused without effect, and all
//! frames back after freeing everything.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mem_core::{
    FRAME_SIZE, FrameAllocError, FrameAllocator, FramePool, FrameRange, MemoryMap, PhysFrame,
    RegionKind,
};

fn frame(n: u64) -> PhysFrame {
    PhysFrame::from_number(n).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&n_regions, rest)) = data.split_first() else {
        return;
    };
    let n_regions = usize::from(n_regions % 8);
    if rest.len() < n_regions * 5 {
        return;
    }
    let (map_bytes, actions) = rest.split_at(n_regions * 5);
    // Each region: start frame (u16), length in frames (u16), kind byte;
    // kept within 64 Ki frames so the model stays small.
    let mut map = MemoryMap::new();
    for c in map_bytes.chunks_exact(5) {
        let start = u64::from(u16::from_le_bytes([c[0], c[1]])) * FRAME_SIZE;
        let len = u64::from(u16::from_le_bytes([c[2], c[3]]) % 2048) * FRAME_SIZE;
        let kind = if c[4] % 4 == 0 {
            RegionKind::Reserved
        } else {
            RegionKind::Usable
        };
        let _ = map.add(start + u64::from(c[4] % 3) * 0x800, len, kind);
    }
    map.normalize();
    let usable: BTreeSet<u64> = map
        .usable()
        .flat_map(|r| r.start.number()..r.end.number())
        .collect();
    let mut storage = vec![0; FramePool::metadata_words(&map)];
    let mut pool = FramePool::new(&map, &mut storage).unwrap();
    assert_eq!(pool.total_frames(), usable.len());

    let mut used = BTreeSet::new();
    let mut singles: Vec<u64> = Vec::new();
    let mut runs: Vec<FrameRange> = Vec::new();
    for a in actions.chunks_exact(3) {
        let arg = u16::from_le_bytes([a[1], a[2]]);
        match a[0] % 5 {
            0 => {
                if let Ok(f) = pool.allocate_frame() {
                    assert!(usable.contains(&f.number()) && used.insert(f.number()));
                    singles.push(f.number());
                } else {
                    assert_eq!(used.len(), usable.len());
                }
            }
            1 if !singles.is_empty() => {
                let f = singles.swap_remove(usize::from(arg) % singles.len());
                pool.deallocate_frame(frame(f)).unwrap();
                used.remove(&f);
            }
            2 => {
                let count = usize::from(arg % 1100) + 1;
                let align = 1usize << (a[0] / 5 % 11);
                match pool.allocate_contiguous(count, align) {
                    Ok(r) => {
                        assert_eq!(
                            (r.len(), r.start.number() % align as u64),
                            (count as u64, 0)
                        );
                        for f in r {
                            assert!(usable.contains(&f.number()) && used.insert(f.number()));
                        }
                        runs.push(r);
                    }
                    Err(FrameAllocError::OutOfFrames) => {
                        assert!(usable.len() - used.len() < count);
                    }
                    Err(e) => assert!(matches!(e, FrameAllocError::NoContiguousRun { .. })),
                }
            }
            3 if !runs.is_empty() => {
                let r = runs.swap_remove(usize::from(arg) % runs.len());
                pool.deallocate_contiguous(r).unwrap();
                for f in r {
                    used.remove(&f.number());
                }
            }
            _ => {
                // A frame that is not handed out must be refused, unchanged.
                let f = u64::from(arg);
                if !used.contains(&f) {
                    let before = pool.free_frames();
                    assert!(pool.deallocate_frame(frame(f)).is_err());
                    assert_eq!(pool.free_frames(), before);
                }
            }
        }
        assert_eq!(pool.free_frames(), usable.len() - used.len());
    }
    for f in singles {
        pool.deallocate_frame(frame(f)).unwrap();
    }
    for r in runs {
        pool.deallocate_contiguous(r).unwrap();
    }
    assert_eq!(pool.free_frames(), pool.total_frames());
});
