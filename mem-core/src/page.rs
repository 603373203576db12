//! Pages and frames, generic over the page size, and ranges of them.
//!
//! The size is a type parameter ([`Size4KiB`], [`Size2MiB`], [`Size1GiB`]) so
//! that a 2 MiB mapping cannot be handed a 4 KiB frame by mistake; both
//! supported page-table formats (x86_64 4-level and Sv39) use exactly these
//! three sizes.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;

use crate::addr::{AddrNotAligned, PhysAddr, VirtAddr};

mod sealed {
    pub trait Sealed {}
}

/// A page size supported by every page-table format we implement.
pub trait PageSize: sealed::Sealed + Copy + Eq + Ord + core::hash::Hash + fmt::Debug {
    /// Size in bytes (a power of two).
    const SIZE: u64;
    /// `log2(SIZE)`.
    const SHIFT: u32;
    /// A short human-readable name such as `"4KiB"`.
    const NAME: &'static str;
}

/// A 4 KiB page (the base page on both arches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size4KiB {}
/// A 2 MiB huge page (x86_64 level-2 / Sv39 level-1 leaf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size2MiB {}
/// A 1 GiB huge page (x86_64 level-3 / Sv39 level-2 leaf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Size1GiB {}

impl sealed::Sealed for Size4KiB {}
impl sealed::Sealed for Size2MiB {}
impl sealed::Sealed for Size1GiB {}

impl PageSize for Size4KiB {
    const SIZE: u64 = 1 << 12;
    const SHIFT: u32 = 12;
    const NAME: &'static str = "4KiB";
}
impl PageSize for Size2MiB {
    const SIZE: u64 = 1 << 21;
    const SHIFT: u32 = 21;
    const NAME: &'static str = "2MiB";
}
impl PageSize for Size1GiB {
    const SIZE: u64 = 1 << 30;
    const SHIFT: u32 = 30;
    const NAME: &'static str = "1GiB";
}

/// Bytes in a 4 KiB frame, the unit the frame allocators count in.
pub const FRAME_SIZE: u64 = Size4KiB::SIZE;

/// A physical frame of size `S`.
///
/// ```
/// use mem_core::{PhysAddr, PhysFrame, Size2MiB};
/// let f = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(0x4030_1234));
/// assert_eq!(f.start_address(), PhysAddr::new(0x4020_0000));
/// assert!(PhysFrame::<Size2MiB>::from_start_address(PhysAddr::new(0x1000)).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct PhysFrame<S: PageSize = Size4KiB> {
    start: PhysAddr,
    size: PhantomData<S>,
}

/// A virtual page of size `S`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
pub struct Page<S: PageSize = Size4KiB> {
    start: VirtAddr,
    size: PhantomData<S>,
}

impl<S: PageSize> PhysFrame<S> {
    /// The frame starting at `addr`, or an error if `addr` is not aligned to
    /// `S::SIZE`.
    #[inline]
    pub fn from_start_address(addr: PhysAddr) -> Result<Self, AddrNotAligned> {
        if addr.is_aligned(S::SIZE) {
            Ok(Self {
                start: addr,
                size: PhantomData,
            })
        } else {
            Err(AddrNotAligned {
                addr: addr.as_u64(),
                align: S::SIZE,
            })
        }
    }

    /// The frame starting at `addr` without an alignment check.
    ///
    /// # Safety
    /// `addr` must be aligned to `S::SIZE`; page-table encoders trust it and
    /// would otherwise set flag bits from the address.
    #[inline]
    pub const unsafe fn from_start_address_unchecked(addr: PhysAddr) -> Self {
        Self {
            start: addr,
            size: PhantomData,
        }
    }

    /// The frame that contains `addr`.
    #[inline]
    pub fn containing_address(addr: PhysAddr) -> Self {
        Self {
            start: addr.align_down(S::SIZE),
            size: PhantomData,
        }
    }

    /// The frame with number `number` (its start address divided by the
    /// size), or `None` if it lies outside the physical address space.
    #[inline]
    pub fn from_number(number: u64) -> Option<Self> {
        let addr = number.checked_mul(S::SIZE)?;
        Some(Self {
            start: PhysAddr::try_new(addr).ok()?,
            size: PhantomData,
        })
    }

