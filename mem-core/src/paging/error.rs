//! One error enum per mapping operation.

use core::fmt;

use super::{MappedSize, PageFlags};
use crate::addr::{AddrNotAligned, PhysAddr, VirtAddr};
use crate::frame_alloc::FrameAllocError;

/// Flags that a page-table format cannot encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagsNotSupported {
    /// The rejected flags.
    pub flags: PageFlags,
    /// Why the format rejects them.
    pub reason: &'static str,
}

impl fmt::Display for FlagsNotSupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page flags {} are not supported: {}",
            self.flags, self.reason
        )
    }
}

impl core::error::Error for FlagsNotSupported {}

/// Why [`Mapper::map`](super::Mapper::map) or a range mapping failed.
///
/// A failed operation leaves the tables as they were: tables allocated on
/// the way are freed again, and a range mapping removes what it had mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// Part of the requested range is already mapped (by a page of any size).
    AlreadyMapped {
        /// First address found mapped.
        addr: VirtAddr,
    },
    /// An address or offset is not aligned as the operation requires.
    Misaligned(AddrNotAligned),
    /// The frame allocator could not supply a page-table frame.
    OutOfFrames(FrameAllocError),
    /// The format cannot encode the flags.
    InvalidFlags(FlagsNotSupported),
    /// The virtual address is not canonical for the format (or a range
    /// crosses the non-canonical hole).
    NonCanonical(VirtAddr),
    /// The physical address is wider than the format can encode.
    PhysOutOfRange(PhysAddr),
    /// The range end overflows the address space.
    AddressOverflow,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyMapped { addr } => write!(f, "virtual address {addr} is already mapped"),
            Self::Misaligned(e) => write!(f, "cannot map: {e}"),
            Self::OutOfFrames(e) => write!(f, "cannot allocate a page table: {e}"),
            Self::InvalidFlags(e) => fmt::Display::fmt(e, f),
            Self::NonCanonical(addr) => write!(f, "virtual address {addr} is not canonical"),
            Self::PhysOutOfRange(addr) => {
                write!(
                    f,
                    "physical address {addr} is beyond the format's physical address width"
                )
            }
            Self::AddressOverflow => f.write_str("the range overflows the address space"),
        }
    }
}

impl core::error::Error for MapError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Misaligned(e) => Some(e),
            Self::OutOfFrames(e) => Some(e),
            Self::InvalidFlags(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameAllocError> for MapError {
    fn from(e: FrameAllocError) -> Self {
        Self::OutOfFrames(e)
    }
}

impl From<FlagsNotSupported> for MapError {
    fn from(e: FlagsNotSupported) -> Self {
        Self::InvalidFlags(e)
    }
}

/// Why [`Mapper::unmap`](super::Mapper::unmap) or
/// [`Mapper::unmap_range`](super::Mapper::unmap_range) failed. The tables are
/// unchanged after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnmapError {
    /// Nothing is mapped at the address.
    NotMapped {
        /// The address looked up.
        addr: VirtAddr,
    },
    /// The address lies inside a larger page; split it first with
    /// [`Mapper::split`](super::Mapper::split).
    InsideHugePage {
        /// Start of the huge page.
        addr: VirtAddr,
        /// Its size.
        size: MappedSize,
    },
    /// A huge page was named, but the range is mapped with smaller pages.
    SizeMismatch {
        /// Start of the named page.
        addr: VirtAddr,
        /// The size that was asked for.
        requested: MappedSize,
    },
    /// The virtual address is not canonical for the format.
    NonCanonical(VirtAddr),
}

impl fmt::Display for UnmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMapped { addr } => write!(f, "virtual address {addr} is not mapped"),
            Self::InsideHugePage { addr, size } => {
                write!(
                    f,
                    "address lies inside the {size} page at {addr}; split it first"
                )
            }
            Self::SizeMismatch { addr, requested } => {
                write!(
                    f,
                    "{addr} is not mapped by one {requested} page but by smaller pages"
                )
            }
            Self::NonCanonical(addr) => write!(f, "virtual address {addr} is not canonical"),
        }
    }
}

impl core::error::Error for UnmapError {}

/// Why [`Mapper::protect`](super::Mapper::protect) failed. The tables are
/// unchanged after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtectError {
    /// Nothing is mapped at the address.
    NotMapped {
        /// The address looked up.
        addr: VirtAddr,
    },
    /// The address lies inside a larger page; split it first with
    /// [`Mapper::split`](super::Mapper::split).
    InsideHugePage {
        /// Start of the huge page.
        addr: VirtAddr,
        /// Its size.
        size: MappedSize,
    },
    /// A huge page was named, but the range is mapped with smaller pages.
    SizeMismatch {
        /// Start of the named page.
        addr: VirtAddr,
        /// The size that was asked for.
        requested: MappedSize,
    },
    /// The format cannot encode the flags.
    InvalidFlags(FlagsNotSupported),
    /// The virtual address is not canonical for the format.
    NonCanonical(VirtAddr),
}

impl fmt::Display for ProtectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMapped { addr } => write!(f, "virtual address {addr} is not mapped"),
            Self::InsideHugePage { addr, size } => {
                write!(
                    f,
                    "address lies inside the {size} page at {addr}; split it first"
                )
            }
            Self::SizeMismatch { addr, requested } => {
                write!(
                    f,
                    "{addr} is not mapped by one {requested} page but by smaller pages"
                )
            }
            Self::InvalidFlags(e) => fmt::Display::fmt(e, f),
            Self::NonCanonical(addr) => write!(f, "virtual address {addr} is not canonical"),
        }
    }
}

impl core::error::Error for ProtectError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::InvalidFlags(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FlagsNotSupported> for ProtectError {
    fn from(e: FlagsNotSupported) -> Self {
        Self::InvalidFlags(e)
    }
}

/// Why [`Mapper::split`](super::Mapper::split) failed. The tables are
/// unchanged after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SplitError {
    /// Nothing is mapped at the address.
    NotMapped {
        /// The address looked up.
        addr: VirtAddr,
    },
    /// The address is mapped by a 4 KiB page, which cannot be split.
    NotHuge {
        /// The address looked up.
        addr: VirtAddr,
    },
    /// The frame allocator could not supply the new table.
    OutOfFrames(FrameAllocError),
    /// The virtual address is not canonical for the format.
    NonCanonical(VirtAddr),
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotMapped { addr } => write!(f, "virtual address {addr} is not mapped"),
            Self::NotHuge { addr } => {
                write!(
                    f,
                    "virtual address {addr} is mapped by a 4KiB page, nothing to split"
                )
            }
            Self::OutOfFrames(e) => write!(f, "cannot allocate a page table: {e}"),
            Self::NonCanonical(addr) => write!(f, "virtual address {addr} is not canonical"),
        }
    }
}

impl core::error::Error for SplitError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::OutOfFrames(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FrameAllocError> for SplitError {
    fn from(e: FrameAllocError) -> Self {
        Self::OutOfFrames(e)
    }
}
