//! [`GenericMapper`]: the table-walking engine shared by every format.

use core::fmt;
use core::marker::PhantomData;

use super::{
    ENTRIES, Flush, MapError, MappedSize, Mapper, PageFlags, PageSizes, PageTableFormat,
    ProtectError, SplitError, Translation, UnmapError,
};
use crate::addr::{PhysAddr, VirtAddr};
use crate::frame_alloc::{FrameAllocError, FrameAllocator};
use crate::page::{Page, PageRange, PageSize, PhysFrame, Size4KiB};

/// Deepest supported table hierarchy (x86_64 4-level paging).
const MAX_LEVELS: usize = 4;

#[inline(always)]
const fn shift(level: usize) -> u32 {
    12 + 9 * level as u32
}

#[inline(always)]
const fn span(level: usize) -> u64 {
    1 << shift(level)
}

#[inline(always)]
const fn index(va: u64, level: usize) -> usize {
    ((va >> shift(level)) as usize) & (ENTRIES - 1)
}

/// Where a walk stopped.
#[derive(Clone, Copy)]
enum Walk {
    /// A leaf at `level`.
    Leaf { level: usize, entry: u64 },
    /// A non-present entry at `level`.
    Absent { level: usize },
}

/// The tables a walk went through: `tables[level]` is the table at `level`,
/// valid from the root down to the level where the walk stopped.
struct Path {
    tables: [*mut u64; MAX_LEVELS],
}

/// State of a range mapping while it descends the tables.
struct RangeMap {
    /// Next virtual address to map; everything in `[start, cursor)` is done.
    cursor: u64,
    end: u64,
    /// `phys - virt`, wrapping.
    delta: u64,
    flags: PageFlags,
    max_leaf: usize,
}

/// A page-table mapper for the format `F`, reaching tables at
/// `phys + phys_offset`.
///
/// This is the engine behind `mem_x86::OffsetMapper` and
/// `mem_riscv::Sv39Mapper`; it implements [`Mapper`] for any
/// [`PageTableFormat`].
///
/// Range operations descend each table once (recursively, at most
/// [`F::LEVELS`](PageTableFormat::LEVELS) deep) instead of walking from the
/// root for every page. Unmapping frees a table as soon as it holds no entry;
/// the emptiness check looks at the neighbouring entries first, so
/// sequential unmaps stay O(1) per page.
pub struct GenericMapper<F: PageTableFormat> {
    root: PhysAddr,
    phys_offset: VirtAddr,
    format: PhantomData<fn() -> F>,
}

impl<F: PageTableFormat> fmt::Debug for GenericMapper<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GenericMapper")
            .field("root", &self.root)
            .field("phys_offset", &self.phys_offset)
            .finish()
    }
}

impl<F: PageTableFormat> GenericMapper<F> {
    /// A mapper over the existing tables rooted at `root`.
    ///
    /// # Safety
    /// - `root` and every table reachable from it are page tables of format
    ///   `F`, readable and writable at `phys + phys_offset`, and nothing else
    ///   accesses them while this mapper exists.
    /// - Every frame that the allocators passed to this mapper hand out is
    ///   likewise accessible at `phys + phys_offset` and unused.
    pub const unsafe fn new(root: PhysAddr, phys_offset: VirtAddr) -> Self {
        const { assert!(F::LEVELS >= 2 && F::LEVELS <= MAX_LEVELS) };
        Self {
            root,
            phys_offset,
            format: PhantomData,
        }
    }

    /// A mapper over a new, empty root table allocated from `alloc`.
    ///
    /// # Errors
    /// When `alloc` has no frame.
    ///
    /// # Safety
    /// Every frame `alloc` (and any allocator later passed to this mapper)
    /// hands out is accessible at `phys + phys_offset` and unused.
    pub unsafe fn new_empty<A: FrameAllocator + ?Sized>(
        alloc: &mut A,
        phys_offset: VirtAddr,
    ) -> Result<Self, FrameAllocError> {
        // SAFETY: the root is allocated below, zeroed, so empty and valid; the
        // caller vouches for the frames and the offset.
        let mut mapper = unsafe { Self::new(PhysAddr::ZERO, phys_offset) };
        mapper.root = mapper.alloc_table(alloc)?;
        Ok(mapper)
    }

