//! Physical memory maps as firmware reports them, and their normalisation.
//!
//! Firmware memory maps are untrusted input: entries come unsorted,
//! overlapping, unaligned, of length zero, of unknown types, above any
//! address the machine can have, or with `start + len` overflowing. A
//! [`MemoryMap`] takes such entries as raw numbers ([`MemoryMap::add`]), adds
//! the reservations the kernel knows of itself ([`MemoryMap::reserve`]: its
//! image, the device tree), and [`MemoryMap::normalize`] turns all of that
//! into sorted, disjoint regions whose usable parts are whole 4 KiB frames,
//! with a [`NormalizeReport`] that says what was dropped.
//!
//! The map needs no heap (it runs before the heap exists): it holds at most
//! [`MemoryMap::CAPACITY`] regions inline, about 3 KiB, and `normalize` uses
//! about 8 KiB of stack.
//!
//! ```
//! use mem_core::{MemoryMap, RegionKind};
//!
//! let mut map = MemoryMap::new();
//! map.add(0x8000_0000, 128 << 20, RegionKind::Usable)?;
//! map.add(0x8000_0000, 0x20_0000, RegionKind::Firmware)?; // OpenSBI
//! map.reserve(0x8020_0000, 0x1_2345, RegionKind::Kernel)?;
//! let report = map.normalize();
//! assert_eq!(map.usable_bytes(), (128 << 20) - 0x20_0000 - 0x1_3000);
//! assert_eq!(report.usable_overridden_bytes, 0x20_0000 + 0x1_2345);
//! # Ok::<(), mem_core::MemoryMapError>(())
//! ```

mod normalize;
mod region;
mod report;

use core::fmt;

use crate::addr::PhysAddr;
use crate::page::{FRAME_SIZE, FrameRange, PhysFrame};

pub use region::{MemoryRegion, RegionKind};
pub use report::NormalizeReport;

/// Why an entry could not be added to a [`MemoryMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryMapError {
    /// The map already holds [`MemoryMap::CAPACITY`] regions, even after
    /// merging what could be merged; the entry was dropped. Dropping a usable
    /// entry only loses memory; dropping any other kind would let its memory
    /// be handed out, so callers must treat that case as fatal.
    Full {
        /// Start of the dropped entry, as given.
        start: u64,
        /// Length of the dropped entry, as given.
        len: u64,
        /// Kind of the dropped entry.
        kind: RegionKind,
    },
}

impl fmt::Display for MemoryMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Full { start, len, kind } => write!(
                f,
                "memory map full ({} regions): dropped {kind} entry at {start:#x}, {len:#x} bytes",
                MemoryMap::CAPACITY
            ),
        }
    }
}

impl core::error::Error for MemoryMapError {}

/// A physical memory map of fixed capacity, without heap.
///
/// Build it with [`add`](Self::add) and [`reserve`](Self::reserve), then call
/// [`normalize`](Self::normalize) before reading [`usable`](Self::usable)
/// memory from it.
#[derive(Clone)]
pub struct MemoryMap {
    regions: [MemoryRegion; MemoryMap::CAPACITY],
    len: usize,
    normalized: bool,
    report: NormalizeReport,
}

const EMPTY_REGION: MemoryRegion = MemoryRegion {
    start: PhysAddr::ZERO,
    end: PhysAddr::ZERO,
    kind: RegionKind::Reserved,
};

impl MemoryMap {
    /// Regions the map holds at most: raw entries before
    /// [`normalize`](Self::normalize), disjoint regions after it.
    ///
    /// 128 covers the largest UEFI maps seen in practice after their
    /// adjacent same-kind entries are merged (which a full map does by itself
    /// before refusing an entry).
    pub const CAPACITY: usize = 128;

    /// One past the highest byte a region may cover.
    ///
    /// The topmost 4 KiB frame of the physical address space is never
    /// managed, so that every exclusive end is a valid [`PhysAddr`] and every
    /// usable range a representable [`FrameRange`]. No machine has RAM there
    /// (x86_64 stops at 52 bits, this space is 56).
    pub const END: PhysAddr = PhysAddr::new(PhysAddr::LIMIT - FRAME_SIZE);

