//! Random map/unmap/protect/split sequences on OffsetMapper against the
//! reference model: translations, errors, returned frames and the exact set
//! of tables agree after every step, and unmapping everything gives every
//! table frame back.

use mem_core::FrameAllocator;
use mem_core::paging::sim::SimFrames;
use mem_core::paging::sim::model::{self, Model, Op};
use mem_core::paging::{MappedSize, PageFlags, PageSizes};
use mem_x86::OffsetMapper;
use proptest::prelude::*;

const GIB: u64 = 1 << 30;
/// Three 4 GiB windows: the bottom of the lower half, its top (ending at the
/// non-canonical hole) and the start of the upper half.
const BASES: [u64; 3] = [0, 0x0000_7fff_0000_0000, 0xffff_8000_0000_0000];

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

/// An address in one of the windows, on a grid dense enough to collide.
fn addr() -> impl Strategy<Value = (u64, u64)> {
    (
        prop::sample::select(&BASES[..]),
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

fn op() -> impl Strategy<Value = Op> {
    let delta = prop::sample::select(&[0u64, 0x1000, 0x20_0000, GIB][..]);
    let sizes = prop::sample::select(
        &[
            PageSizes::Only4KiB,
            PageSizes::UpTo2MiB,
            PageSizes::UpTo1GiB,
        ][..],
    );
    prop_oneof![
        3 => (addr(), size(), any::<u32>(), flags()).prop_map(|((_, va), size, pa, flags)| {
            let mask = !(size.bytes() - 1);
            Op::Map { va: va & mask, pa: (u64::from(pa) << 12) & mask, size, flags }
        }),
        2 => (addr(), pages(), delta, flags(), sizes).prop_map(|((base, va), pages, delta, flags, sizes)| {
            // Keep 4 KiB-only ranges small: the model stores every leaf.
            let small = sizes == PageSizes::Only4KiB || delta % (1 << 21) != 0;
            let pages = if small { pages.min(2048) } else { pages };
            // Stay inside the window.
            let room = (base + 4 * GIB - va) >> 12;
            Op::MapRange { va, pages: pages.min(room), pa: va - base + delta, flags, sizes }
        }),
        2 => (addr(), size()).prop_map(|((_, va), size)| Op::Unmap { va: va & !(size.bytes() - 1), size }),
        1 => (addr(), pages()).prop_map(|((base, va), pages)| {
            Op::UnmapRange { va, pages: pages.min((base + 4 * GIB - va) >> 12) }
        }),
        2 => (addr(), size(), flags()).prop_map(|((_, va), size, flags)| {
            Op::Protect { va: va & !(size.bytes() - 1), size, flags }
        }),
        1 => addr().prop_map(|(_, va)| Op::Split { va }),
    ]
}

/// An operation, either fully generated or aimed at an existing leaf.
#[derive(Debug, Clone)]
enum Step {
    Raw(Op),
    /// `Raw` with only this many frames available to it.
    Starved(Op, usize),
    /// Unmap (0), protect (1) or split (2) the leaf `pick`, named with its
    /// own size or (when `resize`) a size up or down.
    OnLeaf {
        kind: u8,
        pick: usize,
        resize: i8,
        flags: PageFlags,
    },
}

fn resized(size: MappedSize, by: i8) -> MappedSize {
    let level = (size.level() as i8 + by).clamp(0, 2) as usize;
    MappedSize::from_level(level).unwrap()
}

impl Step {
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

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => op().prop_map(Step::Raw),
        1 => (op(), 0..4usize).prop_map(|(op, budget)| Step::Starved(op, budget)),
        1 => (0..3u8, any::<usize>(), prop::sample::select(&[0i8, 0, 0, -1, 1][..]), flags())
            .prop_map(|(kind, pick, resize, flags)| Step::OnLeaf { kind, pick, resize, flags }),
    ]
}

fn run(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut sim = SimFrames::new(4096);
    let offset = sim.phys_offset();
    // SAFETY: the simulated frames live at `offset` and are unused.
    let mut mapper = unsafe { OffsetMapper::new_empty(&mut sim, offset) }.unwrap();
    let start_free = sim.free_frames();
    let mut model = Model::new();
    let cleanup = BASES.map(|va| {
        Step::Raw(Op::UnmapRange {
            va,
            pages: (4 * GIB) >> 12,
        })
    });
    for step in steps.iter().chain(&cleanup) {
        let op = &step.resolve(&model);
        if let Step::Starved(_, budget) = step {
            sim.set_budget(Some(*budget));
        }
        // SAFETY: only simulated frames are mapped.
        unsafe { model::run_op(&mut mapper, &mut model, &mut sim, op) }
            .map_err(TestCaseError::fail)?;
        sim.set_budget(None);
        let tables = mapper.engine().table_count();
        model::check(
            &mapper,
            &model,
            &sim,
            4,
            tables,
            model::probes(op, &model, 32),
        )
        .map_err(TestCaseError::fail)?;
    }
    prop_assert!(model.is_empty());
    prop_assert_eq!(sim.free_frames(), start_free, "table frames leaked");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn offset_mapper_matches_model(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps)?;
    }
}
