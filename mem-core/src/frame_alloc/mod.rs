//! Physical frame allocation.
//!
//! [`FrameAllocator`] is the interface every part of the framework takes its
//! frames from: the page-table code, the heap growth path, and device drivers
//! that need DMA buffers. It is a *safe* trait: an allocator only hands out
//! frame numbers, never memory. Turning a frame into accessible memory needs a
//! mapping (an `unsafe` operation whose caller vouches that the frame is not
//! in use elsewhere), so a buggy allocator can cause a logic error that later
//! unsafe code trusts, but cannot by itself cause undefined behaviour.

use core::fmt;

use crate::page::{FrameRange, PhysFrame};

mod hier;
mod layout;
mod pool;

pub use pool::{FramePool, FramePoolInitError};

/// Why an allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameAllocError {
    /// No free frame is left.
    OutOfFrames,
    /// Enough frames may be free, but no run of `count` contiguous free frames
    /// starts at a multiple of `align` frames.
    NoContiguousRun {
        /// Frames requested.
        count: usize,
        /// Alignment requested, in frames.
        align: usize,
    },
    /// `count` was zero or `align` was not a power of two.
    InvalidRequest {
        /// Frames requested.
        count: usize,
        /// Alignment requested, in frames.
        align: usize,
    },
}

impl fmt::Display for FrameAllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::OutOfFrames => f.write_str("out of physical frames"),
            Self::NoContiguousRun { count, align } => write!(
                f,
                "no run of {count} contiguous free frames aligned to {align} frames"
            ),
            Self::InvalidRequest { count, align } => write!(
                f,
                "invalid contiguous request: {count} frames at alignment {align} \
                 (count must be non-zero, alignment a power of two)"
            ),
        }
    }
}

impl core::error::Error for FrameAllocError {}

/// Why a free was refused. The allocator is unchanged after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameFreeError {
    /// The frame is already free: a double free, or a frame this allocator
    /// never handed out.
    NotAllocated(PhysFrame),
    /// The frame is not usable memory managed by this allocator (reserved,
    /// outside every region, or above the managed range).
    NotManaged(PhysFrame),
    /// The range to free is empty.
    EmptyRange,
}

impl fmt::Display for FrameFreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotAllocated(fr) => write!(
                f,
                "frame {:#x} is not allocated (double free, or never handed out)",
                fr.start_address().as_u64()
            ),
            Self::NotManaged(fr) => write!(
                f,
                "frame {:#x} is not usable memory managed by this allocator",
                fr.start_address().as_u64()
            ),
            Self::EmptyRange => f.write_str("cannot free an empty frame range"),
        }
    }
}

impl core::error::Error for FrameFreeError {}

/// A source of 4 KiB physical frames.
///
/// Implementations need no heap: they run before the heap exists.
///
/// This trait is safe to implement and to call. Misuse (a wrong free, a
/// buggy implementation) can only produce a wrong frame *number*; making that
/// frame's memory accessible requires an `unsafe` mapping whose caller is
/// responsible for exclusivity.
pub trait FrameAllocator {
    /// Allocates one frame.
    fn allocate_frame(&mut self) -> Result<PhysFrame, FrameAllocError>;

    /// Returns one frame previously obtained from [`allocate_frame`] or as
    /// part of a run.
    ///
    /// [`allocate_frame`]: FrameAllocator::allocate_frame
    fn deallocate_frame(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError>;

    /// Allocates `count` physically contiguous frames whose first frame number
    /// is a multiple of `align` (in frames, a power of two; `512` gives 2 MiB
    /// alignment).
    fn allocate_contiguous(
        &mut self,
        count: usize,
        align: usize,
    ) -> Result<FrameRange, FrameAllocError>;

    /// Frees every frame of `range`. Either all frames are freed, or none is
    /// and an error names the first offending frame.
    fn deallocate_contiguous(&mut self, range: FrameRange) -> Result<(), FrameFreeError>;

    /// Frames currently free.
    fn free_frames(&self) -> usize;

    /// Frames managed in total (free plus allocated).
    fn total_frames(&self) -> usize;
}

impl<A: FrameAllocator + ?Sized> FrameAllocator for &mut A {
    #[inline]
    fn allocate_frame(&mut self) -> Result<PhysFrame, FrameAllocError> {
        (**self).allocate_frame()
    }
    #[inline]
    fn deallocate_frame(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError> {
        (**self).deallocate_frame(frame)
    }
    #[inline]
    fn allocate_contiguous(
        &mut self,
        count: usize,
        align: usize,
    ) -> Result<FrameRange, FrameAllocError> {
        (**self).allocate_contiguous(count, align)
    }
    #[inline]
    fn deallocate_contiguous(&mut self, range: FrameRange) -> Result<(), FrameFreeError> {
        (**self).deallocate_contiguous(range)
    }
    #[inline]
    fn free_frames(&self) -> usize {
        (**self).free_frames()
    }
    #[inline]
    fn total_frames(&self) -> usize {
        (**self).total_frames()
    }
}
