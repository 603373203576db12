//! Simulated physical memory for host tests and benchmarks (feature
//! `paging-sim`).
//!
//! [`SimFrames`] owns a page-aligned heap buffer that plays physical memory
//! starting at address 0, and is a [`FrameAllocator`] over its frames that
//! catches double frees and frees of foreign frames. A mapper built with
//! `phys_offset = sim.phys_offset()` then walks real tables in that buffer.
//! [`model`] holds a reference model of a [`Mapper`](super::Mapper) that
//! property tests of every format compare against, and [`model_prop`] the
//! property-test driver they share.

extern crate alloc;

pub mod model;
pub mod model_prop;

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::vec::Vec;
use core::fmt;

use crate::addr::{PhysAddr, VirtAddr};
use crate::frame_alloc::{FrameAllocError, FrameAllocator, FrameFreeError};
use crate::page::{FRAME_SIZE, FrameRange, PhysFrame};

/// A buffer of `frames` 4 KiB frames playing physical memory `[0, frames *
/// 4 KiB)`, with a tracking allocator over frames `1..frames` (frame 0 is
/// never handed out, so a zeroed entry can never look like a table there).
pub struct SimFrames {
    base: *mut u8,
    frames: usize,
    free: Vec<u32>,
    allocated: Vec<bool>,
    budget: Option<usize>,
}

impl fmt::Debug for SimFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimFrames")
            .field("frames", &self.frames)
            .field("free", &self.free.len())
            .field("budget", &self.budget)
            .finish()
    }
}

impl SimFrames {
    /// Simulated memory of `frames` frames, all free but frame 0.
    ///
    /// # Panics
    /// If `frames` is 0 or above `u32::MAX`, or the buffer cannot be
    /// allocated.
    pub fn new(frames: usize) -> Self {
        assert!(
            frames > 0 && u32::try_from(frames).is_ok(),
            "bad frame count {frames}"
        );
        let layout = Self::layout(frames);
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null(), "cannot allocate {frames} simulated frames");
        // Handed out from the low end first, like a fresh allocator.
        let free = (1..frames as u32).rev().collect();
        let mut allocated = alloc::vec![false; frames];
        allocated[0] = true;
        Self {
            base,
            frames,
            free,
            allocated,
            budget: None,
        }
    }

    fn layout(frames: usize) -> Layout {
        Layout::from_size_align(frames * FRAME_SIZE as usize, FRAME_SIZE as usize)
            .expect("simulated memory too large")
    }

    /// The virtual address at which simulated physical address 0 lies: the
    /// `phys_offset` to build a mapper with.
    pub fn phys_offset(&self) -> VirtAddr {
        VirtAddr::from_ptr(self.base)
    }

    /// After `n` more successful allocations, fail every further one with
    /// [`FrameAllocError::OutOfFrames`]; `None` lifts the limit.
    pub fn set_budget(&mut self, n: Option<usize>) {
        self.budget = n;
    }

    /// Whether `frame` is currently allocated.
    pub fn is_allocated(&self, frame: PhysFrame) -> bool {
        usize::try_from(frame.number())
            .ok()
            .and_then(|n| self.allocated.get(n).copied())
            .unwrap_or(false)
    }

    /// The `u64` at physical address `pa` (8-byte aligned, inside the
    /// buffer), for tests that inspect raw entries.
    ///
    /// # Panics
    /// If `pa` is outside the buffer or misaligned.
    pub fn read_u64(&self, pa: PhysAddr) -> u64 {
        let pa = pa.as_u64() as usize;
        assert!(
            pa.is_multiple_of(8) && pa < self.frames * FRAME_SIZE as usize,
            "bad address {pa:#x}"
        );
        // SAFETY: in bounds and aligned, checked above; the buffer lives as
        // long as `self`.
        unsafe { self.base.add(pa).cast::<u64>().read() }
    }

    fn take_budget(&mut self) -> Result<(), FrameAllocError> {
        match &mut self.budget {
            Some(0) => Err(FrameAllocError::OutOfFrames),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl Drop for SimFrames {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base, Self::layout(self.frames)) };
    }
}

