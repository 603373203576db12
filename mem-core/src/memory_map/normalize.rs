//! The sweep that turns raw entries into sorted, disjoint regions.

use super::{EMPTY_REGION, MemoryMap, MemoryRegion, RegionKind};
use crate::addr::PhysAddr;
use crate::page::FRAME_SIZE;

/// Up to two regions per entry can come out of the sweep (a reservation in
/// the middle of usable memory splits it), before merging and trimming.
const SCRATCH: usize = 2 * MemoryMap::CAPACITY;

/// A total order on kinds: precedence first, then a fixed order among kinds
/// of equal precedence, so that the result does not depend on entry order.
fn rank(kind: RegionKind) -> (u8, u8, u32) {
    let (tag, raw) = match kind {
        RegionKind::Usable => (0, 0),
        RegionKind::Reserved => (1, 0),
        RegionKind::AcpiReclaimable => (2, 0),
        RegionKind::AcpiNvs => (3, 0),
        RegionKind::Bootloader => (4, 0),
        RegionKind::Kernel => (5, 0),
        RegionKind::Firmware => (6, 0),
        RegionKind::DeviceTree => (7, 0),
        RegionKind::AllocatorMetadata => (8, 0),
        RegionKind::BadMemory => (9, 0),
        RegionKind::Unknown(v) => (10, v),
    };
    (kind.precedence(), tag, raw)
}

pub(super) fn normalize(map: &mut MemoryMap) {
    let entries = &map.regions[..map.len];

    // Every start and end is a point where the winning kind may change.
    let mut points = [0u64; SCRATCH];
    let mut n_points = 0;
    for e in entries {
        points[n_points] = e.start.as_u64();
        points[n_points + 1] = e.end.as_u64();
        n_points += 2;
    }
    let points = &mut points[..n_points];
    points.sort_unstable();
    let n_points = dedup(points);

    let mut out = [EMPTY_REGION; SCRATCH];
    let mut n_out = 0;
    let mut overridden = 0u64;
    for w in points[..n_points].windows(2) {
        let (a, b) = (w[0], w[1]);
        // Entries never straddle a point, so each covers [a, b) fully or not.
        let mut winner: Option<RegionKind> = None;
        let mut usable_seen = false;
        for e in entries {
            if e.start.as_u64() <= a && b <= e.end.as_u64() {
                usable_seen |= e.kind.is_usable();
                if winner.is_none_or(|k| rank(e.kind) > rank(k)) {
                    winner = Some(e.kind);
                }
            }
        }
        let Some(kind) = winner else { continue };
        if usable_seen && !kind.is_usable() {
            overridden += b - a;
        }
        match out[..n_out].last_mut() {
            Some(last) if last.end.as_u64() == a && last.kind == kind => {
                last.end = PhysAddr::new(b);
            }
            _ => {
                out[n_out] = MemoryRegion {
                    start: PhysAddr::new(a),
                    end: PhysAddr::new(b),
                    kind,
                };
                n_out += 1;
            }
        }
    }

    // Usable memory only in whole frames: a partial frame shares its other
    // part with something else, or with nothing the firmware vouched for.
    let mut trimmed = 0u32;
    let mut trimmed_bytes = 0u64;
    let mut kept = 0;
    for i in 0..n_out {
        let mut r = out[i];
        if r.kind.is_usable() {
            let s = r.start.as_u64().next_multiple_of(FRAME_SIZE);
            let e = r.end.as_u64() & !(FRAME_SIZE - 1);
            let whole = e.saturating_sub(s);
            if whole != r.len() {
                trimmed += 1;
                trimmed_bytes += r.len() - whole;
            }
            if whole == 0 {
                continue;
            }
            r.start = PhysAddr::new(s);
            r.end = PhysAddr::new(e);
        }
        out[kept] = r;
        kept += 1;
    }
    let mut n_out = kept;

    let (dropped, dropped_bytes) = fit_capacity(&mut out, &mut n_out);

    map.regions[..n_out].copy_from_slice(&out[..n_out]);
    map.len = n_out;
    map.normalized = true;
    let rep = &mut map.report;
    rep.usable_overridden_bytes = rep.usable_overridden_bytes.saturating_add(overridden);
    rep.trimmed = rep.trimmed.saturating_add(trimmed);
    rep.trimmed_bytes = rep.trimmed_bytes.saturating_add(trimmed_bytes);
    rep.capacity_dropped = rep.capacity_dropped.saturating_add(dropped);
    rep.capacity_dropped_bytes = rep.capacity_dropped_bytes.saturating_add(dropped_bytes);
    rep.regions_out = u32::try_from(n_out).unwrap_or(u32::MAX);
    rep.usable_bytes = out[..n_out]
        .iter()
        .filter(|r| r.kind.is_usable())
        .map(MemoryRegion::len)
        .sum();
}

/// Removes duplicates from a sorted slice, returning the new length.
fn dedup(v: &mut [u64]) -> usize {
    let mut n = 0;
    for i in 0..v.len() {
        if n == 0 || v[n - 1] != v[i] {
            v[n] = v[i];
            n += 1;
        }
    }
    n
}

/// Shrinks `out` to [`MemoryMap::CAPACITY`] regions: first by merging
/// touching reserved regions of different kinds (keeping the stronger kind,
/// which loses only detail), then by dropping the smallest usable regions
/// (which loses only memory). Returns the usable regions and bytes dropped.
///
/// Reserved regions alone never exceed the capacity after merging: each
/// maximal run of them contains at least one whole input entry's start.
fn fit_capacity(out: &mut [MemoryRegion], n_out: &mut usize) -> (u32, u64) {
    let mut excess = n_out.saturating_sub(MemoryMap::CAPACITY);
    if excess > 0 {
        let mut kept = 0;
        for i in 0..*n_out {
            let r = out[i];
            if kept > 0 && excess > 0 {
                let last = &mut out[kept - 1];
                if !last.kind.is_usable() && !r.kind.is_usable() && last.end == r.start {
                    if rank(r.kind) > rank(last.kind) {
                        last.kind = r.kind;
                    }
                    last.end = r.end;
                    excess -= 1;
                    continue;
                }
            }
            out[kept] = r;
            kept += 1;
        }
        *n_out = kept;
    }
    let (mut dropped, mut bytes) = (0, 0);
    while *n_out > MemoryMap::CAPACITY {
        let smallest = (0..*n_out)
            .filter(|&i| out[i].kind.is_usable())
            .min_by_key(|&i| out[i].len())
            .expect("reserved regions alone fit the capacity");
        dropped += 1;
        bytes += out[smallest].len();
        out.copy_within(smallest + 1..*n_out, smallest);
        *n_out -= 1;
    }
    (dropped, bytes)
}
