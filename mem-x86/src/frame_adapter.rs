//! Lets the `x86_64` crate's mapping code take frames from any
//! [`mem_core::FrameAllocator`].

use mem_core::{FrameAllocator, PhysAddr};
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, FrameDeallocator as X86FrameDeallocator,
    PhysFrame as X86Frame, Size4KiB,
};

/// Wraps a [`mem_core::FrameAllocator`] as the `x86_64` crate's
/// `FrameAllocator<Size4KiB>` and `FrameDeallocator<Size4KiB>`.
///
/// Frames above the 52-bit x86_64 physical width are handed back and
/// reported as exhaustion. A free the inner allocator refuses (double free,
/// foreign frame) is dropped: the x86_64 trait cannot report it, and a
/// refused free leaves the allocator unchanged.
#[derive(Debug)]
pub struct FrameAdapter<'a, A: FrameAllocator + ?Sized> {
    inner: &'a mut A,
}

impl<'a, A: FrameAllocator + ?Sized> FrameAdapter<'a, A> {
    /// Wraps `inner`.
    ///
    /// # Safety
    /// The `x86_64` crate trusts its allocator to return only unused frames
    /// (its trait is `unsafe`): `inner` must never hand out a frame that is
    /// in use.
    pub unsafe fn new(inner: &'a mut A) -> Self {
        Self { inner }
    }

    /// The wrapped allocator.
    pub fn into_inner(self) -> &'a mut A {
        self.inner
    }
}

// SAFETY: `new`'s caller vouches that `inner` hands out unused frames only.
unsafe impl<A: FrameAllocator + ?Sized> X86FrameAllocator<Size4KiB> for FrameAdapter<'_, A> {
    fn allocate_frame(&mut self) -> Option<X86Frame<Size4KiB>> {
        let frame = self.inner.allocate_frame().ok()?;
        match x86_64::PhysAddr::try_new(frame.start_address().as_u64()) {
            // 4 KiB frames are 4 KiB aligned.
            Ok(addr) => Some(X86Frame::containing_address(addr)),
            Err(_) => {
                // Unused: handing it back leaves the allocator as before.
                let _ = self.inner.deallocate_frame(frame);
                None
            }
        }
    }
}

impl<A: FrameAllocator + ?Sized> X86FrameDeallocator<Size4KiB> for FrameAdapter<'_, A> {
    unsafe fn deallocate_frame(&mut self, frame: X86Frame<Size4KiB>) {
        let frame =
            mem_core::PhysFrame::containing_address(PhysAddr::new(frame.start_address().as_u64()));
        let _ = self.inner.deallocate_frame(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mem_core::paging::sim::SimFrames;

    #[test]
    fn frames_go_through_both_ways() {
        let mut sim = SimFrames::new(4);
        // SAFETY: SimFrames hands out unused frames only.
        let mut adapter = unsafe { FrameAdapter::new(&mut sim) };
        let f = X86FrameAllocator::allocate_frame(&mut adapter).unwrap();
        assert_eq!(f.start_address().as_u64(), 0x1000);
        // SAFETY: `f` came from this allocator and is unused.
        unsafe { X86FrameDeallocator::deallocate_frame(&mut adapter, f) };
        assert_eq!(adapter.into_inner().free_frames(), 3);
    }
}