    /// Physical address of the root table.
    #[inline]
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    /// The virtual address at which physical address 0 is reached.
    #[inline]
    pub const fn phys_offset(&self) -> VirtAddr {
        self.phys_offset
    }

    /// Whether `addr` is canonical for the format: bits above
    /// [`F::VA_BITS`](PageTableFormat::VA_BITS) equal the top address bit.
    #[inline]
    pub const fn is_canonical(addr: VirtAddr) -> bool {
        let unused = 64 - F::VA_BITS;
        (((addr.as_u64() << unused) as i64) >> unused) as u64 == addr.as_u64()
    }

    /// The number of tables (root included) reachable from the root. Meant
    /// for tests and diagnostics: it visits every table.
    pub fn table_count(&self) -> usize {
        // SAFETY: the root is a valid table (constructor contract).
        unsafe { self.count_tables(self.table(self.root), F::LEVELS - 1) }
    }

    unsafe fn count_tables(&self, t: *mut u64, level: usize) -> usize {
        let mut n = 1;
        if level > 0 {
            for i in 0..ENTRIES {
                // SAFETY: `t` is a valid table of `ENTRIES` entries.
                let e = unsafe { t.add(i).read() };
                if F::is_present(e) && !F::is_leaf(e, level) {
                    // SAFETY: present non-leaf entries point at valid tables.
                    n += unsafe { self.count_tables(self.table(F::table_addr(e)), level - 1) };
                }
            }
        }
        n
    }

    /// The table at physical address `pa`, as seen through the offset.
    #[inline(always)]
    fn table(&self, pa: PhysAddr) -> *mut u64 {
        self.phys_offset.as_u64().wrapping_add(pa.as_u64()) as usize as *mut u64
    }

    #[inline(always)]
    fn check_canonical(va: u64) -> Result<(), VirtAddr> {
        if Self::is_canonical(VirtAddr::new(va)) {
            Ok(())
        } else {
            Err(VirtAddr::new(va))
        }
    }

    /// Checks that `[start, end)` (non-empty) is canonical and does not
    /// straddle the hole between the lower and the upper half.
    fn check_canonical_range(start: u64, end: u64) -> Result<(), VirtAddr> {
        Self::check_canonical(start)?;
        Self::check_canonical(end - 1)?;
        let top = 1u64 << (F::VA_BITS - 1);
        if start & top != (end - 1) & top {
            return Err(VirtAddr::new(top));
        }
        Ok(())
    }

    /// Whether `[pa, pa + len)` fits the format's physical address width.
    #[inline]
    fn phys_fits(pa: u64, len: u64) -> bool {
        pa.checked_add(len)
            .is_some_and(|end| end <= 1u64 << F::PA_BITS)
    }

    /// Allocates and zeroes a table. A frame the format cannot address is
    /// returned to the allocator and reported as no frame at all.
    fn alloc_table<A: FrameAllocator + ?Sized>(
        &self,
        alloc: &mut A,
    ) -> Result<PhysAddr, FrameAllocError> {
        let frame = alloc.allocate_frame()?;
        let pa = frame.start_address();
        if !Self::phys_fits(pa.as_u64(), Size4KiB::SIZE) {
            // The frame is unused: handing it back cannot fail in a way
            // that matters here, it would merely stay allocated.
            let _ = alloc.deallocate_frame(frame);
            return Err(FrameAllocError::OutOfFrames);
        }
        // SAFETY: allocators passed to this mapper hand out unused frames
        // accessible at `phys + phys_offset` (constructor contract).
        unsafe { self.table(pa).write_bytes(0, ENTRIES) };
        Ok(pa)
    }

