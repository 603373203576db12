//! Typed physical and virtual addresses.
//!
//! Both types are plain `u64` newtypes so that a physical address can never be
//! passed where a virtual one is expected. Neither type knows an architecture:
//! [`PhysAddr`] accepts anything below [`PhysAddr::LIMIT`] (the widest physical
//! address space of the supported formats, 56 bits for Sv39/Sv48; x86_64 is
//! narrower at 52 bits and its crate checks that itself), and [`VirtAddr`]
//! accepts any 64-bit value, leaving canonical-form checks to the page-table
//! formats that define them.
//!
//! Arithmetic comes in three forms, as in `memory_addr`: operators that panic
//! on overflow (a caller bug), `checked_*` that return `None`, and
//! `wrapping_*`.

use core::fmt;
use core::ops::{Add, AddAssign, Sub, SubAssign};

/// Error returned by [`PhysAddr::try_new`] when the value is not a valid
/// physical address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhysAddrNotValid(pub u64);

impl fmt::Display for PhysAddrNotValid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "physical address {:#x} is above the {}-bit physical address space",
            self.0,
            PhysAddr::BITS
        )
    }
}

impl core::error::Error for PhysAddrNotValid {}

/// Error returned when an address is not aligned as required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrNotAligned {
    /// The offending address value.
    pub addr: u64,
    /// The required alignment in bytes.
    pub align: u64,
}

impl fmt::Display for AddrNotAligned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "address {:#x} is not aligned to {:#x}",
            self.addr, self.align
        )
    }
}

impl core::error::Error for AddrNotAligned {}

/// A physical memory address.
///
/// ```
/// use mem_core::PhysAddr;
/// let a = PhysAddr::new(0x8020_0000);
/// assert_eq!(a.align_down(0x20_0000u64), PhysAddr::new(0x8020_0000));
/// assert!(PhysAddr::try_new(u64::MAX).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(u64);

/// A virtual memory address.
///
/// Any 64-bit value is representable; whether it is canonical is a property of
/// the page-table format, checked by the mappers.
///
/// ```
/// use mem_core::VirtAddr;
/// let v = VirtAddr::new(0x1000) + 0x234u64;
/// assert_eq!(v.page_offset(), 0x234);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(u64);

impl PhysAddr {
    /// Number of address bits a physical address may use.
    pub const BITS: u32 = 56;
    /// One past the highest valid physical address.
    pub const LIMIT: u64 = 1 << Self::BITS;
    /// The zero address.
    pub const ZERO: Self = Self(0);
    /// The highest valid physical address.
    pub const MAX: Self = Self(Self::LIMIT - 1);

    /// Creates a physical address.
    ///
    /// # Panics
    /// If `addr` is not below [`PhysAddr::LIMIT`].
    #[inline]
    #[track_caller]
    pub const fn new(addr: u64) -> Self {
        match Self::try_new(addr) {
            Ok(a) => a,
            Err(_) => panic!("physical address above the physical address space"),
        }
    }

    /// Creates a physical address, or returns an error if `addr` is not below
    /// [`PhysAddr::LIMIT`].
    #[inline]
    pub const fn try_new(addr: u64) -> Result<Self, PhysAddrNotValid> {
        if addr < Self::LIMIT {
            Ok(Self(addr))
        } else {
            Err(PhysAddrNotValid(addr))
        }
    }

    /// Creates a physical address without checking it.
    ///
    /// # Safety
    /// `addr` must be below [`PhysAddr::LIMIT`]; code that trusts the type
    /// (page-table entry encoders, for one) may otherwise write reserved bits.
    #[inline]
    pub const unsafe fn new_unchecked(addr: u64) -> Self {
        Self(addr)
    }

    /// The address as a `u64`.
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Rounds down to a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two.
    #[inline]
    #[track_caller]
    pub fn align_down<U: Into<u64>>(self, align: U) -> Self {
        Self(align_down(self.0, align.into()))
    }

    /// Rounds up to a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two or the result leaves the physical
    /// address space.
    #[inline]
    #[track_caller]
    pub fn align_up<U: Into<u64>>(self, align: U) -> Self {
        Self::new(align_up(self.0, align.into()).expect("align_up overflowed"))
    }

