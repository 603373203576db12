//! TLB flush tokens.

use core::fmt;
use core::marker::PhantomData;

use crate::addr::VirtAddr;

/// Ranges covering more than this many 4 KiB pages are flushed by flushing
/// the whole TLB instead of page by page.
///
/// Linux settles on a similar ceiling (33 pages on x86): past a few dozen
/// single invalidations, refilling the TLB costs less than invalidating.
pub const FLUSH_ALL_THRESHOLD: u64 = 32;

/// How a format invalidates TLB entries (`invlpg`/CR3 reload on x86_64,
/// `sfence.vma` on RISC-V). Off bare metal both are no-ops, so the same
/// code runs on the host.
pub trait TlbFlush {
    /// Invalidates the entries that translate `addr` (whatever page size
    /// maps it).
    fn flush_page(addr: VirtAddr);
    /// Invalidates every non-global entry (x86_64) or every entry (RISC-V).
    fn flush_all();
}

/// What a [`Flush`] token will invalidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushScope {
    /// Nothing (the operation changed no mapping).
    Nothing,
    /// The one page at this address (of any size: one invalidation covers it).
    Page(VirtAddr),
    /// `pages` 4 KiB pages from `start`, one invalidation each.
    Range {
        /// First page.
        start: VirtAddr,
        /// Number of 4 KiB pages.
        pages: u64,
    },
    /// The whole TLB.
    All,
}

/// A pending TLB invalidation, returned by every operation that changes a
/// mapping.
///
/// The change is not guaranteed to be visible to the CPU until the token is
/// [`flush`](Self::flush)ed. Call [`ignore`](Self::ignore) when the tables
/// are not active (being built before activation) or a full flush follows
/// anyway.
#[must_use = "the TLB may keep the old translation until this is flushed or explicitly ignored"]
pub struct Flush<T: TlbFlush> {
    scope: FlushScope,
    tlb: PhantomData<fn() -> T>,
}

impl<T: TlbFlush> Flush<T> {
    /// A token that invalidates `scope` when flushed.
    ///
    /// Normally made by a mapper; public so that wrappers can build tokens.
    #[inline]
    pub const fn new(scope: FlushScope) -> Self {
        Self {
            scope,
            tlb: PhantomData,
        }
    }

    /// A token for one page.
    #[inline]
    pub const fn page(addr: VirtAddr) -> Self {
        Self::new(FlushScope::Page(addr))
    }

    /// A token for `[start, start + bytes)`: page by page up to
    /// [`FLUSH_ALL_THRESHOLD`] pages, the whole TLB above.
    #[inline]
    pub const fn range(start: VirtAddr, bytes: u64) -> Self {
        let pages = bytes.div_ceil(4096);
        let scope = match pages {
            0 => FlushScope::Nothing,
            1 => FlushScope::Page(start),
            n if n <= FLUSH_ALL_THRESHOLD => FlushScope::Range { start, pages: n },
            _ => FlushScope::All,
        };
        Self::new(scope)
    }

    /// What flushing will invalidate.
    #[inline]
    pub const fn scope(&self) -> FlushScope {
        self.scope
    }

    /// Combines two pending flushes into one that covers both (the whole
    /// TLB, unless one of them is empty).
    #[inline]
    pub fn merge(self, other: Self) -> Self {
        match (self.scope, other.scope) {
            (FlushScope::Nothing, _) => other,
            (_, FlushScope::Nothing) => self,
            _ => Self::new(FlushScope::All),
        }
    }

    /// Invalidates the TLB entries.
    #[inline]
    pub fn flush(self) {
        match self.scope {
            FlushScope::Nothing => {}
            FlushScope::Page(addr) => T::flush_page(addr),
            FlushScope::Range { start, pages } => {
                for i in 0..pages {
                    T::flush_page(start.wrapping_add(i * 4096));
                }
            }
            FlushScope::All => T::flush_all(),
        }
    }

    /// Drops the token without flushing.
    #[inline]
    pub fn ignore(self) {}
}

impl<T: TlbFlush> fmt::Debug for Flush<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Flush").field(&self.scope).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    std::thread_local! {
        static PAGES: Cell<u64> = const { Cell::new(0) };
        static ALLS: Cell<u64> = const { Cell::new(0) };
    }

    struct CountingTlb;
    impl TlbFlush for CountingTlb {
        fn flush_page(_: VirtAddr) {
            PAGES.with(|c| c.set(c.get() + 1));
        }
        fn flush_all() {
            ALLS.with(|c| c.set(c.get() + 1));
        }
    }

    #[test]
    fn ranges_flush_per_page_up_to_the_threshold() {
        let start = VirtAddr::new(0x10_0000);
        Flush::<CountingTlb>::range(start, FLUSH_ALL_THRESHOLD * 4096).flush();
        assert_eq!(PAGES.with(Cell::get), FLUSH_ALL_THRESHOLD);
        assert_eq!(ALLS.with(Cell::get), 0);
        Flush::<CountingTlb>::range(start, (FLUSH_ALL_THRESHOLD + 1) * 4096).flush();
        assert_eq!(ALLS.with(Cell::get), 1);
        assert_eq!(
            Flush::<CountingTlb>::range(start, 0).scope(),
            FlushScope::Nothing
        );
        assert_eq!(
            Flush::<CountingTlb>::range(start, 1).scope(),
            FlushScope::Page(start)
        );
        let merged = Flush::<CountingTlb>::page(start).merge(Flush::range(start, 0));
        assert_eq!(merged.scope(), FlushScope::Page(start));
        merged.ignore();
        assert_eq!(PAGES.with(Cell::get), FLUSH_ALL_THRESHOLD);
    }
}
