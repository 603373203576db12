//! The property test every format's mapper runs against the [`Model`]:
//! random map/unmap/protect/split sequences, replayed on the real mapper and
//! on the model, comparing results, exact errors, returned frames,
//! translations and the exact set of tables after every step; unmapping
//! everything at the end must give every table frame back.
//!
//! A format's test supplies only what differs between formats, its
//! [`Layout`] and how to build and inspect its mapper; [`steps`] and [`run`]
//! do the rest:
//!
//! ```ignore
//! use mem_core::paging::sim::model_prop::{self, Layout};
//! use proptest::prelude::*;
//!
//! const LAYOUT: Layout = Layout { windows: [0, 0x3f_0000_0000, 0xffff_ffc0_0000_0000], levels: 3 };
//!
//! proptest! {
//!     #[test]
//!     fn matches_model(steps in model_prop::steps(LAYOUT)) {
//!         // SAFETY: the mapper's tables live in the simulated memory.
//!         unsafe { model_prop::run(LAYOUT, &steps, new_mapper, table_count) }?;
//!     }
//! }
//! ```

extern crate alloc;

use alloc::vec::Vec;

use proptest::prelude::*;

use super::SimFrames;
use super::model::{self, Model, Op};
use crate::frame_alloc::FrameAllocator;
use crate::paging::{MappedSize, Mapper, PageFlags, PageSizes};

const GIB: u64 = 1 << 30;

/// Size of each address window of a [`Layout`].
pub const WINDOW_BYTES: u64 = 4 * GIB;

/// Frames of simulated memory each test case gets.
const SIM_FRAMES: usize = 4096;

/// Leaves whose translations are probed after each step, besides the bounds
/// of the operation itself.
const PROBES_PER_OP: usize = 32;

/// What the generated operations need to know of a page-table format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Starts of three [`WINDOW_BYTES`] windows of canonical addresses that
    /// operations aim at, on a grid dense enough to collide. Pick the bottom
    /// of the lower half, its top (ending at the non-canonical hole) and the
    /// start of the upper half, so that both edges of the hole are exercised.
    pub windows: [u64; 3],
    /// Number of table levels, root included (4 for x86_64, 3 for Sv39).
    pub levels: usize,
}

/// One generated step: an operation, either fully random or aimed at an
/// existing leaf of the model.
#[derive(Debug, Clone)]
pub enum Step {
    /// The operation as generated.
    Raw(Op),
    /// `Raw` with only this many frames available to it, so that running
    /// out of frames midway (and rolling back) is exercised.
    Starved(Op, usize),
    /// Unmap (0), protect (1) or split (2) the leaf `pick` (modulo the
    /// number of leaves), named with its own size or, when `resize` is not
    /// 0, a size up or down.
    OnLeaf {
        /// Which operation.
        kind: u8,
        /// Which leaf, as for [`Model::pick`].
        pick: usize,
        /// Page-size levels to add to the leaf's own size.
        resize: i8,
        /// Flags for a protect.
        flags: PageFlags,
    },
}

fn resized(size: MappedSize, by: i8) -> MappedSize {
    let level = (size.level() as i8 + by).clamp(0, 2) as usize;
    MappedSize::from_level(level).expect("level clamped to a leaf level")
}

impl Step {
    /// The concrete operation this step stands for, given the model's
    /// current leaves.
    fn resolve(&self, model: &Model) -> Op {
        match *self {
            Step::Raw(op) | Step::Starved(op, _) => op,
            Step::OnLeaf {
                kind,
                pick,
                resize,
                flags,
            } => {
                let Some((leaf, size)) = model.pick(pick) else {
                    return Op::Split { va: 0 };
                };
                let named = resized(size, resize);
                let va = leaf & !(named.bytes() - 1);
                match kind {
                    0 => Op::Unmap { va, size: named },
                    1 => Op::Protect {
                        va,
                        size: named,
                        flags,
                    },
                    _ => Op::Split {
                        va: leaf + (pick as u64 % 512 * 0x1000) % size.bytes(),
                    },
                }
            }
        }
    }
}

fn size() -> impl Strategy<Value = MappedSize> {
    prop_oneof![
        6 => Just(MappedSize::Size4KiB),
        3 => Just(MappedSize::Size2MiB),
        1 => Just(MappedSize::Size1GiB),
    ]
}

fn flags() -> impl Strategy<Value = PageFlags> {
    (any::<u8>(), 0..20u8).prop_map(|(bits, roll)| {
        let f = PageFlags::from_bits_truncate(bits);
        // One in twenty lacks READ and must be refused.
        if roll == 0 {
            f - PageFlags::READ
        } else {
            f | PageFlags::READ
        }
    })
}

/// A window base and an address in that window, on a grid dense enough to
/// collide.
fn addr(layout: Layout) -> impl Strategy<Value = (u64, u64)> {
    (
        prop::sample::select(layout.windows.to_vec()),
        0..4u64,
        prop::sample::select(&[0u64, 1, 2, 3, 510, 511][..]),
        prop::sample::select(&[0u64, 1, 2, 511][..]),
    )
        .prop_map(|(base, g, m, k)| (base, base + g * GIB + (m << 21) + (k << 12)))
}