    /// Rounds up to a multiple of `align`, or `None` if that leaves the
    /// physical address space.
    ///
    /// # Panics
    /// If `align` is not a power of two.
    #[inline]
    #[track_caller]
    pub fn checked_align_up<U: Into<u64>>(self, align: U) -> Option<Self> {
        align_up(self.0, align.into()).and_then(|a| Self::try_new(a).ok())
    }

    /// Whether the address is a multiple of `align` (a power of two).
    #[inline]
    pub fn is_aligned<U: Into<u64>>(self, align: U) -> bool {
        is_aligned(self.0, align.into())
    }

    /// Adds `rhs`, or `None` on overflow or when leaving the address space.
    #[inline]
    pub const fn checked_add(self, rhs: u64) -> Option<Self> {
        match self.0.checked_add(rhs) {
            Some(v) if v < Self::LIMIT => Some(Self(v)),
            _ => None,
        }
    }

    /// Subtracts `rhs`, or `None` on underflow.
    #[inline]
    pub const fn checked_sub(self, rhs: u64) -> Option<Self> {
        match self.0.checked_sub(rhs) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Adds `rhs` modulo the physical address space.
    #[inline]
    pub const fn wrapping_add(self, rhs: u64) -> Self {
        Self(self.0.wrapping_add(rhs) & (Self::LIMIT - 1))
    }

    /// Subtracts `rhs` modulo the physical address space.
    #[inline]
    pub const fn wrapping_sub(self, rhs: u64) -> Self {
        Self(self.0.wrapping_sub(rhs) & (Self::LIMIT - 1))
    }
}

impl VirtAddr {
    /// The zero address.
    pub const ZERO: Self = Self(0);

    /// Creates a virtual address. Every `u64` is accepted.
    #[inline]
    pub const fn new(addr: u64) -> Self {
        Self(addr)
    }

    /// Creates a virtual address from a pointer.
    #[inline]
    pub fn from_ptr<T: ?Sized>(ptr: *const T) -> Self {
        Self(ptr.cast::<u8>() as usize as u64)
    }

    /// The address as a `u64`.
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// The address as a raw pointer. Creating the pointer is safe; using it
    /// is not.
    #[inline]
    pub const fn as_ptr<T>(self) -> *const T {
        self.0 as usize as *const T
    }

    /// The address as a raw mutable pointer.
    #[inline]
    pub const fn as_mut_ptr<T>(self) -> *mut T {
        self.0 as usize as *mut T
    }

    /// Offset within a 4 KiB page.
    #[inline]
    pub const fn page_offset(self) -> u64 {
        self.0 & 0xfff
    }

    /// Rounds down to a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two.
    #[inline]
    #[track_caller]
    pub fn align_down<U: Into<u64>>(self, align: U) -> Self {
        Self(align_down(self.0, align.into()))
    }

    /// Rounds up to a multiple of `align`.
    ///
    /// # Panics
    /// If `align` is not a power of two or the result overflows.
    #[inline]
    #[track_caller]
    pub fn align_up<U: Into<u64>>(self, align: U) -> Self {
        Self(align_up(self.0, align.into()).expect("align_up overflowed"))
    }

    /// Rounds up to a multiple of `align`, or `None` on overflow.
    ///
    /// # Panics
    /// If `align` is not a power of two.
    #[inline]
    #[track_caller]
    pub fn checked_align_up<U: Into<u64>>(self, align: U) -> Option<Self> {
        align_up(self.0, align.into()).map(Self)
    }

    /// Whether the address is a multiple of `align` (a power of two).
    #[inline]
    pub fn is_aligned<U: Into<u64>>(self, align: U) -> bool {
        is_aligned(self.0, align.into())
    }

