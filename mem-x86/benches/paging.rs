//! Page-mapping speed over simulated physical memory, peers in one run:
//! `OffsetMapper` (ours, x86_64 tables), the `x86_64` crate's
//! `OffsetPageTable` on the same kind of tables, and `Sv39Mapper` (ours).
//!
//! Run: `cargo bench -p mem-x86 --bench paging -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use mem_core::paging::sim::SimFrames;
use mem_core::paging::{Mapper, PageFlags, PageSizes};
use mem_core::{FrameAllocator, Page, PageRange, PhysAddr, PhysFrame, Size4KiB, VirtAddr};
use mem_riscv::Sv39Mapper;
use mem_x86::{FrameAdapter, OffsetMapper};
use x86_64::structures::paging::{
    Mapper as _, OffsetPageTable, Page as XPage, PageTable, PageTableFlags as XFlags,
    PhysFrame as XFrame, Size4KiB as XSize4KiB,
};

/// Base of the benchmark region: 1 GiB aligned, lower half on both formats.
const BASE: u64 = 0x40_0000_0000 >> 2;
const PAGES_PER_GIB: u64 = 1 << 18;

fn page(i: u64) -> Page<Size4KiB> {
    Page::containing_address(VirtAddr::new(BASE + i * 4096))
}

fn frame(i: u64) -> PhysFrame<Size4KiB> {
    PhysFrame::containing_address(PhysAddr::new(0x1_0000_0000 + i * 4096))
}

fn xpage(i: u64) -> XPage<XSize4KiB> {
    XPage::containing_address(x86_64::VirtAddr::new(BASE + i * 4096))
}

fn xframe(i: u64) -> XFrame<XSize4KiB> {
    XFrame::containing_address(x86_64::PhysAddr::new(0x1_0000_0000 + i * 4096))
}

fn ours_x86(sim: &mut SimFrames) -> OffsetMapper {
    let offset = sim.phys_offset();
    // SAFETY: simulated frames live at `offset` and are unused.
    unsafe { OffsetMapper::new_empty(sim, offset) }.unwrap()
}

fn ours_sv39(sim: &mut SimFrames) -> Sv39Mapper {
    let offset = sim.phys_offset();
    // SAFETY: as above.
    unsafe { Sv39Mapper::new_empty(sim, offset) }.unwrap()
}

/// The `x86_64` crate's mapper over a fresh PML4 in `sim`.
fn peer_x86(sim: &mut SimFrames) -> OffsetPageTable<'static> {
    let root = sim.allocate_frame().unwrap();
    let offset = sim.phys_offset().as_u64();
    let ptr = (offset + root.start_address().as_u64()) as usize as *mut PageTable;
    // SAFETY: the frame is fresh, 4 KiB aligned, inside the buffer that
    // outlives the mapper within each benchmark; zeroed before use.
    unsafe {
        ptr.write(PageTable::new());
        OffsetPageTable::new(&mut *ptr, x86_64::VirtAddr::new(offset))
    }
}

/// One 4 KiB map + unmap, cycling through the pages of a 2 MiB region whose
/// first page stays mapped (so tables persist, as in a live address space).
fn pair_4k(c: &mut Criterion) {
    let mut g = c.benchmark_group("map+unmap 4KiB pair");
    let rw = PageFlags::RW;

    let mut sim = SimFrames::new(64);
    let mut m = ours_x86(&mut sim);
    // SAFETY: only simulated frames are mapped (so in every `unsafe` here).
    unsafe { m.map(page(0), frame(0), rw, &mut sim) }
        .unwrap()
        .ignore();
    let mut i = 1;
    g.bench_function("OffsetMapper (ours)", |b| {
        b.iter(|| {
            // SAFETY: simulated frames only.
            unsafe {
                m.map(page(i), frame(i), rw, &mut sim).unwrap().ignore();
                let (f, fl) = m.unmap(page(i), &mut sim).unwrap();
                fl.ignore();
                black_box(f);
            }
            i = i % 511 + 1;
        })
    });

    let mut sim = SimFrames::new(64);
    let mut peer = peer_x86(&mut sim);
    let xflags = XFlags::PRESENT | XFlags::WRITABLE | XFlags::NO_EXECUTE;
    {
        // SAFETY: SimFrames hands out unused frames only.
        let mut fa = unsafe { FrameAdapter::new(&mut sim) };
        // SAFETY: simulated frames only.
        unsafe { peer.map_to(xpage(0), xframe(0), xflags, &mut fa) }
            .unwrap()
            .ignore();
        let mut i = 1;
        g.bench_function("x86_64 0.15 OffsetPageTable", |b| {
            b.iter(|| {
                // SAFETY: simulated frames only.
                unsafe { peer.map_to(xpage(i), xframe(i), xflags, &mut fa) }
                    .unwrap()
                    .ignore();
                let (f, fl) = peer.unmap(xpage(i)).unwrap();
                fl.ignore();
                black_box(f);
                i = i % 511 + 1;
            })
        });
    }

    let mut sim = SimFrames::new(64);
    let mut m = ours_sv39(&mut sim);
    // SAFETY: simulated frames only.
    unsafe { m.map(page(0), frame(0), rw, &mut sim) }
        .unwrap()
        .ignore();
    let mut i = 1;
    g.bench_function("Sv39Mapper (ours)", |b| {
        b.iter(|| {
            // SAFETY: simulated frames only.
            unsafe {
                m.map(page(i), frame(i), rw, &mut sim).unwrap().ignore();
                let (f, fl) = m.unmap(page(i), &mut sim).unwrap();
                fl.ignore();
                black_box(f);
            }
            i = i % 511 + 1;
        })
    });

    // Worst case for ours: the page is alone, so every unmap frees three
    // tables and the next map allocates them again (the peer never frees).
    let mut sim = SimFrames::new(64);
    let mut m = ours_x86(&mut sim);
    g.bench_function("OffsetMapper (ours), tables freed each time", |b| {
        b.iter(|| {
            // SAFETY: simulated frames only.
            unsafe {
                m.map(page(7), frame(7), rw, &mut sim).unwrap().ignore();
                let (f, fl) = m.unmap(page(7), &mut sim).unwrap();
                fl.ignore();
                black_box(f);
            }
        })
    });
    g.finish();
}

