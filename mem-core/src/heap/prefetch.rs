//! A cache prefetch hint for chunk headers the heap will read soon.
//!
//! A free that does not finish at once ([`Heap`](super::Heap)'s pending
//! block) still knows which two headers its finish will read: issuing their
//! loads as hints now lets the misses run while the caller goes on, where a
//! plain load would hold up everything behind it until it returns. The only
//! arch-specific code in the heap: one instruction, which changes no state a
//! program can observe. Targets without a stable prefetch instruction get a
//! no-op (the later read then pays for the miss).

/// Asks the cache to fetch the line holding `p`. Never faults, whatever `p`
/// is (so the address may be a guess), and reads nothing the program sees.
#[inline(always)]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it does not fault on any address,
    // nor change memory or registers; SSE is part of the x86_64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
