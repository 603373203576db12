//! Memory map normalisation: every edge case firmware can produce.

use mem_core::{FRAME_SIZE, MemoryMap, MemoryMapError, MemoryRegion, PhysAddr, RegionKind};

const F: u64 = FRAME_SIZE;
const END: u64 = MemoryMap::END.as_u64();

fn regions(map: &MemoryMap) -> Vec<(u64, u64, RegionKind)> {
    map.regions()
        .map(|r| (r.start.as_u64(), r.end.as_u64(), r.kind))
        .collect()
}

fn usable(map: &MemoryMap) -> Vec<(u64, u64)> {
    map.usable()
        .map(|r| (r.start.number(), r.end.number()))
        .collect()
}

fn normalized(entries: &[(u64, u64, RegionKind)]) -> MemoryMap {
    let mut map = MemoryMap::new();
    for &(s, l, k) in entries {
        map.add(s, l, k).unwrap();
    }
    map.normalize();
    map
}

#[test]
fn empty_map() {
    let mut map = MemoryMap::new();
    assert!(map.is_normalized());
    let rep = map.normalize();
    assert!(rep.is_clean());
    assert_eq!(rep.regions_out, 0);
    assert!(map.is_empty());
    assert_eq!(map.usable().count(), 0);
    assert_eq!(map.usable_bytes(), 0);
}

#[test]
fn sorts_and_merges_overlapping_and_touching_usable() {
    let map = normalized(&[
        (0x10_0000, 0x10_0000, RegionKind::Usable),
        (0, 0x1000, RegionKind::Usable),
        (0x8_0000, 0x9_0000, RegionKind::Usable), // overlaps the first
        (0x1000, 0x1000, RegionKind::Usable),     // touches [0, 0x1000)
    ]);
    assert_eq!(usable(&map), [(0, 2), (0x80, 0x200)]);
    assert!(map.report().is_clean());
}

#[test]
fn reserved_wins_and_is_reported() {
    let mut map = MemoryMap::new();
    map.add(0, 0x10_0000, RegionKind::Usable).unwrap();
    map.add(0x4_0800, 0x800, RegionKind::AcpiNvs).unwrap(); // half a frame
    map.reserve(0x8_0000, 0x1, RegionKind::Kernel).unwrap(); // one byte costs a frame
    let rep = map.normalize();
    assert_eq!(usable(&map), [(0, 0x40), (0x41, 0x80), (0x81, 0x100)]);
    assert_eq!(rep.usable_overridden_bytes, 0x801);
    assert_eq!(rep.trimmed, 2);
    assert_eq!(rep.trimmed_bytes, 0x800 + 0xfff);
    assert_eq!(
        regions(&map)[1..4],
        [
            (0x4_0800, 0x4_1000, RegionKind::AcpiNvs),
            (0x4_1000, 0x8_0000, RegionKind::Usable),
            (0x8_0000, 0x8_0001, RegionKind::Kernel),
        ][..]
    );
}

#[test]
fn reserve_never_records_usable() {
    let mut map = MemoryMap::new();
    map.add(0, 4 * F, RegionKind::Usable).unwrap();
    map.reserve(F, F, RegionKind::Usable).unwrap();
    map.normalize();
    assert_eq!(usable(&map), [(0, 1), (2, 4)]);
    assert_eq!(regions(&map)[1], (F, 2 * F, RegionKind::Reserved));
}

#[test]
fn precedence_between_reserved_kinds_is_order_independent() {
    let a = [
        (0, 8 * F, RegionKind::Bootloader),
        (2 * F, 2 * F, RegionKind::Kernel),
        (3 * F, 4 * F, RegionKind::AcpiReclaimable),
        (3 * F, F, RegionKind::Unknown(7)),
        (6 * F, F, RegionKind::Firmware),
        (6 * F, F, RegionKind::Reserved),
    ];
    let expected = regions(&normalized(&a));
    assert_eq!(
        expected,
        [
            (0, 2 * F, RegionKind::Bootloader),
            (2 * F, 4 * F, RegionKind::Kernel),
            (4 * F, 6 * F, RegionKind::Bootloader),
            (6 * F, 7 * F, RegionKind::Firmware),
            (7 * F, 8 * F, RegionKind::Bootloader),
        ]
    );
    let mut b = a;
    for _ in 0..a.len() {
        b.rotate_left(1);
        assert_eq!(regions(&normalized(&b)), expected);
        b.reverse();
        assert_eq!(regions(&normalized(&b)), expected);
    }
}