/// Times `map_gib` (mapping 1 GiB at `BASE`), undoing it untimed after each
/// iteration with `unmap_range`.
fn time_gib<M: Mapper>(
    b: &mut criterion::Bencher<'_>,
    m: &mut M,
    sim: &mut SimFrames,
    map_gib: impl Fn(&mut M, &mut SimFrames),
) {
    b.iter_custom(|iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let t = Instant::now();
            map_gib(m, sim);
            total += t.elapsed();
            let all = PageRange::from_start_len(page(0), PAGES_PER_GIB).unwrap();
            // SAFETY: simulated frames only.
            unsafe { m.unmap_range(all, sim) }.unwrap().ignore();
        }
        total
    })
}

fn range_gib(c: &mut Criterion) {
    let mut g = c.benchmark_group("map 1GiB");
    g.sample_size(10);
    let all = PageRange::from_start_len(page(0), PAGES_PER_GIB).unwrap();
    let rw = PageFlags::RW;

    let mut sim = SimFrames::new(1024);
    let mut m = ours_x86(&mut sim);
    g.bench_function("OffsetMapper loop of map", |b| {
        time_gib(b, &mut m, &mut sim, |m, sim| {
            for i in 0..PAGES_PER_GIB {
                // SAFETY: simulated frames only.
                unsafe { m.map(page(i), frame(i), rw, sim) }
                    .unwrap()
                    .ignore();
            }
        })
    });
    for (name, sizes) in [
        ("OffsetMapper map_range 4KiB only", PageSizes::Only4KiB),
        ("OffsetMapper map_range up to 2MiB", PageSizes::UpTo2MiB),
        ("OffsetMapper map_range up to 1GiB", PageSizes::UpTo1GiB),
    ] {
        g.bench_function(name, |b| {
            time_gib(b, &mut m, &mut sim, |m, sim| {
                // SAFETY: simulated frames only.
                unsafe { m.map_range(all, frame(0), rw, sizes, sim) }
                    .unwrap()
                    .ignore();
            })
        });
    }

    let mut sim = SimFrames::new(1024);
    let mut peer = peer_x86(&mut sim);
    let xflags = XFlags::PRESENT | XFlags::WRITABLE | XFlags::NO_EXECUTE;
    {
        // SAFETY: SimFrames hands out unused frames only.
        let mut fa = unsafe { FrameAdapter::new(&mut sim) };
        g.bench_function("x86_64 0.15 OffsetPageTable loop of map_to", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    for i in 0..PAGES_PER_GIB {
                        // SAFETY: simulated frames only.
                        unsafe { peer.map_to(xpage(i), xframe(i), xflags, &mut fa) }
                            .unwrap()
                            .ignore();
                    }
                    total += t.elapsed();
                    for i in 0..PAGES_PER_GIB {
                        peer.unmap(xpage(i)).unwrap().1.ignore();
                    }
                }
                total
            })
        });
    }

    let mut sim = SimFrames::new(1024);
    let mut m = ours_sv39(&mut sim);
    g.bench_function("Sv39Mapper loop of map", |b| {
        time_gib(b, &mut m, &mut sim, |m, sim| {
            for i in 0..PAGES_PER_GIB {
                // SAFETY: simulated frames only.
                unsafe { m.map(page(i), frame(i), rw, sim) }
                    .unwrap()
                    .ignore();
            }
        })
    });
    g.bench_function("Sv39Mapper map_range 4KiB only", |b| {
        time_gib(b, &mut m, &mut sim, |m, sim| {
            // SAFETY: simulated frames only.
            unsafe { m.map_range(all, frame(0), rw, PageSizes::Only4KiB, sim) }
                .unwrap()
                .ignore();
        })
    });
    g.bench_function("Sv39Mapper map_range up to 1GiB", |b| {
        time_gib(b, &mut m, &mut sim, |m, sim| {
            // SAFETY: simulated frames only.
            unsafe { m.map_range(all, frame(0), rw, PageSizes::UpTo1GiB, sim) }
                .unwrap()
                .ignore();
        })
    });
    g.finish();
}

criterion_group!(benches, pair_4k, range_gib);
criterion_main!(benches);