    /// Whether the table holds no entry at all. `hint` is the entry just
    /// cleared: its neighbours are checked first because sequential unmaps
    /// leave them live.
    ///
    /// # Safety
    /// `t` is a valid table.
    unsafe fn table_empty(t: *const u64, hint: usize) -> bool {
        // SAFETY: `t` has `ENTRIES` entries and every index read is below it.
        unsafe {
            if hint + 1 < ENTRIES && t.add(hint + 1).read() != 0 {
                return false;
            }
            if hint > 0 && t.add(hint - 1).read() != 0 {
                return false;
            }
            // OR whole cache lines together: the scan then vectorises.
            for line in 0..ENTRIES / 8 {
                let mut acc = 0;
                for j in 0..8 {
                    acc |= t.add(line * 8 + j).read();
                }
                if acc != 0 {
                    return false;
                }
            }
        }
        true
    }

    /// Walks to the entry that maps `va` (canonical), without recording the
    /// path.
    #[inline]
    fn lookup(&self, va: u64) -> Walk {
        let mut t = self.table(self.root);
        let mut level = F::LEVELS - 1;
        loop {
            // SAFETY: `t` is the root or came from a present non-leaf entry.
            let entry = unsafe { t.add(index(va, level)).read() };
            if !F::is_present(entry) {
                return Walk::Absent { level };
            }
            if level == 0 || F::is_leaf(entry, level) {
                return Walk::Leaf { level, entry };
            }
            t = self.table(F::table_addr(entry));
            level -= 1;
        }
    }

    /// As [`lookup`](Self::lookup), recording the tables on the way.
    #[inline]
    fn walk(&self, va: u64) -> (Walk, Path) {
        let mut path = Path {
            tables: [core::ptr::null_mut(); MAX_LEVELS],
        };
        let mut t = self.table(self.root);
        let mut level = F::LEVELS - 1;
        loop {
            path.tables[level] = t;
            // SAFETY: `t` is the root or came from a present non-leaf entry.
            let entry = unsafe { t.add(index(va, level)).read() };
            if !F::is_present(entry) {
                return (Walk::Absent { level }, path);
            }
            if level == 0 || F::is_leaf(entry, level) {
                return (Walk::Leaf { level, entry }, path);
            }
            t = self.table(F::table_addr(entry));
            level -= 1;
        }
    }

    /// Frees the tables on `va`'s path that hold nothing, from `level` up
    /// (never the root). Stops at the first non-empty table, or at one the
    /// allocator refuses, which then stays linked and usable.
    fn prune<A: FrameAllocator + ?Sized>(
        &mut self,
        path: &Path,
        mut level: usize,
        va: u64,
        alloc: &mut A,
    ) {
        while level < F::LEVELS - 1 {
            let t = path.tables[level];
            // SAFETY: `path` holds valid tables from `level` up to the root.
            unsafe {
                if !Self::table_empty(t, index(va, level)) {
                    return;
                }
                let parent = path.tables[level + 1].add(index(va, level + 1));
                let frame = PhysFrame::containing_address(F::table_addr(parent.read()));
                if alloc.deallocate_frame(frame).is_err() {
                    return;
                }
                parent.write(0);
            }
            level += 1;
        }
    }

    /// Frees the empty tables on the path to `va`, wherever it ends.
    fn prune_va<A: FrameAllocator + ?Sized>(&mut self, va: u64, alloc: &mut A) {
        let (walk, path) = self.walk(va);
        let level = match walk {
            Walk::Leaf { level, .. } | Walk::Absent { level } => level,
        };
        self.prune(&path, level, va, alloc);
    }