#[test]
fn unknown_kinds_are_kept_and_never_usable() {
    let map = normalized(&[
        (0, 4 * F, RegionKind::Unknown(0xdead)),
        (F, F, RegionKind::Usable),
    ]);
    assert_eq!(regions(&map), [(0, 4 * F, RegionKind::Unknown(0xdead))]);
    assert_eq!(map.usable_bytes(), 0);
    assert_eq!(map.report().usable_overridden_bytes, F);
}

#[test]
fn zero_length_entries_are_dropped() {
    let mut map = MemoryMap::new();
    map.add(0x1000, 0, RegionKind::Usable).unwrap();
    map.add(u64::MAX, 0, RegionKind::Reserved).unwrap();
    let rep = map.normalize();
    assert_eq!(rep.zero_length, 2);
    assert_eq!(rep.entries_in, 2);
    assert!(map.is_empty());
}

#[test]
fn unaligned_usable_is_trimmed_to_whole_frames_or_dropped() {
    let map = normalized(&[
        (0x1001, 0x2fff, RegionKind::Usable), // [0x1001, 0x4000) -> [0x2000, 0x4000)
        (0x10_0100, 0xe00, RegionKind::Usable), // no whole frame
    ]);
    assert_eq!(usable(&map), [(2, 4)]);
    let rep = map.report();
    assert_eq!((rep.trimmed, rep.trimmed_bytes), (2, 0xfff + 0xe00));
    assert_eq!(rep.usable_bytes, 2 * F);
}

#[test]
fn first_frame_of_the_address_space() {
    let map = normalized(&[(0, F, RegionKind::Usable)]);
    assert_eq!(usable(&map), [(0, 1)]);
    assert_eq!(map.usable_bytes(), F);
}

#[test]
fn last_frames_of_the_address_space() {
    // The highest manageable frame ends exactly at END.
    let map = normalized(&[(END - 2 * F, 2 * F, RegionKind::Usable)]);
    assert_eq!(usable(&map), [(END / F - 2, END / F)]);
    assert!(map.report().is_clean());
}

#[test]
fn entries_above_the_limit_are_cut_or_dropped() {
    let mut map = MemoryMap::new();
    map.add(END - F, 3 * F, RegionKind::Usable).unwrap(); // straddles: 2 frames cut
    map.add(END, F, RegionKind::Usable).unwrap(); // entirely above
    map.add(PhysAddr::LIMIT, F, RegionKind::Reserved).unwrap();
    map.add(u64::MAX - 5, 100, RegionKind::Usable).unwrap(); // start + len overflows
    map.add(F, u64::MAX - F, RegionKind::Usable).unwrap(); // ends at 2^64 - 1
    let rep = map.normalize();
    assert_eq!(rep.above_limit, 5);
    assert_eq!(usable(&map), [(1, END / F)]);
    assert_eq!(
        rep.above_limit_bytes,
        2 * F + F + F + 100 + (u64::MAX - END)
    );
}

#[test]
fn one_frame_regions_between_reserved() {
    let map = normalized(&[
        (0, 3 * F, RegionKind::Reserved),
        (F, F, RegionKind::Usable),
        (3 * F, F, RegionKind::Usable),
        (4 * F, F, RegionKind::Reserved),
        (5 * F, F, RegionKind::Usable),
    ]);
    assert_eq!(usable(&map), [(3, 4), (5, 6)]);
    assert_eq!(map.report().usable_overridden_bytes, F);
    assert_eq!(map.len(), 4);
}

