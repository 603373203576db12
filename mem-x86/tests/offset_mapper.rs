//! OffsetMapper over simulated physical memory, checked against the raw
//! entries the `x86_64` crate's types decode.

use mem_core::paging::sim::SimFrames;
use mem_core::paging::{
    FlushScope, MapError, MappedSize, Mapper, PageFlags, PageSizes, ProtectError, SplitError,
    UnmapError,
};
use mem_core::{
    FrameAllocator, Page, PageRange, PhysAddr, PhysFrame, Size1GiB, Size2MiB, Size4KiB, VirtAddr,
};
use mem_x86::OffsetMapper;
use x86_64::structures::paging::PageTableFlags as X;

fn setup(frames: usize) -> (SimFrames, OffsetMapper) {
    let mut sim = SimFrames::new(frames);
    let offset = sim.phys_offset();
    // SAFETY: SimFrames' frames live at `phys_offset` and are unused.
    let mapper = unsafe { OffsetMapper::new_empty(&mut sim, offset) }.unwrap();
    (sim, mapper)
}

fn page<S: mem_core::PageSize>(addr: u64) -> Page<S> {
    Page::from_start_address(VirtAddr::new(addr)).unwrap()
}

fn frame<S: mem_core::PageSize>(addr: u64) -> PhysFrame<S> {
    PhysFrame::from_start_address(PhysAddr::new(addr)).unwrap()
}

#[test]
fn map_translate_unmap_frees_every_table() {
    let (mut sim, mut m) = setup(64);
    let start = sim.free_frames();
    let p = page::<Size4KiB>(0xffff_8000_1234_5000);
    // SAFETY: simulated frames, nothing accesses them.
    unsafe { m.map(p, frame(0x7654_3000), PageFlags::RW, &mut sim) }
        .unwrap()
        .flush();
    assert_eq!(sim.free_frames(), start - 3, "PDPT, PD and PT allocated");
    let t = m.translate(VirtAddr::new(0xffff_8000_1234_5678)).unwrap();
    assert_eq!(t.addr, PhysAddr::new(0x7654_3678));
    assert_eq!(t.flags, PageFlags::RW);
    assert_eq!(t.size, MappedSize::Size4KiB);
    assert_eq!(m.translate(VirtAddr::new(0xffff_8000_1234_6000)), None);

    // The PML4 entry as the x86_64 crate sees it.
    let e = &m.level_4_table()[256];
    assert_eq!(e.flags(), X::PRESENT | X::WRITABLE);

    // SAFETY: as above.
    let (f, flush) = unsafe { m.unmap(p, &mut sim) }.unwrap();
    assert_eq!(flush.scope(), FlushScope::Page(p.start_address()));
    flush.flush();
    assert_eq!(f, frame(0x7654_3000));
    assert_eq!(sim.free_frames(), start);
    assert_eq!(m.engine().table_count(), 1);
    // SAFETY: as above.
    let again = unsafe { m.unmap(p, &mut sim) };
    assert_eq!(
        again.unwrap_err(),
        UnmapError::NotMapped {
            addr: p.start_address()
        }
    );
}

#[test]
fn errors_are_typed() {
    let (mut sim, mut m) = setup(64);
    let p = page::<Size4KiB>(0x1000);
    // SAFETY: simulated frames.
    unsafe {
        m.map(p, frame(0x1000), PageFlags::R, &mut sim)
            .unwrap()
            .ignore();
        assert_eq!(
            m.map(p, frame(0x2000), PageFlags::R, &mut sim).unwrap_err(),
            MapError::AlreadyMapped {
                addr: p.start_address()
            }
        );
        assert!(matches!(
            m.map(
                page::<Size4KiB>(0x2000),
                frame(0x2000),
                PageFlags::WRITE,
                &mut sim
            ),
            Err(MapError::InvalidFlags(_))
        ));
        let hole = VirtAddr::new(0x0000_8000_0000_0000);
        assert_eq!(
            m.map(
                Page::<Size4KiB>::containing_address(hole),
                frame(0),
                PageFlags::R,
                &mut sim
            )
            .unwrap_err(),
            MapError::NonCanonical(hole)
        );
        let too_wide = PhysAddr::new(1 << 52);
        assert_eq!(
            m.map(
                page::<Size4KiB>(0x3000),
                frame(1 << 52),
                PageFlags::R,
                &mut sim
            )
            .unwrap_err(),
            MapError::PhysOutOfRange(too_wide)
        );
        // A 2 MiB page over the table that holds `p`.
        assert_eq!(
            m.map(page::<Size2MiB>(0), frame(0), PageFlags::R, &mut sim)
                .unwrap_err(),
            MapError::AlreadyMapped {
                addr: VirtAddr::new(0)
            }
        );
        assert_eq!(
            m.unmap(page::<Size2MiB>(0), &mut sim).unwrap_err(),
            UnmapError::SizeMismatch {
                addr: VirtAddr::new(0),
                requested: MappedSize::Size2MiB
            }
        );
        assert_eq!(
            m.protect(page::<Size4KiB>(0x5000), PageFlags::R)
                .unwrap_err(),
            ProtectError::NotMapped {
                addr: VirtAddr::new(0x5000)
            }
        );
        assert_eq!(
            m.split(VirtAddr::new(0x1000), &mut sim).unwrap_err(),
            SplitError::NotHuge {
                addr: VirtAddr::new(0x1000)
            }
        );
    }
}

