//! Heap statistics shared by every backend.

/// A snapshot of a heap's counters.
///
/// Every backend fills the same fields; the ones a backend cannot know are
/// `None` (only [`largest_free_block`](Self::largest_free_block) and
/// [`fragmentation_permille`](Self::fragmentation_permille), for backends
/// that keep no free-block index we can read).
///
/// Byte counts of allocations are the sizes callers asked for, so
/// `total_bytes - free_bytes - bytes_in_use` is the allocator's own overhead
/// (headers, rounding, alignment padding, region bookkeeping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeapStats {
    /// Sum of the sizes of live allocations, as requested.
    pub bytes_in_use: usize,
    /// Highest `bytes_in_use` seen.
    pub peak_bytes: usize,
    /// Bytes in free blocks, available to future allocations.
    pub free_bytes: usize,
    /// Bytes handed to the heap (the arena), over all regions.
    pub total_bytes: usize,
    /// Live allocations.
    pub allocations: usize,
    /// Allocations ever made (reallocations that move count once more).
    pub total_allocations: u64,
    /// Regions added after the first one (explicit `add_region`/`extend`
    /// calls and growth through the grow handler).
    pub growth_events: u64,
    /// Size of the largest free block, in bytes, headers included.
    pub largest_free_block: Option<usize>,
    /// External fragmentation: `1 - largest_free_block / free_bytes`, in
    /// thousandths (0 when all free memory is one block or none is free).
    pub fragmentation_permille: Option<u16>,
}

impl HeapStats {
    /// Computes [`fragmentation_permille`](Self::fragmentation_permille) from
    /// a largest free block and a free total. O(1).
    #[must_use]
    pub const fn fragmentation_of(largest_free_block: usize, free_bytes: usize) -> u16 {
        if free_bytes == 0 || largest_free_block >= free_bytes {
            return 0;
        }
        // u128 keeps the product exact for any arena size.
        let ratio = largest_free_block as u128 * 1000 / free_bytes as u128;
        (1000 - ratio) as u16
    }
}

impl core::fmt::Display for HeapStats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "in use {} B (peak {} B) in {} allocations ({} ever), free {} B of {} B, {} growth events",
            self.bytes_in_use,
            self.peak_bytes,
            self.allocations,
            self.total_allocations,
            self.free_bytes,
            self.total_bytes,
            self.growth_events,
        )?;
        if let (Some(largest), Some(frag)) = (self.largest_free_block, self.fragmentation_permille)
        {
            write!(
                f,
                ", largest free block {largest} B, fragmentation {}.{}%",
                frag / 10,
                frag % 10
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragmentation_ratio() {
        assert_eq!(HeapStats::fragmentation_of(0, 0), 0);
        assert_eq!(HeapStats::fragmentation_of(100, 100), 0);
        assert_eq!(HeapStats::fragmentation_of(25, 100), 750);
        assert_eq!(HeapStats::fragmentation_of(1 << 62, 1 << 63), 500);
        assert_eq!(HeapStats::fragmentation_of(usize::MAX / 2, usize::MAX), 501);
    }
}
