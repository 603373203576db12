//! The description of one page-table format that the generic engine
//! ([`GenericMapper`](super::GenericMapper)) walks.

use super::{FlagsNotSupported, PageFlags, TlbFlush};
use crate::addr::PhysAddr;

/// Entries per table in every supported format (4 KiB tables of 64-bit
/// entries, indexed by 9 address bits).
pub const ENTRIES: usize = 512;

/// A radix page-table format with 4 KiB tables of 512 64-bit entries:
/// x86_64 4-level paging and RISC-V Sv39 both have this shape, and differ
/// in depth, address widths and entry bits.
///
/// Levels are numbered from the leaves: level 0 tables map 4 KiB pages,
/// level 1 entries cover 2 MiB, level 2 entries 1 GiB, and the root is at
/// level `LEVELS - 1`.
///
/// # Safety
/// The engine dereferences `phys_offset + table_addr(entry)` for every
/// present non-leaf entry, so the encoders and decoders must agree exactly:
/// [`table_addr`](Self::table_addr) of [`encode_table`](Self::encode_table)`(pa)`
/// must be `pa`, [`is_present`](Self::is_present) must be true and
/// [`is_leaf`](Self::is_leaf) false for it (also after
/// [`propagate`](Self::propagate)), [`is_leaf`](Self::is_leaf) must be true for
/// every [`encode_leaf`](Self::encode_leaf) result, and the zero entry must
/// not be present.
pub unsafe trait PageTableFormat: TlbFlush {
    /// Number of table levels (4 for x86_64, 3 for Sv39). At most 4.
    const LEVELS: usize;
    /// Width of a canonical virtual address: bits above it must equal bit
    /// `VA_BITS - 1`.
    const VA_BITS: u32;
    /// Width of a physical address the entries can hold.
    const PA_BITS: u32;
    /// Highest level at which an entry may be a leaf (2 = 1 GiB pages).
    const MAX_LEAF_LEVEL: usize;

    /// Checks that the format can encode `flags` for a leaf.
    ///
    /// # Errors
    /// A [`FlagsNotSupported`] naming the reason.
    fn check_flags(flags: PageFlags) -> Result<(), FlagsNotSupported>;

    /// Whether the entry maps anything (a table or a page).
    fn is_present(entry: u64) -> bool;

    /// Whether a *present* entry at `level` is a leaf (a page) rather than a
    /// pointer to the next table. Level-0 entries are always leaves.
    fn is_leaf(entry: u64, level: usize) -> bool;

    /// A leaf entry at `level` mapping the frame at `pa` (aligned to the
    /// level's page size) with `flags` (already accepted by
    /// [`check_flags`](Self::check_flags)).
    fn encode_leaf(pa: PhysAddr, flags: PageFlags, level: usize) -> u64;

    /// An entry pointing to the table at `pa`, created for a leaf with
    /// `flags` below it.
    fn encode_table(pa: PhysAddr, flags: PageFlags) -> u64;

    /// The table entry `entry` amended so that a leaf with `flags` below it
    /// is reachable (x86_64 needs `USER` on every level for user pages).
    /// Returns `entry` unchanged when nothing is needed.
    fn propagate(entry: u64, flags: PageFlags) -> u64;

    /// The address of the next table of a present non-leaf entry.
    fn table_addr(entry: u64) -> PhysAddr;

    /// The frame address of a leaf entry at `level`.
    fn leaf_addr(entry: u64, level: usize) -> PhysAddr;

    /// The portable flags of a leaf entry.
    fn leaf_flags(entry: u64, level: usize) -> PageFlags;
}
