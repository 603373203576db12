//! Arch-neutral page permissions and attributes.

use core::fmt;
use core::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Sub};

/// Permissions and attributes of a mapping, independent of the page-table
/// format.
///
/// Each format encodes these into its own entry bits (x86_64: `WRITABLE`,
/// `NO_EXECUTE`, …; Sv39: `R`/`W`/`X`, …) and decodes them back, so
/// [`Mapper::translate`](super::Mapper::translate) reports exactly the flags a
/// page was mapped with.
///
/// Every mapping must be readable: x86_64 cannot express execute-only or
/// write-only pages and Sv39 reserves write-without-read, so both mappers
/// reject flags without [`READ`](Self::READ) the same way. Writable *and*
/// executable mappings are accepted by the mappers: W^X is the runtime's
/// policy, checkable with [`is_writable_executable`](Self::is_writable_executable).
///
/// ```
/// use mem_core::paging::PageFlags;
/// let data = PageFlags::READ | PageFlags::WRITE;
/// assert!(data.contains(PageFlags::WRITE));
/// assert!(!data.is_writable_executable());
/// assert_eq!(format!("{data:?}"), "PageFlags(READ | WRITE)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PageFlags(u8);

impl PageFlags {
    /// The page may be read (required on every mapping).
    pub const READ: Self = Self(1 << 0);
    /// The page may be written.
    pub const WRITE: Self = Self(1 << 1);
    /// Instructions may be fetched from the page.
    pub const EXECUTE: Self = Self(1 << 2);
    /// The page is accessible from user mode.
    pub const USER: Self = Self(1 << 3);
    /// The mapping is global: it survives address-space switches in the TLB.
    pub const GLOBAL: Self = Self(1 << 4);
    /// The page is not cached (device memory, MMIO).
    pub const NO_CACHE: Self = Self(1 << 5);

    /// Read-only data.
    pub const R: Self = Self::READ;
    /// Read-write data.
    pub const RW: Self = Self(Self::READ.0 | Self::WRITE.0);
    /// Read-execute code.
    pub const RX: Self = Self(Self::READ.0 | Self::EXECUTE.0);
    /// Device memory: read-write, uncached, never executable.
    pub const MMIO: Self = Self(Self::READ.0 | Self::WRITE.0 | Self::NO_CACHE.0);

    const ALL_BITS: u8 = 0x3f;
    const NAMES: [(Self, &'static str); 6] = [
        (Self::READ, "READ"),
        (Self::WRITE, "WRITE"),
        (Self::EXECUTE, "EXECUTE"),
        (Self::USER, "USER"),
        (Self::GLOBAL, "GLOBAL"),
        (Self::NO_CACHE, "NO_CACHE"),
    ];

    /// No flag set.
    #[inline]
    pub const fn empty() -> Self {
        Self(0)
    }

    /// Every flag set.
    #[inline]
    pub const fn all() -> Self {
        Self(Self::ALL_BITS)
    }

    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw bits, or `None` if an unknown bit is set.
    #[inline]
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::ALL_BITS == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// Flags from raw bits, dropping unknown bits.
    #[inline]
    pub const fn from_bits_truncate(bits: u8) -> Self {
        Self(bits & Self::ALL_BITS)
    }

    /// Whether every flag of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    #[inline]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no flag is set.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets together.
    #[inline]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// `self` without the flags of `other`.
    #[inline]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Whether the flags allow both writing and executing, which a W^X
    /// policy forbids.
    #[inline]
    pub const fn is_writable_executable(self) -> bool {
        self.contains(Self::WRITE.union(Self::EXECUTE))
    }
}

impl BitOr for PageFlags {
    type Output = Self;
    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for PageFlags {
    #[inline]
    fn bitor_assign(&mut self, rhs: Self) {
        *self = *self | rhs;
    }
}

impl BitAnd for PageFlags {
    type Output = Self;
    #[inline]
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl BitAndAssign for PageFlags {
    #[inline]
    fn bitand_assign(&mut self, rhs: Self) {
        *self = *self & rhs;
    }
}

impl Sub for PageFlags {
    type Output = Self;
    #[inline]
    fn sub(self, rhs: Self) -> Self {
        self.difference(rhs)
    }
}

impl fmt::Debug for PageFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageFlags(")?;
        fmt::Display::fmt(self, f)?;
        f.write_str(")")
    }
}

/// Writes the set flags as `READ | WRITE`, or `empty`.
impl fmt::Display for PageFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("empty");
        }
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_operations() {
        let f = PageFlags::RX | PageFlags::GLOBAL;
        assert!(f.contains(PageFlags::READ | PageFlags::EXECUTE));
        assert!(!f.contains(PageFlags::WRITE));
        assert_eq!(f - PageFlags::EXECUTE, PageFlags::READ | PageFlags::GLOBAL);
        assert_eq!(f & PageFlags::EXECUTE, PageFlags::EXECUTE);
        assert!(f.intersects(PageFlags::GLOBAL | PageFlags::USER));
        assert_eq!(PageFlags::from_bits(0x40), None);
        assert_eq!(PageFlags::from_bits_truncate(0xff), PageFlags::all());
        assert!((PageFlags::RW | PageFlags::EXECUTE).is_writable_executable());
        assert_eq!(PageFlags::empty().to_string(), "empty");
        assert_eq!(PageFlags::MMIO.to_string(), "READ | WRITE | NO_CACHE");
    }
}