#[test]
fn out_of_frames_leaves_nothing_behind() {
    let (mut sim, mut m) = setup(64);
    let start = sim.free_frames();
    for budget in 0..3 {
        sim.set_budget(Some(budget));
        // SAFETY: simulated frames.
        let r = unsafe {
            m.map(
                page::<Size4KiB>(0x40_0000_0000),
                frame(0),
                PageFlags::R,
                &mut sim,
            )
        };
        assert!(matches!(r, Err(MapError::OutOfFrames(_))), "{r:?}");
        assert_eq!(sim.free_frames(), start, "budget {budget}");
    }
    sim.set_budget(Some(40));
    let pages = PageRange::from_start_len(page::<Size4KiB>(0x1000), 600 * 512).unwrap();
    // SAFETY: simulated frames.
    let r = unsafe {
        m.map_range(
            pages,
            frame(0x1000),
            PageFlags::R,
            PageSizes::Only4KiB,
            &mut sim,
        )
    };
    assert!(matches!(r, Err(MapError::OutOfFrames(_))), "{r:?}");
    sim.set_budget(None);
    assert_eq!(sim.free_frames(), start);
    assert_eq!(m.translate(VirtAddr::new(0x1000)), None);
}

#[test]
fn huge_pages_protect_and_split() {
    let (mut sim, mut m) = setup(64);
    let start = sim.free_frames();
    // SAFETY: simulated frames.
    unsafe {
        m.map(
            page::<Size1GiB>(0x40_0000_0000),
            frame(0x8000_0000),
            PageFlags::RW,
            &mut sim,
        )
        .unwrap()
        .flush();
        m.map(
            page::<Size2MiB>(0x20_0000),
            frame(0x60_0000),
            PageFlags::RX,
            &mut sim,
        )
        .unwrap()
        .flush();
    }
    let t = m.translate(VirtAddr::new(0x40_0123_4567)).unwrap();
    assert_eq!(
        (t.addr, t.size),
        (PhysAddr::new(0x8123_4567), MappedSize::Size1GiB)
    );
    assert_eq!(t.frame_start(), PhysAddr::new(0x8000_0000));
    // A 4 KiB page inside the 2 MiB one.
    let inner = page::<Size4KiB>(0x20_3000);
    // SAFETY: simulated frames.
    unsafe {
        assert_eq!(
            m.unmap(inner, &mut sim).unwrap_err(),
            UnmapError::InsideHugePage {
                addr: VirtAddr::new(0x20_0000),
                size: MappedSize::Size2MiB
            }
        );
        assert!(matches!(
            m.protect(inner, PageFlags::R),
            Err(ProtectError::InsideHugePage { .. })
        ));
        m.protect(page::<Size2MiB>(0x20_0000), PageFlags::R)
            .unwrap()
            .flush();
    }
    assert_eq!(
        m.translate(VirtAddr::new(0x20_0000)).unwrap().flags,
        PageFlags::R
    );
    m.split(VirtAddr::new(0x20_3456), &mut sim).unwrap().flush();
    for off in (0..0x20_0000).step_by(0x1000) {
        let t = m.translate(VirtAddr::new(0x20_0000 + off + 8)).unwrap();
        assert_eq!(
            (t.addr.as_u64(), t.size, t.flags),
            (0x60_0008 + off, MappedSize::Size4KiB, PageFlags::R)
        );
    }
    // Split the 1 GiB page twice, down to 4 KiB.
    m.split(VirtAddr::new(0x40_0020_0000), &mut sim)
        .unwrap()
        .flush();
    m.split(VirtAddr::new(0x40_0020_0000), &mut sim)
        .unwrap()
        .flush();
    let t = m.translate(VirtAddr::new(0x40_0020_1abc)).unwrap();
    assert_eq!(
        (t.addr.as_u64(), t.size),
        (0x8020_1abc, MappedSize::Size4KiB)
    );
    let t = m.translate(VirtAddr::new(0x40_3fff_ffff)).unwrap();
    assert_eq!(
        (t.addr.as_u64(), t.size),
        (0xbfff_ffff, MappedSize::Size2MiB)
    );
    // SAFETY: simulated frames.
    unsafe {
        let (f, fl) = m.unmap(inner, &mut sim).unwrap();
        fl.flush();
        assert_eq!(f, frame(0x60_3000));
        let range = PageRange::from_start_len(page::<Size4KiB>(0), 1 << 19).unwrap();
        m.unmap_range(range, &mut sim).unwrap().flush();
        let range = PageRange::from_start_len(page::<Size4KiB>(0x40_0000_0000), 1 << 18).unwrap();
        m.unmap_range(range, &mut sim).unwrap().flush();
    }
    assert_eq!(sim.free_frames(), start);
}

