//! Physical memory as a driver sees it: the boot memory map, single frames,
//! and physically contiguous, aligned runs of frames for DMA buffers, with
//! every rule the frame allocator enforces shown by a typed error.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use mem_core::{FRAME_SIZE, FrameAllocError, FrameFreeError, FrameRange, PhysAddr, PhysFrame};
use unikernel::memory::{self, MemoryRegion, RegionKind};
use unikernel::println;
use unikernel::vm;

/// DMA-style requests: (frames, alignment in frames). Sizes a network or
/// block driver asks for: descriptor rings, packet buffers, a 2 MiB pool.
const REQUESTS: [(usize, usize); 7] = [
    (1, 1),
    (3, 1),
    (8, 8),
    (16, 16),
    (100, 4),
    (256, 256),
    (512, 512),
];

#[unikernel::main]
fn main() -> Result<(), &'static str> {
    let regions: Vec<MemoryRegion> = memory::regions().collect();
    print_memory_map(&regions)?;

    let free_at_start = memory::stats().free_bytes;
    single_frames(&regions)?;
    let first = dma_buffers(&regions, true)?;
    if memory::stats().free_bytes != free_at_start {
        return Err("freed frames did not all come back");
    }
    // The allocator's state is the same as before, so the same requests must
    // be served at the same places: freed memory really is reusable.
    let second = dma_buffers(&regions, false)?;
    let same = first.iter().zip(&second).filter(|(a, b)| a == b).count();
    println!(
        "second pass: {same} of {} buffers at the same addresses",
        first.len()
    );
    refused_requests(&regions)?;
    if memory::stats().free_bytes != free_at_start {
        return Err("a refused request changed the allocator");
    }
    println!(
        "free at the end: {} KiB, as at the start",
        free_at_start >> 10
    );
    Ok(())
}

fn print_memory_map(regions: &[MemoryRegion]) -> Result<(), &'static str> {
    println!("memory map ({} regions):", regions.len());
    for r in regions {
        println!(
            "  {:#012x}..{:#012x} {:>8} KiB  {}",
            r.start,
            r.end,
            (r.end - r.start) >> 10,
            r.kind
        );
    }
    let usable: u64 = regions
        .iter()
        .filter(|r| r.kind == RegionKind::Usable)
        .map(|r| r.end - r.start)
        .sum();
    let s = memory::stats();
    println!(
        "usable {} KiB (the allocator agrees: {}), managed {} KiB, metadata {} B, free {} KiB",
        usable >> 10,
        if usable == s.usable_bytes {
            "yes"
        } else {
            "no"
        },
        s.total_bytes >> 10,
        s.metadata_bytes,
        s.free_bytes >> 10
    );
    if usable != s.usable_bytes {
        return Err("the memory map and the frame allocator disagree");
    }
    Ok(())
}

/// Whether `[start, end)` lies inside one usable region.
fn inside_usable(regions: &[MemoryRegion], start: PhysAddr, end: PhysAddr) -> bool {
    regions
        .iter()
        .any(|r| r.kind == RegionKind::Usable && r.start <= start && end <= r.end)
}

fn single_frames(regions: &[MemoryRegion]) -> Result<(), &'static str> {
    const COUNT: usize = 256;
    let mut frames: Vec<PhysFrame> = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        frames.push(memory::allocate_frame().map_err(|_| "out of frames")?);
    }
    if !frames
        .iter()
        .all(|f| inside_usable(regions, f.start_address(), f.start_address() + FRAME_SIZE))
    {
        return Err("a frame outside usable RAM");
    }
    let mut sorted = frames.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let distinct = sorted.len();
    let victim = frames[0];
    for f in frames {
        memory::deallocate_frame(f).map_err(|_| "freeing a frame failed")?;
    }
    println!("single frames: {COUNT} allocated, {distinct} distinct, all in usable RAM, all freed");
    match memory::deallocate_frame(victim) {
        Err(e @ FrameFreeError::NotAllocated(_)) => println!("  freeing one again: refused: {e}"),
        Err(_) => return Err("a double free gave the wrong error"),
        Ok(()) => return Err("a double free was accepted"),
    }
    Ok(())
}