    /// Applies [`F::propagate`](PageTableFormat::propagate) to the table
    /// entries above `level` on `va`'s path.
    ///
    /// # Safety
    /// `path` holds valid tables from `level` up.
    unsafe fn propagate(path: &Path, level: usize, va: u64, flags: PageFlags) {
        for l in level + 1..F::LEVELS {
            // SAFETY: guaranteed by the caller.
            unsafe {
                let e = path.tables[l].add(index(va, l));
                let old = e.read();
                let new = F::propagate(old, flags);
                if new != old {
                    e.write(new);
                }
            }
        }
    }

    /// Maps one leaf of `level` at `va` to `pa`. Inlined so that `level`
    /// and the walk depth become constants in each `map::<S>`.
    #[inline]
    fn map_leaf<A: FrameAllocator + ?Sized>(
        &mut self,
        va: u64,
        pa: PhysAddr,
        level: usize,
        flags: PageFlags,
        alloc: &mut A,
    ) -> Result<Flush<F>, MapError> {
        Self::check_canonical(va).map_err(MapError::NonCanonical)?;
        F::check_flags(flags)?;
        if level > F::MAX_LEAF_LEVEL {
            return Err(MapError::Misaligned(crate::AddrNotAligned {
                addr: va,
                align: span(F::MAX_LEAF_LEVEL),
            }));
        }
        if !Self::phys_fits(pa.as_u64(), span(level)) {
            return Err(MapError::PhysOutOfRange(pa));
        }
        let mut t = self.table(self.root);
        let mut l = F::LEVELS - 1;
        while l > level {
            let slot = index(va, l);
            // SAFETY: `t` is the root, a table from a present non-leaf entry,
            // or a table allocated just now.
            let entry = unsafe { t.add(slot).read() };
            if !F::is_present(entry) {
                let new = match self.alloc_table(alloc) {
                    Ok(pa) => pa,
                    Err(e) => {
                        self.prune_va(va, alloc);
                        return Err(MapError::OutOfFrames(e));
                    }
                };
                // SAFETY: as above.
                unsafe { t.add(slot).write(F::encode_table(new, flags)) };
                t = self.table(new);
            } else if F::is_leaf(entry, l) {
                // A table is only created when its slot was absent, so none
                // was created on this walk: nothing to free.
                return Err(MapError::AlreadyMapped {
                    addr: VirtAddr::new(va),
                });
            } else {
                // Amending a table entry on the way is harmless even if the
                // mapping then fails: it only makes reachable what the leaf
                // below still forbids.
                let upgraded = F::propagate(entry, flags);
                if upgraded != entry {
                    // SAFETY: as above.
                    unsafe { t.add(slot).write(upgraded) };
                }
                t = self.table(F::table_addr(entry));
            }
            l -= 1;
        }
        let slot = index(va, level);
        // SAFETY: `t` is a valid table at `level`.
        unsafe {
            if F::is_present(t.add(slot).read()) {
                return Err(MapError::AlreadyMapped {
                    addr: VirtAddr::new(va),
                });
            }
            t.add(slot).write(F::encode_leaf(pa, flags, level));
        }
        Ok(Flush::page(VirtAddr::new(va)))
    }

    /// Finds the leaf of exactly `level` that maps `va`.
    #[inline]
    fn find_leaf(&self, va: u64, level: usize) -> Result<(u64, Path), UnmapError> {
        Self::check_canonical(va).map_err(UnmapError::NonCanonical)?;
        let addr = VirtAddr::new(va);
        let (walk, path) = self.walk(va);
        match walk {
            Walk::Leaf { level: l, entry } if l == level => Ok((entry, path)),
            Walk::Leaf { level: l, .. } if l > level => Err(UnmapError::InsideHugePage {
                addr: VirtAddr::new(va & !(span(l) - 1)),
                size: MappedSize::from_level(l).unwrap_or(MappedSize::Size1GiB),
            }),
            Walk::Absent { level: l } if l >= level => Err(UnmapError::NotMapped { addr }),
            // The walk went below `level`: smaller pages live there.
            _ => Err(UnmapError::SizeMismatch {
                addr,
                requested: MappedSize::from_level(level).unwrap_or(MappedSize::Size1GiB),
            }),
        }
    }

