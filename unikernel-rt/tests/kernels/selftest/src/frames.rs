//! The frame allocator built from the real boot memory map.

use alloc::vec::Vec;

use mem_core::{FRAME_SIZE, PhysFrame};
use unikernel::memory::{self, RegionKind};

/// What QEMU was started with (`memory` in this crate's test metadata).
const MACHINE_RAM: u64 = 128 << 20;

#[unikernel::test]
fn every_usable_frame_is_handed_out_exactly_once() {
    let free_at_start = memory::stats().free_bytes / FRAME_SIZE;
    let mut frames: Vec<PhysFrame> = Vec::with_capacity(free_at_start as usize);
    while let Ok(f) = memory::allocate_frame() {
        frames.push(f);
    }
    assert_eq!(memory::stats().free_bytes, 0);
    assert_eq!(
        frames.len() as u64,
        free_at_start,
        "every free frame is handed out"
    );

    let regions: Vec<_> = memory::regions().collect();
    for f in &frames {
        let inside_usable = regions.iter().any(|r| {
            r.kind == RegionKind::Usable
                && r.start <= f.start_address()
                && f.start_address() < r.end
        });
        assert!(inside_usable, "{f:?} is not in usable memory");
    }
    frames.sort_unstable();
    let before = frames.len();
    frames.dedup();
    assert_eq!(frames.len(), before, "a frame was handed out twice");

    for f in frames {
        memory::deallocate_frame(f).expect("free");
    }
    assert_eq!(memory::stats().free_bytes / FRAME_SIZE, free_at_start);
}

#[unikernel::test]
fn the_memory_map_accounts_for_the_machines_ram() {
    // RAM starts at the lowest address firmware describes (0 on x86_64,
    // 0x8000_0000 on QEMU virt); count what the map says about the next
    // MACHINE_RAM bytes.
    let ram_start = memory::regions()
        .map(|r| r.start.as_u64())
        .min()
        .expect("a memory map");
    let ram_end = ram_start + MACHINE_RAM;
    let mut described = 0;
    for r in memory::regions() {
        let (start, end) = (r.start.as_u64(), r.end.as_u64());
        unikernel::println!(
            "  {start:#012x}..{end:#012x} {:>8} KiB {:?}",
            (end - start) >> 10,
            r.kind
        );
        described += end.min(ram_end).saturating_sub(start.max(ram_start));
    }
    let usable = memory::stats().usable_bytes;
    let trimmed = memory::normalize_report()
        .expect("boot report")
        .trimmed_bytes;
    unikernel::println!(
        "machine RAM {} KiB at {ram_start:#x}; described {} B; usable {} KiB; \
         partial frames trimmed at boot {trimmed} B",
        MACHINE_RAM >> 10,
        described,
        usable >> 10,
    );
    // Every byte QEMU was given is usable, reserved for a reason the map
    // names (firmware, bootloader, kernel, device tree, tables), or a
    // partial frame the boot log reports as trimmed.
    assert_eq!(
        described + trimmed,
        MACHINE_RAM,
        "RAM unaccounted for in the memory map"
    );
    assert!(
        usable >= MACHINE_RAM * 85 / 100,
        "firmware and kernel take more than 15%"
    );
}

#[unikernel::test]
fn contiguous_aligned_runs_for_dma() {
    let run = memory::allocate_contiguous(512, 512).expect("a 2 MiB-aligned 2 MiB run");
    assert_eq!(run.len(), 512);
    assert!(run.start_address().is_aligned(2u64 << 20));
    memory::deallocate_contiguous(run).expect("free the run");
    assert_eq!(
        memory::deallocate_contiguous(run),
        Err(mem_core::FrameFreeError::NotAllocated(run.start)),
        "a double free is refused"
    );
}