    /// An empty map (trivially normalised).
    pub const fn new() -> Self {
        Self {
            regions: [EMPTY_REGION; Self::CAPACITY],
            len: 0,
            normalized: true,
            report: NormalizeReport {
                entries_in: 0,
                regions_out: 0,
                zero_length: 0,
                above_limit: 0,
                above_limit_bytes: 0,
                usable_overridden_bytes: 0,
                trimmed: 0,
                trimmed_bytes: 0,
                capacity_dropped: 0,
                capacity_dropped_bytes: 0,
                usable_bytes: 0,
            },
        }
    }

    /// Adds a raw firmware entry of `len` bytes at `start`.
    ///
    /// Any values are accepted: unaligned, empty, overlapping others, above
    /// [`MemoryMap::END`], or with `start + len` overflowing. Empty entries
    /// and parts above `END` are dropped here and counted in the report;
    /// everything else is sorted out by [`normalize`](Self::normalize).
    ///
    /// # Errors
    /// [`MemoryMapError::Full`] if the map holds [`CAPACITY`](Self::CAPACITY)
    /// regions even after merging; the entry is dropped (and counted in the
    /// report).
    ///
    /// Complexity: O(1), or one `normalize` when the map is full.
    pub fn add(&mut self, start: u64, len: u64, kind: RegionKind) -> Result<(), MemoryMapError> {
        self.report.entries_in = self.report.entries_in.saturating_add(1);
        if len == 0 {
            self.report.zero_length = self.report.zero_length.saturating_add(1);
            return Ok(());
        }
        let limit = Self::END.as_u64();
        let true_end = u128::from(start) + u128::from(len);
        let end = if true_end > u128::from(limit) {
            let cut = true_end - u128::from(start.max(limit));
            self.report.above_limit = self.report.above_limit.saturating_add(1);
            self.report.above_limit_bytes = self
                .report
                .above_limit_bytes
                .saturating_add(u64::try_from(cut).unwrap_or(u64::MAX));
            if start >= limit {
                return Ok(());
            }
            limit
        } else {
            // Fits: true_end <= limit < 2^64.
            start + len
        };
        if self.len == Self::CAPACITY {
            let _ = self.normalize();
        }
        if self.len == Self::CAPACITY {
            self.report.capacity_dropped = self.report.capacity_dropped.saturating_add(1);
            if kind.is_usable() {
                self.report.capacity_dropped_bytes = self
                    .report
                    .capacity_dropped_bytes
                    .saturating_add(end - start);
            }
            return Err(MemoryMapError::Full { start, len, kind });
        }
        self.regions[self.len] = MemoryRegion {
            start: PhysAddr::new(start),
            end: PhysAddr::new(end),
            kind,
        };
        self.len += 1;
        self.normalized = false;
        Ok(())
    }

    /// Reserves `len` bytes at `start` as `kind`: memory the kernel knows is
    /// taken (its image, the device tree blob), whatever firmware said.
    ///
    /// A reservation always wins over usable memory, and any frame it touches
    /// even partly is not usable after [`normalize`](Self::normalize). A
    /// `kind` of [`RegionKind::Usable`] is recorded as
    /// [`RegionKind::Reserved`].
    ///
    /// # Errors
    /// As [`add`](Self::add); a dropped reservation must be treated as fatal.
    pub fn reserve(
        &mut self,
        start: u64,
        len: u64,
        kind: RegionKind,
    ) -> Result<(), MemoryMapError> {
        let kind = if kind.is_usable() {
            RegionKind::Reserved
        } else {
            kind
        };
        self.add(start, len, kind)
    }

