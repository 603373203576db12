//! A reference model of [`Mapper`]: a `BTreeMap` from page start to frame,
//! flags and size, predicting the outcome (result and error) of every
//! operation. Property tests of each format replay random [`Op`] sequences
//! on a real mapper and on the model and compare after every step.

extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::SimFrames;
use crate::frame_alloc::FrameAllocator;
use crate::page::{Page, PageRange, PhysFrame, Size1GiB, Size2MiB, Size4KiB};
use crate::paging::{
    MapError, MappedSize, Mapper, PageFlags, PageSizes, ProtectError, SplitError, Translation,
    UnmapError,
};
use crate::{PhysAddr, VirtAddr};

/// One mapping operation. Addresses are canonical and aligned to the size
/// the operation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// [`Mapper::map`] of one page of `size`.
    Map {
        /// Page start.
        va: u64,
        /// Frame start.
        pa: u64,
        /// Page size.
        size: MappedSize,
        /// Flags.
        flags: PageFlags,
    },
    /// [`Mapper::map_range`].
    MapRange {
        /// First page.
        va: u64,
        /// Number of 4 KiB pages.
        pages: u64,
        /// First frame.
        pa: u64,
        /// Flags.
        flags: PageFlags,
        /// Allowed page sizes.
        sizes: PageSizes,
    },
    /// [`Mapper::unmap`] of one page of `size`.
    Unmap {
        /// Page start.
        va: u64,
        /// Page size.
        size: MappedSize,
    },
    /// [`Mapper::unmap_range`].
    UnmapRange {
        /// First page.
        va: u64,
        /// Number of 4 KiB pages.
        pages: u64,
    },
    /// [`Mapper::protect`] of one page of `size`.
    Protect {
        /// Page start.
        va: u64,
        /// Page size.
        size: MappedSize,
        /// New flags.
        flags: PageFlags,
    },
    /// [`Mapper::split`] of the page containing `va`.
    Split {
        /// Any address inside the page.
        va: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Leaf {
    pa: u64,
    flags: PageFlags,
    size: MappedSize,
}

/// The model: every leaf mapping by its start address.
#[derive(Debug, Clone, Default)]
pub struct Model {
    leaves: BTreeMap<u64, Leaf>,
}

/// What an operation did or should do, normalised for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Map(MapError),
    Unmap(UnmapError),
    Protect(ProtectError),
    Split(SplitError),
}