fn pages() -> impl Strategy<Value = u64> {
    prop::sample::select(
        &[
            0u64,
            1,
            3,
            511,
            512,
            513,
            1024,
            1 << 18,
            (1 << 18) + 513,
            2 << 18,
        ][..],
    )
}

fn op(layout: Layout) -> impl Strategy<Value = Op> {
    let delta = prop::sample::select(&[0u64, 0x1000, 0x20_0000, GIB][..]);
    let sizes = prop::sample::select(
        &[
            PageSizes::Only4KiB,
            PageSizes::UpTo2MiB,
            PageSizes::UpTo1GiB,
        ][..],
    );
    prop_oneof![
        3 => (addr(layout), size(), any::<u32>(), flags()).prop_map(|((_, va), size, pa, flags)| {
            let mask = !(size.bytes() - 1);
            Op::Map { va: va & mask, pa: (u64::from(pa) << 12) & mask, size, flags }
        }),
        2 => (addr(layout), pages(), delta, flags(), sizes).prop_map(|((base, va), pages, delta, flags, sizes)| {
            // Keep 4 KiB-only ranges small: the model stores every leaf.
            let small = sizes == PageSizes::Only4KiB || delta % (1 << 21) != 0;
            let pages = if small { pages.min(2048) } else { pages };
            // Stay inside the window.
            let room = (base + WINDOW_BYTES - va) >> 12;
            Op::MapRange { va, pages: pages.min(room), pa: va - base + delta, flags, sizes }
        }),
        2 => (addr(layout), size()).prop_map(|((_, va), size)| Op::Unmap { va: va & !(size.bytes() - 1), size }),
        1 => (addr(layout), pages()).prop_map(|((base, va), pages)| {
            Op::UnmapRange { va, pages: pages.min((base + WINDOW_BYTES - va) >> 12) }
        }),
        2 => (addr(layout), size(), flags()).prop_map(|((_, va), size, flags)| {
            Op::Protect { va: va & !(size.bytes() - 1), size, flags }
        }),
        1 => addr(layout).prop_map(|(_, va)| Op::Split { va }),
    ]
}

fn step(layout: Layout) -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => op(layout).prop_map(Step::Raw),
        1 => (op(layout), 0..4usize).prop_map(|(op, budget)| Step::Starved(op, budget)),
        1 => (0..3u8, any::<usize>(), prop::sample::select(&[0i8, 0, 0, -1, 1][..]), flags())
            .prop_map(|(kind, pick, resize, flags)| Step::OnLeaf { kind, pick, resize, flags }),
    ]
}

/// Sequences of 1 to 39 steps inside `layout`'s windows.
pub fn steps(layout: Layout) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(layout), 1..40)
}

/// Runs `steps` and then an unmap of every window on a fresh mapper and on
/// the model, failing at the first difference: an operation's result or
/// exact error, the frame an unmap returns, a probed translation, a table
/// count other than the model's leaves imply, a table frame the allocator
/// has but the mapper does not count, and at the end any frame not given
/// back.
///
/// `new_mapper` builds an empty mapper over the simulated memory it is
/// given (with `phys_offset` = [`SimFrames::phys_offset`]); `table_count`
/// reports how many tables a mapper holds, root included.
///
/// # Errors
/// A [`TestCaseError`] describing the first difference.
///
/// # Safety
/// The mapper `new_mapper` returns must reach its tables inside the
/// [`SimFrames`] it is given and take every table frame from the allocators
/// it is passed: the steps then map and unmap only simulated memory, and
/// nothing accesses the frames their pages point to.
pub unsafe fn run<M: Mapper>(
    layout: Layout,
    steps: &[Step],
    new_mapper: impl FnOnce(&mut SimFrames) -> M,
    table_count: impl Fn(&M) -> usize,
) -> Result<(), TestCaseError> {
    let mut sim = SimFrames::new(SIM_FRAMES);
    let mut mapper = new_mapper(&mut sim);
    let start_free = sim.free_frames();
    let mut model = Model::new();
    let cleanup = layout.windows.map(|va| {
        Step::Raw(Op::UnmapRange {
            va,
            pages: WINDOW_BYTES >> 12,
        })
    });
    for step in steps.iter().chain(&cleanup) {
        let op = &step.resolve(&model);
        if let Step::Starved(_, budget) = step {
            sim.set_budget(Some(*budget));
        }
        // SAFETY: the caller guarantees the mapper maps only simulated
        // memory.
        unsafe { model::run_op(&mut mapper, &mut model, &mut sim, op) }
            .map_err(TestCaseError::fail)?;
        sim.set_budget(None);
        let tables = table_count(&mapper);
        model::check(
            &mapper,
            &model,
            &sim,
            layout.levels,
            tables,
            model::probes(op, &model, PROBES_PER_OP),
        )
        .map_err(TestCaseError::fail)?;
    }
    prop_assert!(model.is_empty());
    prop_assert_eq!(sim.free_frames(), start_free, "table frames leaked");
    Ok(())
}
