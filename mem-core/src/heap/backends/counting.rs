//! The counting layer that gives third-party backends our statistics.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use crate::heap::HeapStats;

/// Lock-free counters, updated after each successful operation. Relaxed
/// ordering: each counter is exact on its own; a snapshot taken during
/// concurrent allocation may mix before and after states of different ones.
#[derive(Debug)]
#[cfg_attr(
    not(any(feature = "linked_list_allocator", feature = "embedded-alloc")),
    allow(dead_code, reason = "used only by the optional backends")
)]
pub(crate) struct Counters {
    in_use: AtomicUsize,
    peak: AtomicUsize,
    live: AtomicUsize,
    total: AtomicU64,
    arena: AtomicUsize,
    growth: AtomicU64,
}

#[cfg_attr(
    not(any(feature = "linked_list_allocator", feature = "embedded-alloc")),
    allow(dead_code, reason = "used only by the optional backends")
)]
impl Counters {
    pub(crate) const fn new() -> Self {
        Self {
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            total: AtomicU64::new(0),
            arena: AtomicUsize::new(0),
            growth: AtomicU64::new(0),
        }
    }

    #[inline(always)]
    pub(crate) fn allocated(&self, size: usize) {
        let now = self.in_use.fetch_add(size, Relaxed) + size;
        self.peak.fetch_max(now, Relaxed);
        self.live.fetch_add(1, Relaxed);
        self.total.fetch_add(1, Relaxed);
    }

    #[inline(always)]
    pub(crate) fn freed(&self, size: usize) {
        self.in_use.fetch_sub(size, Relaxed);
        self.live.fetch_sub(1, Relaxed);
    }

    #[inline(always)]
    pub(crate) fn resized(&self, old: usize, new: usize, moved: bool) {
        if new >= old {
            let now = self.in_use.fetch_add(new - old, Relaxed) + (new - old);
            self.peak.fetch_max(now, Relaxed);
        } else {
            self.in_use.fetch_sub(old - new, Relaxed);
        }
        if moved {
            self.total.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn region_added(&self, size: usize) {
        if self.arena.fetch_add(size, Relaxed) != 0 {
            self.growth.fetch_add(1, Relaxed);
        }
    }

    /// Our counters plus the backend's own free-byte count.
    pub(crate) fn snapshot(&self, free_bytes: usize) -> HeapStats {
        HeapStats {
            bytes_in_use: self.in_use.load(Relaxed),
            peak_bytes: self.peak.load(Relaxed),
            free_bytes,
            total_bytes: self.arena.load(Relaxed),
            allocations: self.live.load(Relaxed),
            total_allocations: self.total.load(Relaxed),
            growth_events: self.growth.load(Relaxed),
            largest_free_block: None,
            fragmentation_permille: None,
        }
    }
}