/// Allocates every request, checks each run, frees them all, and returns the
/// runs (now free) for comparison.
fn dma_buffers(regions: &[MemoryRegion], print: bool) -> Result<Vec<FrameRange>, &'static str> {
    let free_before = memory::stats().free_bytes;
    let mut runs: Vec<FrameRange> = Vec::new();
    if print {
        println!("DMA buffers:");
    }
    for (count, align) in REQUESTS {
        let run = memory::allocate_contiguous(count, align).map_err(|_| "a DMA request failed")?;
        let (start, end) = (run.start_address(), run.end.start_address());
        let align_bytes = align as u64 * FRAME_SIZE;
        let aligned = start.is_aligned(align_bytes);
        let sized = run.len() == count as u64;
        let usable = inside_usable(regions, start, end);
        let disjoint = runs
            .iter()
            .all(|r| end <= r.start_address() || r.end.start_address() <= start);
        // The CPU reaches the buffer through the direct map of RAM; a device
        // is given `start` itself.
        let alias = vm::phys_to_virt(start);
        let round_trip = vm::translate(alias).is_some_and(|t| t.addr == start);
        if print {
            println!(
                "  {:>4} KiB aligned {:>4} KiB at {start:#010x}..{end:#010x}  aligned {}  contiguous {}  usable {}  disjoint {}  CPU alias {alias:#x} {}",
                (count as u64 * FRAME_SIZE) >> 10,
                align_bytes >> 10,
                yes(aligned),
                yes(sized),
                yes(usable),
                yes(disjoint),
                if round_trip {
                    "-> same frame"
                } else {
                    "-> WRONG"
                },
            );
        }
        if !(aligned && sized && usable && disjoint && round_trip) {
            return Err("a DMA buffer broke the allocator's promises");
        }
        runs.push(run);
    }
    let taken: u64 = runs.iter().map(FrameRange::size_bytes).sum();
    let free_during = memory::stats().free_bytes;
    // Free odd ones first, then even ones: the order must not matter.
    let order = (1..runs.len()).step_by(2).chain((0..runs.len()).step_by(2));
    for i in order {
        memory::deallocate_contiguous(runs[i]).map_err(|_| "freeing a DMA buffer failed")?;
    }
    let free_after = memory::stats().free_bytes;
    if print {
        println!(
            "  {} buffers, {} KiB taken ({} KiB free while held), all freed: {} KiB free again",
            runs.len(),
            taken >> 10,
            free_during >> 10,
            free_after >> 10
        );
    }
    if free_before - free_during != taken || free_after != free_before {
        return Err("free memory does not add up");
    }
    Ok(runs)
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "NO" }
}

fn refused_requests(regions: &[MemoryRegion]) -> Result<(), &'static str> {
    let run = memory::allocate_contiguous(4, 4).map_err(|_| "a small request failed")?;
    memory::deallocate_contiguous(run).map_err(|_| "freeing failed")?;
    match memory::deallocate_contiguous(run) {
        Err(e @ FrameFreeError::NotAllocated(_)) => {
            println!("double free of a buffer: refused: {e}")
        }
        other => {
            println!("double free of a buffer: {other:?}");
            return Err("a double free was not refused");
        }
    }

    let reserved = regions
        .iter()
        .find(|r| r.kind != RegionKind::Usable && r.end - r.start >= FRAME_SIZE)
        .ok_or("no reserved region in the memory map")?;
    let frame = PhysFrame::containing_address(reserved.start.align_up(FRAME_SIZE));
    match memory::deallocate_frame(frame) {
        Err(e @ FrameFreeError::NotManaged(_)) => {
            println!("freeing a {} frame: refused: {e}", reserved.kind);
        }
        other => {
            println!("freeing a {} frame: {other:?}", reserved.kind);
            return Err("freeing a reserved frame was not refused");
        }
    }

    match memory::allocate_contiguous(4, 3) {
        Err(e @ FrameAllocError::InvalidRequest { .. }) => println!("alignment 3: refused: {e}"),
        other => {
            println!("alignment 3: {other:?}");
            return Err("a non-power-of-two alignment was accepted");
        }
    }
    let too_many = (memory::stats().free_bytes / FRAME_SIZE + 1) as usize;
    match memory::allocate_contiguous(too_many, 1) {
        Err(e @ (FrameAllocError::NoContiguousRun { .. } | FrameAllocError::OutOfFrames)) => {
            println!("more than all free memory: refused: {e}");
        }
        other => {
            println!("more than all free memory: {other:?}");
            return Err("an impossible request was not refused");
        }
    }
    Ok(())
}
