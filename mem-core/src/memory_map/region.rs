//! Region kinds and regions.

use core::fmt;

use crate::addr::PhysAddr;

/// What a stretch of physical memory is used for.
///
/// Firmware values are kept as they come: a type the firmware defines but we
/// do not know becomes [`RegionKind::Unknown`] (never usable) rather than an
/// error or a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegionKind {
    /// Free RAM the frame allocator may hand out.
    Usable,
    /// Reserved by firmware or hardware for an unspecified purpose.
    Reserved,
    /// ACPI tables; may be reclaimed once they have been parsed.
    AcpiReclaimable,
    /// ACPI non-volatile storage; must be preserved across sleep states.
    AcpiNvs,
    /// Used by the bootloader: boot information, page tables it built, the
    /// kernel stack.
    Bootloader,
    /// The kernel image.
    Kernel,
    /// Firmware code or data (UEFI runtime services, OpenSBI, BIOS data).
    Firmware,
    /// The flattened device tree blob.
    DeviceTree,
    /// Memory the frame allocator keeps its own bookkeeping in.
    AllocatorMetadata,
    /// Memory reported as defective.
    BadMemory,
    /// A firmware type we do not know, with its raw value.
    Unknown(u32),
}

impl RegionKind {
    /// Whether frames of this kind may be handed out.
    #[inline]
    pub const fn is_usable(self) -> bool {
        matches!(self, Self::Usable)
    }

    /// Which kind wins where two regions overlap: the higher rank.
    ///
    /// Anything beats usable memory (handing out a frame that something else
    /// owns is the one mistake a memory map must never make); between
    /// reserved kinds the more specific, less reclaimable one wins, so that a
    /// region that is both "reclaimable" and "kernel" is never reclaimed.
    pub(crate) const fn precedence(self) -> u8 {
        match self {
            Self::Usable => 0,
            Self::AcpiReclaimable | Self::Bootloader => 1,
            Self::Reserved | Self::Unknown(_) | Self::Firmware | Self::AcpiNvs => 2,
            Self::Kernel | Self::DeviceTree | Self::AllocatorMetadata => 3,
            Self::BadMemory => 4,
        }
    }
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Usable => f.write_str("usable"),
            Self::Reserved => f.write_str("reserved"),
            Self::AcpiReclaimable => f.write_str("ACPI reclaimable"),
            Self::AcpiNvs => f.write_str("ACPI NVS"),
            Self::Bootloader => f.write_str("bootloader"),
            Self::Kernel => f.write_str("kernel"),
            Self::Firmware => f.write_str("firmware"),
            Self::DeviceTree => f.write_str("device tree"),
            Self::AllocatorMetadata => f.write_str("frame allocator metadata"),
            Self::BadMemory => f.write_str("bad memory"),
            Self::Unknown(v) => write!(f, "unknown ({v:#x})"),
        }
    }
}

/// A half-open range of physical memory `[start, end)` of one kind.
///
/// In a normalised [`MemoryMap`](super::MemoryMap) regions are sorted,
/// disjoint, non-empty, and usable regions start and end on 4 KiB frame
/// boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemoryRegion {
    /// First byte.
    pub start: PhysAddr,
    /// One past the last byte.
    pub end: PhysAddr,
    /// What the memory is used for.
    pub kind: RegionKind,
}

impl MemoryRegion {
    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> u64 {
        self.end.as_u64().saturating_sub(self.start.as_u64())
    }

    /// Whether the region holds no byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether `addr` lies inside the region.
    #[inline]
    pub fn contains(&self, addr: PhysAddr) -> bool {
        self.start <= addr && addr < self.end
    }
}

impl fmt::Display for MemoryRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#014x}-{:#014x}) {}",
            self.start.as_u64(),
            self.end.as_u64(),
            self.kind
        )
    }
}
