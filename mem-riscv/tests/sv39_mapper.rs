//! Sv39Mapper over simulated physical memory: raw PTEs as the hardware
//! walker reads them, canonical checks, gigapages in the root, satp.

use mem_core::paging::sim::SimFrames;
use mem_core::paging::{MapError, MappedSize, Mapper, PageFlags, PageSizes, UnmapError};
use mem_core::{
    FrameAllocator, Page, PageRange, PhysAddr, PhysFrame, Size1GiB, Size4KiB, VirtAddr,
};
use mem_riscv::sv39::{PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X};
use mem_riscv::{Sv39Mapper, satp_value};

fn setup() -> (SimFrames, Sv39Mapper) {
    let mut sim = SimFrames::new(64);
    let offset = sim.phys_offset();
    // SAFETY: the simulated frames live at `offset` and are unused.
    let mapper = unsafe { Sv39Mapper::new_empty(&mut sim, offset) }.unwrap();
    (sim, mapper)
}

/// Walks the tables by hand, as the Sv39 hardware walker does.
fn hw_walk(sim: &SimFrames, root: PhysFrame, va: u64) -> Option<(u64, usize)> {
    let mut table = root.start_address().as_u64();
    for level in (0..3).rev() {
        let vpn = (va >> (12 + 9 * level)) & 511;
        let pte = sim.read_u64(PhysAddr::new(table + vpn * 8));
        if pte & PTE_V == 0 {
            return None;
        }
        let pa = (pte >> 10) << 12;
        if pte & (PTE_R | PTE_W | PTE_X) != 0 {
            return Some((pte, level));
        }
        table = pa;
    }
    None
}

#[test]
fn ptes_are_what_the_hardware_expects() {
    let (mut sim, mut m) = setup();
    let va = 0xffff_ffc0_8020_1000u64;
    let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
    let frame = PhysFrame::containing_address(PhysAddr::new(0x8765_4000));
    // SAFETY: simulated frames.
    unsafe { m.map(page, frame, PageFlags::RW, &mut sim) }
        .unwrap()
        .flush();
    let (pte, level) = hw_walk(&sim, m.root(), va).unwrap();
    assert_eq!(level, 0);
    assert_eq!(pte, (0x87654 << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);

    let giga = Page::<Size1GiB>::containing_address(VirtAddr::new(0x4000_0000));
    let gframe = PhysFrame::containing_address(PhysAddr::new(0x8000_0000));
    // SAFETY: simulated frames.
    unsafe { m.map(giga, gframe, PageFlags::RX, &mut sim) }
        .unwrap()
        .flush();
    let (pte, level) = hw_walk(&sim, m.root(), 0x4123_4567).unwrap();
    assert_eq!(
        (pte >> 10 << 12, level),
        (0x8000_0000, 2),
        "gigapage leaf in the root"
    );
    let t = m.translate(VirtAddr::new(0x4123_4567)).unwrap();
    assert_eq!(
        (t.addr.as_u64(), t.size),
        (0x8123_4567, MappedSize::Size1GiB)
    );
}

#[test]
fn canonical_form_is_bit_38_sign_extended() {
    let (mut sim, mut m) = setup();
    for bad in [
        0x40_0000_0000u64,
        0xffff_ff80_0000_0000,
        0x8000_0000_0000_0000,
    ] {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(bad));
        // SAFETY: simulated frames.
        let r = unsafe {
            m.map(
                page,
                PhysFrame::containing_address(PhysAddr::ZERO),
                PageFlags::R,
                &mut sim,
            )
        };
        assert_eq!(r.unwrap_err(), MapError::NonCanonical(VirtAddr::new(bad)));
        assert_eq!(m.translate(VirtAddr::new(bad)), None);
    }
    // A range crossing from the lower half into the hole.
    let start = Page::<Size4KiB>::containing_address(VirtAddr::new(0x3f_ffff_f000));
    let range = PageRange::from_start_len(start, 2).unwrap();
    // SAFETY: simulated frames.
    let r = unsafe {
        m.map_range(
            range,
            PhysFrame::containing_address(PhysAddr::ZERO),
            PageFlags::R,
            PageSizes::Only4KiB,
            &mut sim,
        )
    };
    assert!(matches!(r, Err(MapError::NonCanonical(_))), "{r:?}");
    // SAFETY: simulated frames.
    let r = unsafe { m.unmap(start, &mut sim) };
    assert_eq!(
        r.unwrap_err(),
        UnmapError::NotMapped {
            addr: start.start_address()
        }
    );
}

#[test]
fn direct_map_of_ram_with_huge_pages_then_release() {
    let (mut sim, mut m) = setup();
    let start = sim.free_frames();
    // 128 MiB of RAM at 0x8000_0000, direct-mapped at the upper half.
    let ram = PhysFrame::range(
        PhysFrame::containing_address(PhysAddr::new(0x8000_0000)),
        PhysFrame::containing_address(PhysAddr::new(0x8800_0000)),
    );
    let offset = 0xffff_ffc0_0000_0000;
    // SAFETY: simulated frames.
    unsafe { m.map_offset(ram, offset, PageFlags::RW, PageSizes::UpTo1GiB, &mut sim) }
        .unwrap()
        .flush();
    assert_eq!(
        sim.free_frames(),
        start - 1,
        "64 megapages in one level-1 table"
    );
    let t = m.translate(VirtAddr::new(offset + 0x8765_4321)).unwrap();
    assert_eq!(
        (t.addr.as_u64(), t.size),
        (0x8765_4321, MappedSize::Size2MiB)
    );
    let pages = PageRange::from_start_len(
        Page::containing_address(VirtAddr::new(offset + 0x8000_0000)),
        ram.len(),
    )
    .unwrap();
    // SAFETY: simulated frames.
    unsafe { m.unmap_range(pages, &mut sim) }.unwrap().flush();
    assert_eq!(sim.free_frames(), start);
}

#[test]
fn satp_layout() {
    let (_, m) = setup();
    let root = m.root();
    assert_eq!(m.satp(0), (8 << 60) | root.number());
    assert_eq!(m.satp(0xffff), (8 << 60) | (0xffff << 44) | root.number());
    let high = PhysFrame::containing_address(PhysAddr::new(0x00ff_ffff_ffff_f000));
    assert_eq!(satp_value(high, 0), (8 << 60) | ((1 << 44) - 1));
}