impl FrameAllocator for SimFrames {
    fn allocate_frame(&mut self) -> Result<PhysFrame, FrameAllocError> {
        self.take_budget()?;
        let n = self.free.pop().ok_or(FrameAllocError::OutOfFrames)?;
        self.allocated[n as usize] = true;
        Ok(PhysFrame::from_number(u64::from(n)).expect("simulated frame in range"))
    }

    fn deallocate_frame(&mut self, frame: PhysFrame) -> Result<(), FrameFreeError> {
        let n = usize::try_from(frame.number()).unwrap_or(usize::MAX);
        if n == 0 || n >= self.frames {
            return Err(FrameFreeError::NotManaged(frame));
        }
        if !self.allocated[n] {
            return Err(FrameFreeError::NotAllocated(frame));
        }
        self.allocated[n] = false;
        self.free.push(n as u32);
        Ok(())
    }

    fn allocate_contiguous(
        &mut self,
        count: usize,
        align: usize,
    ) -> Result<FrameRange, FrameAllocError> {
        if count == 0 || !align.is_power_of_two() {
            return Err(FrameAllocError::InvalidRequest { count, align });
        }
        let mut start = align;
        while start + count <= self.frames {
            if self.allocated[start..start + count].iter().all(|a| !a) {
                self.take_budget()?;
                self.allocated[start..start + count].fill(true);
                self.free
                    .retain(|&n| !(start..start + count).contains(&(n as usize)));
                let first = PhysFrame::from_number(start as u64).expect("in range");
                return Ok(FrameRange::from_start_len(first, count as u64).expect("in range"));
            }
            start += align;
        }
        Err(FrameAllocError::NoContiguousRun { count, align })
    }

    fn deallocate_contiguous(&mut self, range: FrameRange) -> Result<(), FrameFreeError> {
        if range.is_empty() {
            return Err(FrameFreeError::EmptyRange);
        }
        for frame in range {
            let n = usize::try_from(frame.number()).unwrap_or(usize::MAX);
            if n == 0 || n >= self.frames {
                return Err(FrameFreeError::NotManaged(frame));
            }
            if !self.allocated[n] {
                return Err(FrameFreeError::NotAllocated(frame));
            }
        }
        for frame in range {
            self.deallocate_frame(frame)?;
        }
        Ok(())
    }

    fn free_frames(&self) -> usize {
        self.free.len()
    }

    fn total_frames(&self) -> usize {
        self.frames - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_double_and_foreign_frees() {
        let mut sim = SimFrames::new(8);
        assert_eq!(sim.free_frames(), 7);
        let f = sim.allocate_frame().unwrap();
        assert_eq!(f.number(), 1);
        assert!(sim.is_allocated(f));
        sim.deallocate_frame(f).unwrap();
        assert_eq!(
            sim.deallocate_frame(f),
            Err(FrameFreeError::NotAllocated(f))
        );
        let zero = PhysFrame::from_number(0).unwrap();
        assert_eq!(
            sim.deallocate_frame(zero),
            Err(FrameFreeError::NotManaged(zero))
        );
        sim.set_budget(Some(1));
        assert!(sim.allocate_frame().is_ok());
        assert_eq!(sim.allocate_frame(), Err(FrameAllocError::OutOfFrames));
        sim.set_budget(None);
        let run = sim.allocate_contiguous(2, 2).unwrap();
        assert_eq!(run.start.number() % 2, 0);
        assert_eq!(sim.free_frames(), 4);
        sim.deallocate_contiguous(run).unwrap();
        assert_eq!(sim.free_frames(), 6);
        assert_eq!(sim.phys_offset().as_u64() % FRAME_SIZE, 0);
    }
}