impl Model {
    /// An empty address space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaf mappings.
    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Start addresses of every leaf.
    pub fn starts(&self) -> impl Iterator<Item = u64> + '_ {
        self.leaves.keys().copied()
    }

    /// Start and size of the leaf number `n % len` in address order, so that
    /// generated operations can aim at existing mappings; `None` when empty.
    pub fn pick(&self, n: usize) -> Option<(u64, MappedSize)> {
        if self.leaves.is_empty() {
            return None;
        }
        let (&start, leaf) = self.leaves.iter().nth(n % self.leaves.len())?;
        Some((start, leaf.size))
    }

    fn containing(&self, va: u64) -> Option<(u64, Leaf)> {
        let (&start, &leaf) = self.leaves.range(..=va).next_back()?;
        (va - start < leaf.size.bytes()).then_some((start, leaf))
    }

    /// The first leaf (in address order) overlapping `[lo, hi)`.
    fn first_overlap(&self, lo: u64, hi: u64) -> Option<(u64, Leaf)> {
        self.containing(lo)
            .or_else(|| self.leaves.range(lo..hi).next().map(|(&s, &l)| (s, l)))
    }

    /// What `translate(va)` must return.
    pub fn translate(&self, va: u64) -> Option<Translation> {
        let (start, leaf) = self.containing(va)?;
        Some(Translation {
            addr: PhysAddr::new(leaf.pa + (va - start)),
            flags: leaf.flags,
            size: leaf.size,
        })
    }

    /// Tables a format with `levels` levels needs for exactly these leaves
    /// (root included): one per occupied slot prefix on each level below the
    /// root.
    pub fn expected_tables(&self, levels: usize) -> usize {
        let mut tables = BTreeSet::new();
        for (&start, leaf) in &self.leaves {
            for level in leaf.size.level()..levels - 1 {
                tables.insert((level, start >> (12 + 9 * (level + 1))));
            }
        }
        1 + tables.len()
    }

    fn lookup_err(&self, va: u64, size: MappedSize) -> Option<UnmapError> {
        let addr = VirtAddr::new(va);
        match self.containing(va) {
            Some((_, leaf)) if leaf.size == size => None,
            Some((start, leaf)) if leaf.size > size => Some(UnmapError::InsideHugePage {
                addr: VirtAddr::new(start),
                size: leaf.size,
            }),
            Some(_) => Some(UnmapError::SizeMismatch {
                addr,
                requested: size,
            }),
            None if self.first_overlap(va, va + size.bytes()).is_some() => {
                Some(UnmapError::SizeMismatch {
                    addr,
                    requested: size,
                })
            }
            None => Some(UnmapError::NotMapped { addr }),
        }
    }

    fn remove_overlapping(&mut self, lo: u64, hi: u64) {
        while let Some((start, _)) = self.first_overlap(lo, hi) {
            self.leaves.remove(&start);
        }
    }

    /// The outcome `op` must have, applying it to the model when it succeeds.
    fn apply(&mut self, op: &Op) -> Outcome {
        let flags_err = |flags: PageFlags| crate::paging::FlagsNotSupported { flags, reason: "" };
        match *op {
            Op::Map {
                va,
                pa,
                size,
                flags,
            } => {
                if !flags.contains(PageFlags::READ) {
                    return Outcome::Map(MapError::InvalidFlags(flags_err(flags)));
                }
                if self.first_overlap(va, va + size.bytes()).is_some() {
                    return Outcome::Map(MapError::AlreadyMapped {
                        addr: VirtAddr::new(va),
                    });
                }
                self.leaves.insert(va, Leaf { pa, flags, size });
                Outcome::Ok
            }
            Op::MapRange {
                va,
                pages,
                pa,
                flags,
                sizes,
            } => {
                if pages == 0 {
                    return Outcome::Ok;
                }
                if !flags.contains(PageFlags::READ) {
                    return Outcome::Map(MapError::InvalidFlags(flags_err(flags)));
                }
                let end = va + pages * 4096;
                if let Some((start, _)) = self.first_overlap(va, end) {
                    let addr = VirtAddr::new(start.max(va));
                    return Outcome::Map(MapError::AlreadyMapped { addr });
                }
                let mut cur = va;
                while cur < end {
                    let p = pa + (cur - va);
                    let size = [
                        MappedSize::Size1GiB,
                        MappedSize::Size2MiB,
                        MappedSize::Size4KiB,
                    ]
                    .into_iter()
                    .find(|s| {
                        s.level() <= sizes.max_leaf_level()
                            && (cur | p) % s.bytes() == 0
                            && end - cur >= s.bytes()
                    })
                    .unwrap_or(MappedSize::Size4KiB);
                    self.leaves.insert(cur, Leaf { pa: p, flags, size });
                    cur += size.bytes();
                }
                Outcome::Ok
            }
            Op::Unmap { va, size } => match self.lookup_err(va, size) {
                Some(e) => Outcome::Unmap(e),
                None => {
                    self.leaves.remove(&va);
                    Outcome::Ok
                }
            },
            Op::UnmapRange { va, pages } => {
                if pages == 0 {
                    return Outcome::Ok;
                }
                let end = va + pages * 4096;
                for probe in [va, end - 1] {
                    if let Some((start, leaf)) = self.containing(probe)
                        && (start < va || start + leaf.size.bytes() > end)
                    {
                        return Outcome::Unmap(UnmapError::InsideHugePage {
                            addr: VirtAddr::new(start),
                            size: leaf.size,
                        });
                    }
                }
                self.remove_overlapping(va, end);
                Outcome::Ok
            }
            Op::Protect { va, size, flags } => {
                if let Some(e) = self.lookup_err(va, size) {
                    return Outcome::Protect(match e {
                        UnmapError::NotMapped { addr } => ProtectError::NotMapped { addr },
                        UnmapError::InsideHugePage { addr, size } => {
                            ProtectError::InsideHugePage { addr, size }
                        }
                        UnmapError::SizeMismatch { addr, requested } => {
                            ProtectError::SizeMismatch { addr, requested }
                        }
                        UnmapError::NonCanonical(a) => ProtectError::NonCanonical(a),
                    });
                }
                if !flags.contains(PageFlags::READ) {
                    return Outcome::Protect(ProtectError::InvalidFlags(flags_err(flags)));
                }
                if let Some(leaf) = self.leaves.get_mut(&va) {
                    leaf.flags = flags;
                }
                Outcome::Ok
            }
            Op::Split { va } => {
                let addr = VirtAddr::new(va);
                match self.containing(va) {
                    None => Outcome::Split(SplitError::NotMapped { addr }),
                    Some((_, leaf)) if leaf.size == MappedSize::Size4KiB => {
                        Outcome::Split(SplitError::NotHuge { addr })
                    }
                    Some((start, leaf)) => {
                        let child = MappedSize::from_level(leaf.size.level() - 1)
                            .unwrap_or(MappedSize::Size4KiB);
                        self.leaves.remove(&start);
                        for i in 0..512 {
                            let off = i * child.bytes();
                            let l = Leaf {
                                pa: leaf.pa + off,
                                flags: leaf.flags,
                                size: child,
                            };
                            self.leaves.insert(start + off, l);
                        }
                        Outcome::Ok
                    }
                }
            }
        }
    }
}