    fn map_rec<A: FrameAllocator + ?Sized>(
        &mut self,
        t: *mut u64,
        level: usize,
        ctx: &mut RangeMap,
        alloc: &mut A,
    ) -> Result<(), MapError> {
        let mut slot = index(ctx.cursor, level);
        if level == 0 {
            // The hot loop of a 4 KiB range: one store per page.
            while slot < ENTRIES && ctx.cursor < ctx.end {
                let va = ctx.cursor;
                // SAFETY: `t` is a valid level-0 table.
                unsafe {
                    if F::is_present(t.add(slot).read()) {
                        return Err(MapError::AlreadyMapped {
                            addr: VirtAddr::new(va),
                        });
                    }
                    let pa = PhysAddr::new_unchecked(va.wrapping_add(ctx.delta));
                    t.add(slot).write(F::encode_leaf(pa, ctx.flags, 0));
                }
                ctx.cursor = va + Size4KiB::SIZE;
                slot += 1;
            }
            return Ok(());
        }
        let size = span(level);
        while slot < ENTRIES && ctx.cursor < ctx.end {
            let va = ctx.cursor;
            let pa = va.wrapping_add(ctx.delta);
            // SAFETY: `t` is a valid table at `level`.
            let entry = unsafe { t.add(slot).read() };
            let present = F::is_present(entry);
            if !present
                && level <= ctx.max_leaf
                && (va | pa) & (size - 1) == 0
                && ctx.end - va >= size
            {
                // SAFETY: `pa` fits the physical width (checked for the whole
                // range up front) and is aligned to `size`.
                unsafe {
                    let pa = PhysAddr::new_unchecked(pa);
                    t.add(slot).write(F::encode_leaf(pa, ctx.flags, level));
                }
                ctx.cursor = va + size;
            } else {
                let child = if !present {
                    let new = self.alloc_table(alloc)?;
                    // SAFETY: as above.
                    unsafe { t.add(slot).write(F::encode_table(new, ctx.flags)) };
                    new
                } else if F::is_leaf(entry, level) {
                    return Err(MapError::AlreadyMapped {
                        addr: VirtAddr::new(va),
                    });
                } else {
                    let upgraded = F::propagate(entry, ctx.flags);
                    if upgraded != entry {
                        // SAFETY: as above.
                        unsafe { t.add(slot).write(upgraded) };
                    }
                    F::table_addr(entry)
                };
                self.map_rec(self.table(child), level - 1, ctx, alloc)?;
            }
            slot += 1;
        }
        Ok(())
    }

    /// Clears every leaf lying wholly inside `[lo, hi)` under table `t` at
    /// `level`, and frees child tables left empty. `[lo, hi)` lies within
    /// the table's span and is non-empty. Leaves that straddle a bound are
    /// kept (callers rule them out first).
    fn unmap_rec<A: FrameAllocator + ?Sized>(
        &mut self,
        t: *mut u64,
        level: usize,
        lo: u64,
        hi: u64,
        alloc: &mut A,
    ) {
        let size = span(level);
        let first = index(lo, level);
        let last = index(hi - 1, level);
        let mut base = lo & !(size - 1);
        for slot in first..=last {
            // SAFETY: `t` is a valid table at `level`, `slot < ENTRIES`.
            let entry = unsafe { t.add(slot).read() };
            let entry_end = base.saturating_add(size);
            if F::is_present(entry) {
                let sub_lo = lo.max(base);
                let sub_hi = hi.min(entry_end);
                if level == 0 || F::is_leaf(entry, level) {
                    if sub_lo == base && sub_hi == entry_end {
                        // SAFETY: as above.
                        unsafe { t.add(slot).write(0) };
                    }
                } else {
                    let child_pa = F::table_addr(entry);
                    let child = self.table(child_pa);
                    self.unmap_rec(child, level - 1, sub_lo, sub_hi, alloc);
                    let whole = sub_lo == base && sub_hi == entry_end;
                    // SAFETY: `child` is a valid table.
                    if (whole || unsafe { Self::table_empty(child, index(sub_lo, level - 1)) })
                        && alloc
                            .deallocate_frame(PhysFrame::containing_address(child_pa))
                            .is_ok()
                    {
                        // SAFETY: as above.
                        unsafe { t.add(slot).write(0) };
                    }
                }
            }
            base = entry_end;
        }
    }
}