#[test]
fn normalize_is_idempotent() {
    let mut map = normalized(&[
        (0x1234, 0x10_0000, RegionKind::Usable),
        (0x5_0000, 0x3_0000, RegionKind::Bootloader),
    ]);
    let first = regions(&map);
    let rep1 = map.report();
    let rep2 = map.normalize();
    assert_eq!(regions(&map), first);
    assert_eq!(rep1, rep2);
}

#[test]
#[should_panic(expected = "before normalize")]
fn usable_before_normalize_panics() {
    let mut map = MemoryMap::new();
    map.add(0, F, RegionKind::Usable).unwrap();
    let _ = map.usable().count();
}

#[test]
fn full_map_merges_before_refusing() {
    let mut map = MemoryMap::new();
    // Touching entries: a full map compacts them and keeps accepting.
    for i in 0..3 * MemoryMap::CAPACITY as u64 {
        map.add(i * F, F, RegionKind::Usable).unwrap();
    }
    map.normalize();
    assert_eq!(usable(&map), [(0, 3 * MemoryMap::CAPACITY as u64)]);
    assert_eq!(map.report().capacity_dropped, 0);
}

#[test]
fn full_map_refuses_and_reports() {
    let mut map = MemoryMap::new();
    for i in 0..MemoryMap::CAPACITY as u64 {
        map.add(i * 2 * F, F, RegionKind::Usable).unwrap();
    }
    let err = map
        .add(0x1_0000_0000, 5 * F, RegionKind::Usable)
        .unwrap_err();
    assert_eq!(
        err,
        MemoryMapError::Full {
            start: 0x1_0000_0000,
            len: 5 * F,
            kind: RegionKind::Usable
        }
    );
    assert!(
        err.to_string()
            .contains("dropped usable entry at 0x100000000"),
        "{err}"
    );
    let rep = map.normalize();
    assert_eq!(
        (rep.capacity_dropped, rep.capacity_dropped_bytes),
        (1, 5 * F)
    );
    assert_eq!(map.len(), MemoryMap::CAPACITY);
}

#[test]
fn splitting_past_capacity_drops_smallest_usable_and_keeps_reservations() {
    let mut map = MemoryMap::new();
    let n = MemoryMap::CAPACITY as u64 - 1;
    // One big usable region with n reservations inside: 2n + 1 pieces.
    map.add(0, (2 * n + 1) * 16 * F, RegionKind::Usable)
        .unwrap();
    for i in 0..n {
        let len = if i % 2 == 0 { F } else { 2 * F };
        map.reserve((2 * i + 1) * 16 * F, len, RegionKind::Kernel)
            .unwrap();
    }
    let rep = map.normalize();
    assert!(map.len() <= MemoryMap::CAPACITY);
    // Every reservation survives; only usable memory was dropped.
    for i in 0..n {
        let at = PhysAddr::new((2 * i + 1) * 16 * F);
        let covering: Vec<&MemoryRegion> = map.regions().filter(|r| r.contains(at)).collect();
        assert_eq!(covering.len(), 1);
        assert!(!covering[0].kind.is_usable());
    }
    assert!(rep.capacity_dropped > 0);
    let reserved: u64 = (0..n).map(|i| if i % 2 == 0 { F } else { 2 * F }).sum();
    assert_eq!(
        map.usable_bytes() + rep.capacity_dropped_bytes + reserved,
        (2 * n + 1) * 16 * F
    );
}

#[test]
fn report_is_one_line() {
    let mut map = MemoryMap::new();
    map.add(0x1001, 0x5000, RegionKind::Usable).unwrap();
    map.add(0, 0, RegionKind::Usable).unwrap();
    let line = map.normalize().to_string();
    assert!(!line.contains('\n'));
    assert!(line.contains("2 entries -> 1 regions"), "{line}");
    assert!(line.contains("1 zero-length"), "{line}");
}
