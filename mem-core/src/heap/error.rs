//! Why a region was refused.

use core::fmt;

/// Why [`Heap::add_region`](super::Heap::add_region) (or a backend's
/// equivalent) refused a region. The heap is unchanged after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionError {
    /// The start pointer was null.
    Null,
    /// `start + size` overflows the address space.
    Overflow,
    /// Too small to hold the bookkeeping and one block.
    TooSmall {
        /// Bytes offered.
        size: usize,
        /// Bytes needed for this region.
        min: usize,
    },
    /// Overlaps a region the heap already manages.
    Overlaps,
    /// The backend cannot take this region (for example, it only grows
    /// contiguously, or can be initialised only once).
    Unsupported,
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Null => f.write_str("heap region starts at null"),
            Self::Overflow => f.write_str("heap region wraps around the address space"),
            Self::TooSmall { size, min } => {
                write!(f, "heap region of {size} bytes is too small (needs {min})")
            }
            Self::Overlaps => f.write_str("heap region overlaps memory the heap already manages"),
            Self::Unsupported => f.write_str("this heap backend cannot add such a region"),
        }
    }
}

impl core::error::Error for RegionError {}

/// What [`Heap::check`](super::Heap::check) found wrong: the heap's own
/// bookkeeping is inconsistent, which means memory outside a block was
/// written (a buffer overrun, a double free, or a use after free).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptionError {
    /// Address of the chunk header where the problem shows.
    pub addr: usize,
    /// What is wrong there.
    pub what: &'static str,
}

impl fmt::Display for CorruptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "heap corrupted at {:#x}: {}", self.addr, self.what)
    }
}

impl core::error::Error for CorruptionError {}