impl<F: PageTableFormat> Mapper for GenericMapper<F> {
    type Tlb = F;

    #[inline]
    unsafe fn map<S: PageSize, A: FrameAllocator + ?Sized>(
        &mut self,
        page: Page<S>,
        frame: PhysFrame<S>,
        flags: PageFlags,
        alloc: &mut A,
    ) -> Result<Flush<F>, MapError> {
        let level = MappedSize::of::<S>().level();
        self.map_leaf(
            page.start_address().as_u64(),
            frame.start_address(),
            level,
            flags,
            alloc,
        )
    }

    unsafe fn map_range<A: FrameAllocator + ?Sized>(
        &mut self,
        pages: PageRange<Size4KiB>,
        first_frame: PhysFrame<Size4KiB>,
        flags: PageFlags,
        sizes: PageSizes,
        alloc: &mut A,
    ) -> Result<Flush<F>, MapError> {
        if pages.is_empty() {
            return Ok(Flush::range(pages.start_address(), 0));
        }
        let start = pages.start.start_address().as_u64();
        let end = pages.end.start_address().as_u64();
        Self::check_canonical_range(start, end).map_err(MapError::NonCanonical)?;
        F::check_flags(flags)?;
        let pa = first_frame.start_address();
        if !Self::phys_fits(pa.as_u64(), end - start) {
            return Err(MapError::PhysOutOfRange(pa));
        }
        let mut ctx = RangeMap {
            cursor: start,
            end,
            delta: pa.as_u64().wrapping_sub(start),
            flags,
            max_leaf: sizes.max_leaf_level().min(F::MAX_LEAF_LEVEL),
        };
        let root = self.table(self.root);
        if let Err(e) = self.map_rec(root, F::LEVELS - 1, &mut ctx, alloc) {
            // Undo: everything in [start, cursor) was mapped by this call,
            // and tables created for `cursor` may be empty.
            if ctx.cursor > start {
                self.unmap_rec(root, F::LEVELS - 1, start, ctx.cursor, alloc);
            }
            self.prune_va(ctx.cursor, alloc);
            return Err(e);
        }
        Ok(Flush::range(VirtAddr::new(start), end - start))
    }

    #[inline]
    unsafe fn unmap<S: PageSize, A: FrameAllocator + ?Sized>(
        &mut self,
        page: Page<S>,
        alloc: &mut A,
    ) -> Result<(PhysFrame<S>, Flush<F>), UnmapError> {
        let level = MappedSize::of::<S>().level();
        let va = page.start_address().as_u64();
        let (entry, path) = self.find_leaf(va, level)?;
        // SAFETY: `find_leaf` recorded valid tables down to `level`.
        unsafe { path.tables[level].add(index(va, level)).write(0) };
        self.prune(&path, level, va, alloc);
        let frame = PhysFrame::containing_address(F::leaf_addr(entry, level));
        Ok((frame, Flush::page(page.start_address())))
    }

