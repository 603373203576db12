//! What normalising a memory map changed.

use core::fmt;

/// What [`MemoryMap::normalize`](super::MemoryMap::normalize) dropped or
/// trimmed, counted since the map was created.
///
/// Its [`Display`](fmt::Display) form is one log line. Every byte of usable
/// memory the firmware reported is either still usable afterwards or counted
/// in exactly one of `above_limit_bytes`, `usable_overridden_bytes`,
/// `trimmed_bytes` or `capacity_dropped_bytes` (when a usable entry overlaps
/// another usable entry, the overlap is counted once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NormalizeReport {
    /// Entries passed to `add`/`reserve` (including dropped ones).
    pub entries_in: u32,
    /// Regions in the normalised map.
    pub regions_out: u32,
    /// Entries of length zero, dropped.
    pub zero_length: u32,
    /// Entries that reached past the highest managed address (or whose
    /// `start + len` overflowed), dropped or cut short.
    pub above_limit: u32,
    /// Bytes cut off by `above_limit`, of any kind.
    pub above_limit_bytes: u64,
    /// Bytes reported usable that also lay in a reserved region and were
    /// therefore treated as reserved.
    pub usable_overridden_bytes: u64,
    /// Usable regions whose ends were not on 4 KiB frame boundaries and were
    /// cut to whole frames (or dropped when no whole frame remained).
    pub trimmed: u32,
    /// Bytes of partial frames cut off by `trimmed`.
    pub trimmed_bytes: u64,
    /// Entries or usable regions dropped because the map was full.
    pub capacity_dropped: u32,
    /// Bytes of usable memory in `capacity_dropped`.
    pub capacity_dropped_bytes: u64,
    /// Usable bytes left in the normalised map.
    pub usable_bytes: u64,
}

impl NormalizeReport {
    /// Whether anything at all was dropped, cut or overridden.
    pub fn is_clean(&self) -> bool {
        self.zero_length == 0
            && self.above_limit == 0
            && self.usable_overridden_bytes == 0
            && self.trimmed == 0
            && self.capacity_dropped == 0
    }
}

impl fmt::Display for NormalizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory map: {} entries -> {} regions, {} usable bytes ({} KiB); dropped {} zero-length, \
             {} above limit ({} bytes), {} bytes of usable overlapped by reserved, \
             {} partial-frame trims ({} bytes), {} for capacity ({} usable bytes)",
            self.entries_in,
            self.regions_out,
            self.usable_bytes,
            self.usable_bytes / 1024,
            self.zero_length,
            self.above_limit,
            self.above_limit_bytes,
            self.usable_overridden_bytes,
            self.trimmed,
            self.trimmed_bytes,
            self.capacity_dropped,
            self.capacity_dropped_bytes,
        )
    }
}