    /// First byte of the frame.
    #[inline]
    pub const fn start_address(self) -> PhysAddr {
        self.start
    }

    /// The frame number: start address divided by the size.
    #[inline]
    pub const fn number(self) -> u64 {
        self.start.as_u64() >> S::SHIFT
    }

    /// Size in bytes.
    #[inline]
    pub const fn size(self) -> u64 {
        S::SIZE
    }

    /// The frame `count` frames later, or `None` past the address space.
    #[inline]
    pub fn checked_add(self, count: u64) -> Option<Self> {
        let start = self.start.checked_add(count.checked_mul(S::SIZE)?)?;
        Some(Self {
            start,
            size: PhantomData,
        })
    }

    /// Half-open range `[start, end)`.
    #[inline]
    pub fn range(start: Self, end: Self) -> FrameRange<S> {
        FrameRange { start, end }
    }
}

impl<S: PageSize> Page<S> {
    /// The page starting at `addr`, or an error if `addr` is not aligned to
    /// `S::SIZE`.
    #[inline]
    pub fn from_start_address(addr: VirtAddr) -> Result<Self, AddrNotAligned> {
        if addr.is_aligned(S::SIZE) {
            Ok(Self {
                start: addr,
                size: PhantomData,
            })
        } else {
            Err(AddrNotAligned {
                addr: addr.as_u64(),
                align: S::SIZE,
            })
        }
    }

    /// The page starting at `addr` without an alignment check.
    ///
    /// # Safety
    /// `addr` must be aligned to `S::SIZE`.
    #[inline]
    pub const unsafe fn from_start_address_unchecked(addr: VirtAddr) -> Self {
        Self {
            start: addr,
            size: PhantomData,
        }
    }

    /// The page that contains `addr`.
    #[inline]
    pub fn containing_address(addr: VirtAddr) -> Self {
        Self {
            start: addr.align_down(S::SIZE),
            size: PhantomData,
        }
    }

    /// First byte of the page.
    #[inline]
    pub const fn start_address(self) -> VirtAddr {
        self.start
    }

    /// The page number: start address divided by the size.
    #[inline]
    pub const fn number(self) -> u64 {
        self.start.as_u64() >> S::SHIFT
    }

    /// Size in bytes.
    #[inline]
    pub const fn size(self) -> u64 {
        S::SIZE
    }

    /// The page `count` pages later, or `None` on overflow.
    #[inline]
    pub fn checked_add(self, count: u64) -> Option<Self> {
        let start = self.start.checked_add(count.checked_mul(S::SIZE)?)?;
        Some(Self {
            start,
            size: PhantomData,
        })
    }

    /// Half-open range `[start, end)`.
    #[inline]
    pub fn range(start: Self, end: Self) -> PageRange<S> {
        PageRange { start, end }
    }
}

impl<S: PageSize> fmt::Debug for PhysFrame<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysFrame<{}>({:#x})", S::NAME, self.start.as_u64())
    }
}

impl<S: PageSize> fmt::Debug for Page<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Page<{}>({:#x})", S::NAME, self.start.as_u64())
    }
}

macro_rules! range_type {
    ($(#[$doc:meta])* $name:ident, $item:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name<S: PageSize = Size4KiB> {
            /// First element.
            pub start: $item<S>,
            /// One past the last element.
            pub end: $item<S>,
        }

        impl<S: PageSize> $name<S> {
            /// Number of elements; zero if `end <= start`.
            #[inline]
            pub fn len(&self) -> u64 {
                self.end.number().saturating_sub(self.start.number())
            }

            /// Whether the range holds nothing.
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.end <= self.start
            }

            /// Whether `item` lies inside the range.
            #[inline]
            pub fn contains(&self, item: $item<S>) -> bool {
                self.start <= item && item < self.end
            }

            /// Size in bytes.
            #[inline]
            pub fn size_bytes(&self) -> u64 {
                self.len() * S::SIZE
            }
        }

        impl<S: PageSize> Iterator for $name<S> {
            type Item = $item<S>;
            #[inline]
            fn next(&mut self) -> Option<$item<S>> {
                if self.start < self.end {
                    let item = self.start;
                    // The end bound fits, so one step below it cannot overflow.
                    self.start = item.checked_add(1).unwrap_or(self.end);
                    Some(item)
                } else {
                    None
                }
            }
            #[inline]
            fn size_hint(&self) -> (usize, Option<usize>) {
                let n = usize::try_from(self.len()).unwrap_or(usize::MAX);
                (n, Some(n))
            }
        }

        impl<S: PageSize> DoubleEndedIterator for $name<S> {
            #[inline]
            fn next_back(&mut self) -> Option<$item<S>> {
                if self.start < self.end {
                    // SAFETY: end > start >= 0, so end - SIZE is aligned and valid.
                    self.end = unsafe {
                        $item::from_start_address_unchecked(self.end.start_address() - S::SIZE)
                    };
                    Some(self.end)
                } else {
                    None
                }
            }
        }

        impl<S: PageSize> ExactSizeIterator for $name<S> {}
        impl<S: PageSize> FusedIterator for $name<S> {}

        impl<S: PageSize> fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($name), "<{}>({:#x}..{:#x})"),
                    S::NAME,
                    self.start.start_address().as_u64(),
                    self.end.start_address().as_u64()
                )
            }
        }
    };
}