    unsafe fn unmap_range<A: FrameAllocator + ?Sized>(
        &mut self,
        pages: PageRange<Size4KiB>,
        alloc: &mut A,
    ) -> Result<Flush<F>, UnmapError> {
        if pages.is_empty() {
            return Ok(Flush::range(pages.start_address(), 0));
        }
        let start = pages.start.start_address().as_u64();
        let end = pages.end.start_address().as_u64();
        Self::check_canonical_range(start, end).map_err(UnmapError::NonCanonical)?;
        // Only a leaf covering one of the two ends can straddle the range.
        for va in [start, end - 1] {
            if let Walk::Leaf { level, .. } = self.lookup(va) {
                let leaf_start = va & !(span(level) - 1);
                if leaf_start < start || leaf_start + (span(level) - 1) > end - 1 {
                    return Err(UnmapError::InsideHugePage {
                        addr: VirtAddr::new(leaf_start),
                        size: MappedSize::from_level(level).unwrap_or(MappedSize::Size1GiB),
                    });
                }
            }
        }
        let root = self.table(self.root);
        self.unmap_rec(root, F::LEVELS - 1, start, end, alloc);
        Ok(Flush::range(VirtAddr::new(start), end - start))
    }

    unsafe fn protect<S: PageSize>(
        &mut self,
        page: Page<S>,
        flags: PageFlags,
    ) -> Result<Flush<F>, ProtectError> {
        let level = MappedSize::of::<S>().level();
        let va = page.start_address().as_u64();
        let (entry, path) = self.find_leaf(va, level).map_err(|e| match e {
            UnmapError::NotMapped { addr } => ProtectError::NotMapped { addr },
            UnmapError::InsideHugePage { addr, size } => {
                ProtectError::InsideHugePage { addr, size }
            }
            UnmapError::SizeMismatch { addr, requested } => {
                ProtectError::SizeMismatch { addr, requested }
            }
            UnmapError::NonCanonical(addr) => ProtectError::NonCanonical(addr),
        })?;
        F::check_flags(flags)?;
        let new = F::encode_leaf(F::leaf_addr(entry, level), flags, level);
        // SAFETY: `find_leaf` recorded valid tables down to `level`.
        unsafe {
            path.tables[level].add(index(va, level)).write(new);
            Self::propagate(&path, level, va, flags);
        }
        Ok(Flush::page(page.start_address()))
    }

    fn split<A: FrameAllocator + ?Sized>(
        &mut self,
        addr: VirtAddr,
        alloc: &mut A,
    ) -> Result<Flush<F>, SplitError> {
        let va = addr.as_u64();
        Self::check_canonical(va).map_err(SplitError::NonCanonical)?;
        let (walk, path) = self.walk(va);
        let (level, entry) = match walk {
            Walk::Absent { .. } => return Err(SplitError::NotMapped { addr }),
            Walk::Leaf { level: 0, .. } => return Err(SplitError::NotHuge { addr }),
            Walk::Leaf { level, entry } => (level, entry),
        };
        let base = F::leaf_addr(entry, level).as_u64();
        let flags = F::leaf_flags(entry, level);
        let new = self.alloc_table(alloc)?;
        let t = self.table(new);
        let child = span(level - 1);
        for i in 0..ENTRIES {
            // SAFETY: `t` was just allocated; the frames lie inside the huge
            // frame, which fits the physical width, and are aligned to `child`.
            unsafe {
                let pa = PhysAddr::new_unchecked(base + i as u64 * child);
                t.add(i).write(F::encode_leaf(pa, flags, level - 1));
            }
        }
        // SAFETY: `walk` recorded a valid table at `level`.
        unsafe {
            path.tables[level]
                .add(index(va, level))
                .write(F::encode_table(new, flags))
        };
        Ok(Flush::page(VirtAddr::new(va & !(span(level) - 1))))
    }

    fn translate(&self, addr: VirtAddr) -> Option<Translation> {
        if !Self::is_canonical(addr) {
            return None;
        }
        match self.lookup(addr.as_u64()) {
            Walk::Absent { .. } => None,
            Walk::Leaf { level, entry } => {
                let offset = addr.as_u64() & (span(level) - 1);
                Some(Translation {
                    addr: F::leaf_addr(entry, level).wrapping_add(offset),
                    flags: F::leaf_flags(entry, level),
                    size: MappedSize::from_level(level)?,
                })
            }
        }
    }
}