    /// Adds every entry `(start, len, kind)` of a firmware map so that an
    /// overflowing map can only lose usable memory, never a reservation.
    ///
    /// Non-usable entries go in first. If one of them still does not fit
    /// (more than [`CAPACITY`](Self::CAPACITY) disjoint reserved regions,
    /// which no real firmware produces), every usable entry that overlaps any
    /// non-usable entry is dropped as well (counted as dropped for capacity),
    /// so that the lost reservation's memory is never handed out.
    ///
    /// Complexity: O(n) normally; O(n²) in that pathological case.
    pub fn extend_from<I>(&mut self, entries: I)
    where
        I: IntoIterator<Item = (u64, u64, RegionKind)>,
        I::IntoIter: Clone,
    {
        let entries = entries.into_iter();
        let mut lost_reservation = false;
        for (start, len, kind) in entries.clone().filter(|e| !e.2.is_usable()) {
            lost_reservation |= self.add(start, len, kind).is_err();
        }
        let overlaps =
            |a: u64, l: u64, b: u64, m: u64| a < b.saturating_add(m) && b < a.saturating_add(l);
        for (start, len, kind) in entries.clone().filter(|e| e.2.is_usable()) {
            if lost_reservation
                && len > 0
                && entries
                    .clone()
                    .any(|(s, l, k)| !k.is_usable() && l > 0 && overlaps(start, len, s, l))
            {
                self.report.entries_in = self.report.entries_in.saturating_add(1);
                self.report.capacity_dropped = self.report.capacity_dropped.saturating_add(1);
                self.report.capacity_dropped_bytes =
                    self.report.capacity_dropped_bytes.saturating_add(len);
                continue;
            }
            // A usable entry that does not fit only loses memory; the report
            // counts it.
            let _ = self.add(start, len, kind);
        }
    }

    /// Sorts and merges the regions, resolves overlaps (the kind of higher
    /// precedence wins; anything wins over usable), trims usable regions to
    /// whole 4 KiB frames, and returns what was dropped since the map was
    /// created.
    ///
    /// Idempotent. Complexity: O(n²) in the number of entries (at most
    /// 128), so at most a few tens of microseconds; no heap.
    pub fn normalize(&mut self) -> NormalizeReport {
        normalize::normalize(self);
        self.report
    }

    /// The regions, in insertion order before [`normalize`](Self::normalize)
    /// and sorted and disjoint after it.
    pub fn regions(&self) -> impl ExactSizeIterator<Item = &MemoryRegion> + '_ {
        self.regions[..self.len].iter()
    }

    /// Usable memory as frame ranges, ascending.
    ///
    /// # Panics
    /// If the map changed since the last [`normalize`](Self::normalize): an
    /// unnormalised map may list memory as usable that a reservation covers.
    pub fn usable(&self) -> impl Iterator<Item = FrameRange> + '_ {
        assert!(self.normalized, "MemoryMap::usable called before normalize");
        self.regions().filter(|r| r.kind.is_usable()).map(|r| {
            PhysFrame::range(
                PhysFrame::containing_address(r.start),
                PhysFrame::containing_address(r.end),
            )
        })
    }

    /// Usable bytes in total.
    ///
    /// # Panics
    /// If the map changed since the last [`normalize`](Self::normalize).
    pub fn usable_bytes(&self) -> u64 {
        self.usable().map(|r| r.size_bytes()).sum()
    }

    /// Whether nothing was added or reserved since the last
    /// [`normalize`](Self::normalize).
    #[inline]
    pub fn is_normalized(&self) -> bool {
        self.normalized
    }

    /// Number of regions held.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map holds no region.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The report as of now (what `normalize` last returned, plus entries
    /// dropped by `add` since).
    #[inline]
    pub fn report(&self) -> NormalizeReport {
        self.report
    }
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryMap")
            .field("normalized", &self.normalized)
            .field("regions", &&self.regions[..self.len])
            .finish()
    }
}

impl fmt::Display for MemoryMap {
    /// One region per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in self.regions() {
            writeln!(f, "{r}")?;
        }
        Ok(())
    }
}