    /// Adds `rhs`, or `None` on overflow.
    #[inline]
    pub const fn checked_add(self, rhs: u64) -> Option<Self> {
        match self.0.checked_add(rhs) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Subtracts `rhs`, or `None` on underflow.
    #[inline]
    pub const fn checked_sub(self, rhs: u64) -> Option<Self> {
        match self.0.checked_sub(rhs) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Adds `rhs`, wrapping around at 2^64.
    #[inline]
    pub const fn wrapping_add(self, rhs: u64) -> Self {
        Self(self.0.wrapping_add(rhs))
    }

    /// Subtracts `rhs`, wrapping around at 0.
    #[inline]
    pub const fn wrapping_sub(self, rhs: u64) -> Self {
        Self(self.0.wrapping_sub(rhs))
    }
}

#[inline]
#[track_caller]
fn check_pow2(align: u64) {
    assert!(
        align.is_power_of_two(),
        "alignment {align:#x} is not a power of two"
    );
}

#[inline]
#[track_caller]
pub(crate) fn align_down(v: u64, align: u64) -> u64 {
    check_pow2(align);
    v & !(align - 1)
}

#[inline]
#[track_caller]
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    check_pow2(align);
    v.checked_add(align - 1).map(|x| x & !(align - 1))
}

#[inline]
pub(crate) fn is_aligned(v: u64, align: u64) -> bool {
    align.is_power_of_two() && v & (align - 1) == 0
}

macro_rules! addr_ops {
    ($t:ident) => {
        impl Add<u64> for $t {
            type Output = Self;
            #[inline]
            #[track_caller]
            fn add(self, rhs: u64) -> Self {
                self.checked_add(rhs)
                    .expect(concat!(stringify!($t), " addition overflowed"))
            }
        }
        impl AddAssign<u64> for $t {
            #[inline]
            #[track_caller]
            fn add_assign(&mut self, rhs: u64) {
                *self = *self + rhs;
            }
        }
        impl Sub<u64> for $t {
            type Output = Self;
            #[inline]
            #[track_caller]
            fn sub(self, rhs: u64) -> Self {
                self.checked_sub(rhs)
                    .expect(concat!(stringify!($t), " subtraction underflowed"))
            }
        }
        impl SubAssign<u64> for $t {
            #[inline]
            #[track_caller]
            fn sub_assign(&mut self, rhs: u64) {
                *self = *self - rhs;
            }
        }
        impl Sub<$t> for $t {
            type Output = u64;
            #[inline]
            #[track_caller]
            fn sub(self, rhs: $t) -> u64 {
                self.0
                    .checked_sub(rhs.0)
                    .expect(concat!(stringify!($t), " difference underflowed"))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($t), "({:#x})"), self.0)
            }
        }
        impl fmt::LowerHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::LowerHex::fmt(&self.0, f)
            }
        }
        impl fmt::UpperHex for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::UpperHex::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:#x}", self.0)
            }
        }
    };
}

addr_ops!(PhysAddr);
addr_ops!(VirtAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phys_limits() {
        assert!(PhysAddr::try_new(PhysAddr::LIMIT - 1).is_ok());
        assert_eq!(
            PhysAddr::try_new(PhysAddr::LIMIT),
            Err(PhysAddrNotValid(PhysAddr::LIMIT))
        );
        assert_eq!(PhysAddr::MAX.checked_add(1), None);
        assert_eq!(PhysAddr::ZERO.checked_sub(1), None);
        assert_eq!(PhysAddr::MAX.wrapping_add(1), PhysAddr::ZERO);
    }

    #[test]
    fn alignment() {
        let a = PhysAddr::new(0x1234);
        assert_eq!(a.align_down(0x1000u64).as_u64(), 0x1000);
        assert_eq!(a.align_up(0x1000u64).as_u64(), 0x2000);
        assert!(!a.is_aligned(0x1000u64));
        assert_eq!(PhysAddr::MAX.checked_align_up(0x1000u64), None);
        assert_eq!(VirtAddr::new(u64::MAX).checked_align_up(0x1000u64), None);
        assert!(VirtAddr::new(0x20_0000).is_aligned(0x20_0000u64));
    }

    #[test]
    #[should_panic(expected = "not a power of two")]
    fn bad_alignment_panics() {
        let _ = PhysAddr::new(0).align_down(3u64);
    }

    #[test]
    #[should_panic(expected = "addition overflowed")]
    fn add_overflow_panics() {
        let _ = VirtAddr::new(u64::MAX) + 1;
    }

    #[test]
    fn difference() {
        assert_eq!(PhysAddr::new(0x3000) - PhysAddr::new(0x1000), 0x2000);
        assert_eq!(format!("{:?}", VirtAddr::new(0x10)), "VirtAddr(0x10)");
    }
}