/// Normalises the variable part of errors (the reason text of flag errors)
/// so outcomes compare on what matters.
fn normalise(o: Outcome) -> Outcome {
    let strip = |e: crate::paging::FlagsNotSupported| crate::paging::FlagsNotSupported {
        flags: e.flags,
        reason: "",
    };
    match o {
        Outcome::Map(MapError::InvalidFlags(e)) => Outcome::Map(MapError::InvalidFlags(strip(e))),
        Outcome::Protect(ProtectError::InvalidFlags(e)) => {
            Outcome::Protect(ProtectError::InvalidFlags(strip(e)))
        }
        o => o,
    }
}

fn page<S: crate::PageSize>(va: u64) -> Page<S> {
    Page::containing_address(VirtAddr::new(va))
}

fn frame<S: crate::PageSize>(pa: u64) -> PhysFrame<S> {
    PhysFrame::containing_address(PhysAddr::new(pa))
}

/// Runs `op` on `mapper` (flushing its token) and predicts it on `model`;
/// `Err` describes any difference in outcome.
///
/// While `alloc` has an allocation budget ([`SimFrames::set_budget`]), an
/// `OutOfFrames` failure is accepted and the model rolled back: the caller's
/// [`check`] then proves the mapper rolled back too.
///
/// # Safety
/// `mapper` maps only simulated memory: nothing accesses the frames its
/// pages point to.
pub unsafe fn run_op<M: Mapper>(
    mapper: &mut M,
    model: &mut Model,
    alloc: &mut SimFrames,
    op: &Op,
) -> Result<(), String> {
    let unmapped_frame = match *op {
        Op::Unmap { va, .. } => model.leaves.get(&va).map(|l| l.pa),
        _ => None,
    };
    // With an allocation budget set, running out of frames is allowed; the
    // operation must then leave everything as it was.
    let before = alloc.budget.is_some().then(|| model.clone());
    let expected = model.apply(op);
    // SAFETY: the caller guarantees the mapped frames are simulated.
    let actual = unsafe {
        match *op {
            Op::Map {
                va,
                pa,
                size,
                flags,
            } => {
                let r = match size {
                    MappedSize::Size4KiB => {
                        mapper.map(page::<Size4KiB>(va), frame(pa), flags, alloc)
                    }
                    MappedSize::Size2MiB => {
                        mapper.map(page::<Size2MiB>(va), frame(pa), flags, alloc)
                    }
                    MappedSize::Size1GiB => {
                        mapper.map(page::<Size1GiB>(va), frame(pa), flags, alloc)
                    }
                };
                r.map(|f| f.flush())
                    .map_or_else(Outcome::Map, |()| Outcome::Ok)
            }
            Op::MapRange {
                va,
                pages,
                pa,
                flags,
                sizes,
            } => {
                let range = PageRange::from_start_len(page::<Size4KiB>(va), pages)
                    .ok_or("range overflows")?;
                mapper
                    .map_range(range, frame(pa), flags, sizes, alloc)
                    .map(|f| f.flush())
                    .map_or_else(Outcome::Map, |()| Outcome::Ok)
            }
            Op::Unmap { va, size } => {
                let r = match size {
                    MappedSize::Size4KiB => mapper
                        .unmap(page::<Size4KiB>(va), alloc)
                        .map(|(f, fl)| (f.start_address(), fl)),
                    MappedSize::Size2MiB => mapper
                        .unmap(page::<Size2MiB>(va), alloc)
                        .map(|(f, fl)| (f.start_address(), fl)),
                    MappedSize::Size1GiB => mapper
                        .unmap(page::<Size1GiB>(va), alloc)
                        .map(|(f, fl)| (f.start_address(), fl)),
                };
                match r {
                    Ok((pa, fl)) => {
                        fl.flush();
                        if Some(pa.as_u64()) != unmapped_frame {
                            return Err(format!(
                                "{op:?}: unmap returned {pa:?}, model mapped {unmapped_frame:x?}"
                            ));
                        }
                        Outcome::Ok
                    }
                    Err(e) => Outcome::Unmap(e),
                }
            }
            Op::UnmapRange { va, pages } => {
                let range = PageRange::from_start_len(page::<Size4KiB>(va), pages)
                    .ok_or("range overflows")?;
                mapper
                    .unmap_range(range, alloc)
                    .map(|f| f.flush())
                    .map_or_else(Outcome::Unmap, |()| Outcome::Ok)
            }
            Op::Protect { va, size, flags } => {
                let r = match size {
                    MappedSize::Size4KiB => mapper.protect(page::<Size4KiB>(va), flags),
                    MappedSize::Size2MiB => mapper.protect(page::<Size2MiB>(va), flags),
                    MappedSize::Size1GiB => mapper.protect(page::<Size1GiB>(va), flags),
                };
                r.map(|f| f.flush())
                    .map_or_else(Outcome::Protect, |()| Outcome::Ok)
            }
            Op::Split { va } => mapper
                .split(VirtAddr::new(va), alloc)
                .map(|f| f.flush())
                .map_or_else(Outcome::Split, |()| Outcome::Ok),
        }
    };
    if let (
        Some(before),
        Outcome::Map(MapError::OutOfFrames(_)) | Outcome::Split(SplitError::OutOfFrames(_)),
    ) = (before, actual)
    {
        *model = before;
        return Ok(());
    }
    if normalise(actual) == normalise(expected) {
        Ok(())
    } else {
        Err(format!(
            "{op:?}: mapper gave {actual:?}, model expects {expected:?}"
        ))
    }
}