range_type!(
    /// A half-open range of physical frames, also an iterator over them.
    ///
    /// ```
    /// use mem_core::{FrameRange, PhysAddr, PhysFrame};
    /// let r: FrameRange = PhysFrame::range(
    ///     PhysFrame::containing_address(PhysAddr::new(0x1000)),
    ///     PhysFrame::containing_address(PhysAddr::new(0x4000)),
    /// );
    /// assert_eq!(r.len(), 3);
    /// assert_eq!(r.map(|f| f.number()).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    FrameRange,
    PhysFrame
);
range_type!(
    /// A half-open range of virtual pages, also an iterator over them.
    PageRange,
    Page
);

impl<S: PageSize> FrameRange<S> {
    /// The range of `count` frames starting at `start`, or `None` if it would
    /// leave the physical address space.
    #[inline]
    pub fn from_start_len(start: PhysFrame<S>, count: u64) -> Option<Self> {
        Some(Self {
            start,
            end: start.checked_add(count)?,
        })
    }

    /// First byte of the range.
    #[inline]
    pub fn start_address(&self) -> PhysAddr {
        self.start.start_address()
    }
}

impl<S: PageSize> PageRange<S> {
    /// The range of `count` pages starting at `start`, or `None` on overflow.
    #[inline]
    pub fn from_start_len(start: Page<S>, count: u64) -> Option<Self> {
        Some(Self {
            start,
            end: start.checked_add(count)?,
        })
    }

    /// First byte of the range.
    #[inline]
    pub fn start_address(&self) -> VirtAddr {
        self.start.start_address()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_alignment() {
        assert!(PhysFrame::<Size4KiB>::from_start_address(PhysAddr::new(0x1001)).is_err());
        let f = PhysFrame::<Size1GiB>::containing_address(PhysAddr::new(0x7fff_ffff));
        assert_eq!(f.start_address(), PhysAddr::new(0x4000_0000));
        assert_eq!(f.number(), 1);
        assert_eq!(PhysFrame::<Size4KiB>::from_number(1 << 44), None);
        assert!(PhysFrame::<Size4KiB>::from_number((1 << 44) - 1).is_some());
    }

    #[test]
    fn last_frame_iterates_without_overflow() {
        let last = PhysFrame::<Size4KiB>::containing_address(PhysAddr::MAX);
        assert_eq!(last.checked_add(1), None);
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(u64::MAX));
        assert_eq!(page.checked_add(1), None);
        let r = PageRange {
            start: page,
            end: page,
        };
        assert_eq!(r.count(), 0);
    }

    #[test]
    fn ranges_iterate_both_ways() {
        let start = Page::<Size2MiB>::containing_address(VirtAddr::new(0));
        let r = PageRange::from_start_len(start, 4).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.size_bytes(), 8 << 20);
        let back: Vec<u64> = r.rev().map(|p| p.number()).collect();
        assert_eq!(back, [3, 2, 1, 0]);
        let inverted = PageRange {
            start: r.end,
            end: r.start,
        };
        assert!(inverted.is_empty());
        assert_eq!(inverted.len(), 0);
    }
}