#[test]
fn map_range_uses_huge_pages_where_aligned() {
    let (mut sim, mut m) = setup(256);
    let start = sim.free_frames();
    // 2 GiB starting 4 KiB before a 1 GiB boundary: one 4 KiB page, one
    // 1 GiB page, 511 2 MiB pages, 511 4 KiB pages.
    let first = 0x3fff_f000u64;
    let pages = PageRange::from_start_len(page::<Size4KiB>(first), 2 << 18).unwrap();
    // SAFETY: simulated frames.
    let flush = unsafe {
        m.map_range(
            pages,
            frame(first),
            PageFlags::RW,
            PageSizes::UpTo1GiB,
            &mut sim,
        )
    }
    .unwrap();
    assert_eq!(flush.scope(), FlushScope::All);
    flush.flush();
    let expect = [
        (first, MappedSize::Size4KiB),
        (0x4000_0000, MappedSize::Size1GiB),
        (0x8000_0000, MappedSize::Size2MiB),
        (0xbfc0_0000, MappedSize::Size2MiB),
        (0xbfe0_0000, MappedSize::Size4KiB),
        (0xbfff_e000, MappedSize::Size4KiB),
    ];
    for (va, size) in expect {
        let t = m.translate(VirtAddr::new(va)).unwrap();
        assert_eq!((t.addr.as_u64(), t.size), (va, size), "{va:#x}");
    }
    assert_eq!(m.translate(VirtAddr::new(0xbfff_f000)), None);
    // A conflicting range rolls back completely.
    let clash = PageRange::from_start_len(page::<Size4KiB>(0x3f00_0000), 0x2000).unwrap();
    // SAFETY: simulated frames.
    let err = unsafe { m.map_range(clash, frame(0), PageFlags::R, PageSizes::UpTo1GiB, &mut sim) }
        .unwrap_err();
    assert_eq!(
        err,
        MapError::AlreadyMapped {
            addr: VirtAddr::new(first)
        }
    );
    assert_eq!(m.translate(VirtAddr::new(0x3f00_0000)), None);
    // A range ending inside the 2 MiB page is refused as a whole.
    let partial = PageRange::from_start_len(page::<Size4KiB>(0x8000_0000), 1).unwrap();
    // SAFETY: simulated frames.
    unsafe {
        assert!(matches!(
            m.unmap_range(partial, &mut sim),
            Err(UnmapError::InsideHugePage { .. })
        ));
        m.unmap_range(pages, &mut sim).unwrap().flush();
    }
    assert_eq!(sim.free_frames(), start);
}

#[test]
fn identity_and_offset_helpers() {
    let (mut sim, mut m) = setup(64);
    let frames = PhysFrame::range(frame(0x10_0000), frame(0x10_4000));
    // SAFETY: simulated frames.
    unsafe {
        m.map_identity(frames, PageFlags::MMIO, PageSizes::UpTo2MiB, &mut sim)
            .unwrap()
            .flush();
        let t = m.translate(VirtAddr::new(0x10_3fff)).unwrap();
        assert_eq!((t.addr.as_u64(), t.flags), (0x10_3fff, PageFlags::MMIO));
        let off = 0xffff_8000_0000_0000;
        m.map_offset(frames, off, PageFlags::R, PageSizes::UpTo2MiB, &mut sim)
            .unwrap()
            .flush();
        assert_eq!(
            m.translate(VirtAddr::new(off + 0x10_2000))
                .unwrap()
                .addr
                .as_u64(),
            0x10_2000
        );
        assert!(matches!(
            m.map_offset(frames, 0x10, PageFlags::R, PageSizes::UpTo2MiB, &mut sim),
            Err(MapError::Misaligned(_))
        ));
        assert_eq!(
            m.map_offset(
                frames,
                0xffff_ffff_ffff_f000,
                PageFlags::R,
                PageSizes::UpTo2MiB,
                &mut sim
            )
            .unwrap_err(),
            MapError::AddressOverflow
        );
    }
}

#[test]
fn user_pages_propagate_user_to_every_level() {
    let (mut sim, mut m) = setup(64);
    // SAFETY: simulated frames.
    unsafe {
        m.map(
            page::<Size4KiB>(0x1000),
            frame(0x1000),
            PageFlags::R,
            &mut sim,
        )
        .unwrap()
        .flush();
        m.protect(page::<Size4KiB>(0x1000), PageFlags::R | PageFlags::USER)
            .unwrap()
            .flush();
    }
    let l4 = m.level_4_table();
    assert!(l4[0].flags().contains(X::USER_ACCESSIBLE));
    let pdpt = sim.read_u64(PhysAddr::new(l4[0].addr().as_u64()));
    assert_ne!(pdpt & X::USER_ACCESSIBLE.bits(), 0);
}