/// Checks that `mapper` translates every address of `probes` as the model
/// does, and that exactly the tables the model implies exist and are the
/// only frames allocated from `alloc` (so no table leaks or lingers empty).
pub fn check<M: Mapper>(
    mapper: &M,
    model: &Model,
    alloc: &SimFrames,
    levels: usize,
    table_count: usize,
    probes: impl IntoIterator<Item = u64>,
) -> Result<(), String> {
    for va in probes {
        let got = mapper.translate(VirtAddr::new(va));
        let want = model.translate(va);
        if got != want {
            return Err(format!("translate({va:#x}) = {got:?}, model says {want:?}"));
        }
    }
    let expected = model.expected_tables(levels);
    if table_count != expected {
        return Err(format!(
            "{table_count} tables, the model's leaves need {expected}"
        ));
    }
    let allocated = alloc.total_frames() - alloc.free_frames();
    if allocated != table_count {
        return Err(format!(
            "{allocated} frames allocated for {table_count} tables"
        ));
    }
    Ok(())
}

/// Addresses worth probing after `op`: its bounds and neighbours, plus up to
/// `per_op` leaf starts and ends of the model spread over the address space.
pub fn probes(op: &Op, model: &Model, per_op: usize) -> Vec<u64> {
    let (va, len) = match *op {
        Op::Map { va, size, .. } | Op::Unmap { va, size } | Op::Protect { va, size, .. } => {
            (va, size.bytes())
        }
        Op::MapRange { va, pages, .. } | Op::UnmapRange { va, pages } => (va, pages * 4096),
        Op::Split { va } => (va & !((1 << 30) - 1), 1 << 30),
    };
    let mut out = alloc::vec![
        va,
        va.wrapping_sub(1),
        va + len / 2,
        va + len.saturating_sub(1),
        va + len
    ];
    let stride = (model.len() / per_op.max(1)).max(1);
    for (i, (&start, leaf)) in model.leaves.iter().enumerate() {
        if i % stride == 0 {
            out.push(start);
            out.push(start + leaf.size.bytes() - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_predicts_overlaps_and_splits() {
        let mut m = Model::new();
        let map = |va, size| Op::Map {
            va,
            pa: va,
            size,
            flags: PageFlags::R,
        };
        assert_eq!(m.apply(&map(0x20_0000, MappedSize::Size2MiB)), Outcome::Ok);
        assert_eq!(
            m.apply(&map(0x20_1000, MappedSize::Size4KiB)),
            Outcome::Map(MapError::AlreadyMapped {
                addr: VirtAddr::new(0x20_1000)
            })
        );
        assert_eq!(
            m.apply(&Op::Unmap {
                va: 0,
                size: MappedSize::Size1GiB
            }),
            Outcome::Unmap(UnmapError::SizeMismatch {
                addr: VirtAddr::new(0),
                requested: MappedSize::Size1GiB
            })
        );
        assert_eq!(m.apply(&Op::Split { va: 0x20_1000 }), Outcome::Ok);
        assert_eq!(m.len(), 512);
        assert_eq!(m.expected_tables(3), 3);
        assert_eq!(m.translate(0x3f_ffff).unwrap().size, MappedSize::Size4KiB);
        assert_eq!(
            m.apply(&Op::UnmapRange {
                va: 0,
                pages: 1 << 18
            }),
            Outcome::Ok
        );
        assert!(m.is_empty());
    }
}
