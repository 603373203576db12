//! Arbitrary bytes as a firmware memory map: 17-byte entries
//! `(start: u64 LE, len: u64 LE, kind: u8)`. Checks every invariant
//! `MemoryMap::normalize` promises against the raw entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mem_core::{FRAME_SIZE, MemoryMap, RegionKind};

fn kind(b: u8) -> RegionKind {
    match b % 8 {
        0..=3 => RegionKind::Usable,
        4 => RegionKind::Reserved,
        5 => RegionKind::Kernel,
        6 => RegionKind::AcpiReclaimable,
        _ => RegionKind::Unknown(u32::from(b)),
    }
}

fuzz_target!(|data: &[u8]| {
    let entries: Vec<(u64, u64, RegionKind)> = data
        .chunks_exact(17)
        .map(|c| {
            let start = u64::from_le_bytes(c[0..8].try_into().unwrap());
            let len = u64::from_le_bytes(c[8..16].try_into().unwrap());
            (start, len, kind(c[16]))
        })
        .collect();
    let mut map = MemoryMap::new();
    map.extend_from(entries.iter().copied());
    let report = map.normalize();

    let regions: Vec<_> = map.regions().copied().collect();
    assert!(regions.len() <= MemoryMap::CAPACITY);
    for r in &regions {
        assert!(r.start < r.end && r.end <= MemoryMap::END);
        if r.kind.is_usable() {
            assert!(r.start.is_aligned(FRAME_SIZE) && r.end.is_aligned(FRAME_SIZE));
        }
    }
    for w in regions.windows(2) {
        assert!(w[0].end <= w[1].start, "sorted and disjoint");
        if w[0].end == w[1].start {
            assert!(
                w[0].kind != w[1].kind,
                "touching regions of one kind are merged"
            );
        }
    }
    // No usable frame touches any non-usable entry, and every usable frame
    // was reported usable by some entry.
    for r in regions.iter().filter(|r| r.kind.is_usable()) {
        let (a, b) = (r.start.as_u64(), r.end.as_u64());
        for &(s, l, k) in &entries {
            let e = s.saturating_add(l);
            if !k.is_usable() && l > 0 {
                assert!(
                    e <= a || s >= b,
                    "usable {r} overlaps reserved {s:#x}+{l:#x}"
                );
            }
        }
        assert!(
            entries
                .iter()
                .any(|&(s, l, k)| k.is_usable() && s < b && s.saturating_add(l) > a)
        );
    }
    assert_eq!(report.usable_bytes, map.usable_bytes());
    // Idempotent.
    let again = map.clone().normalize();
    assert_eq!(again, report);
});
