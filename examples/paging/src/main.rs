//! The kernel's address space, shown through the safe `vm` API:
//!
//! 1. a device's registers mapped with `vm::map_mmio` and read (x86_64: the
//!    local APIC's version register; riscv64: the virtio-mmio magic value and
//!    the UART's scratch register);
//! 2. usable RAM refused as device memory, with the typed error;
//! 3. a fresh `vm::Region`: its translations (virtual → physical, flags, page
//!    size), the unmapped page after it, and its frames coming back on drop;
//! 4. the W^X layout of the kernel image, heap and stack;
//! 5. the main stack's extent and the unmapped guard page below it.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod device;

use core::sync::atomic::{AtomicU64, Ordering};

use mem_core::{FRAME_SIZE, PhysAddr, VirtAddr};
use unikernel::memory::{self, RegionKind};
use unikernel::println;
use unikernel::vm::{self, PageFlags, Translation, VmError};

/// Must match `stack_size` below: the stack walk checks it.
const STACK_SIZE: u64 = 64 << 10;

#[unikernel::main(stack_size = "64 KiB")]
fn main() -> Result<(), VmError> {
    device::show()?;
    ram_is_not_a_device()?;
    fresh_region()?;
    write_xor_execute();
    guarded_stack();
    Ok(())
}

/// `rwx` notation for the flags that matter to a program.
struct Rwx(PageFlags);

impl core::fmt::Display for Rwx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let bit = |flag, c| if self.0.contains(flag) { c } else { '-' };
        write!(
            f,
            "{}{}{}",
            bit(PageFlags::READ, 'r'),
            bit(PageFlags::WRITE, 'w'),
            bit(PageFlags::EXECUTE, 'x')
        )
    }
}

/// `phys rwx size` of a translation, for the tables this example prints.
fn describe(t: &Translation) -> alloc::string::String {
    alloc::format!("{:#x} {} {}KiB", t.addr, Rwx(t.flags), t.size.bytes() >> 10)
}

fn ram_is_not_a_device() -> Result<(), VmError> {
    let ram = memory::regions()
        .find(|r| r.kind == RegionKind::Usable)
        .expect("the runtime found usable RAM, or main would not run");
    match vm::map_mmio(ram.start, FRAME_SIZE) {
        Err(e @ VmError::NotDeviceMemory { .. }) => {
            println!("RAM as a device: refused: {e}");
            Ok(())
        }
        Err(other) => Err(other),
        Ok(mapping) => panic!("usable RAM at {:#x} was mapped as MMIO", mapping.phys()),
    }
}

fn in_usable_ram(addr: PhysAddr) -> bool {
    memory::regions().any(|r| r.kind == RegionKind::Usable && r.start <= addr && addr < r.end)
}

fn fresh_region() -> Result<(), VmError> {
    const PAGES: u64 = 4;
    let mut region = vm::Region::new(PAGES * FRAME_SIZE)?;
    let start = region.start();

    let mut frames = alloc::vec::Vec::new();
    for page in 0..PAGES {
        let t = vm::translate(start + page * FRAME_SIZE).expect("a live region is mapped");
        assert!(
            !t.flags.contains(PageFlags::EXECUTE),
            "data must not be executable"
        );
        assert!(in_usable_ram(t.addr), "{:#x} is not usable RAM", t.addr);
        frames.push(t);
    }
    let mut distinct: alloc::vec::Vec<_> = frames.iter().map(|t| t.frame_start()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    println!(
        "region: {PAGES} pages at {start:#x}, {} distinct frames, all in usable RAM",
        distinct.len()
    );
    for (page, t) in frames.iter().enumerate() {
        let virt = start + page as u64 * FRAME_SIZE;
        println!("  page {page} {virt:#x} -> {}", describe(t));
    }
    // Regions are separated by an unmapped page, so an overrun faults
    // instead of running into the next one.
    let past_end = start + region.len();
    match vm::translate(past_end) {
        None => println!("  past the end {past_end:#x} -> unmapped"),
        Some(t) => panic!("the page after a region is mapped: {}", describe(&t)),
    }

    for (i, b) in region.as_mut_slice().iter_mut().enumerate() {
        *b = i as u8;
    }
    let sum: u64 = region.as_slice().iter().map(|&b| u64::from(b)).sum();
    println!(
        "  contents: {} bytes written and read back, sum {sum}",
        region.len()
    );

    let free_while_mapped = memory::stats().free_bytes;
    drop(region);
    let returned = (memory::stats().free_bytes - free_while_mapped) / FRAME_SIZE;
    assert!(returned >= PAGES, "only {returned} frames came back");
    match vm::translate(start) {
        // Tables left empty by the unmap are freed too.
        None => println!(
            "  dropped: {start:#x} -> unmapped, {returned} frames returned ({PAGES} data, {} page tables)",
            returned - PAGES
        ),
        Some(t) => panic!("a dropped region is still mapped: {}", describe(&t)),
    }
    Ok(())
}

static RODATA: [u8; 8] = *b"rodata!!";
/// Interior mutability puts this in the writable data section.
static DATA: AtomicU64 = AtomicU64::new(1);

fn write_xor_execute() {
    let heap_value = alloc::boxed::Box::new(DATA.fetch_add(1, Ordering::Relaxed));
    let local = 0u64;
    let parts: [(&str, u64, PageFlags, PageFlags); 5] = [
        (
            "text",
            write_xor_execute as fn() as usize as u64,
            PageFlags::RX,
            PageFlags::WRITE,
        ),
        (
            "rodata",
            RODATA.as_ptr() as u64,
            PageFlags::READ,
            PageFlags::WRITE | PageFlags::EXECUTE,
        ),
        (
            "data",
            core::ptr::from_ref(&DATA) as u64,
            PageFlags::RW,
            PageFlags::EXECUTE,
        ),
        (
            "heap",
            core::ptr::from_ref(&*heap_value) as u64,
            PageFlags::RW,
            PageFlags::EXECUTE,
        ),
        (
            "stack",
            core::ptr::from_ref(&local) as u64,
            PageFlags::RW,
            PageFlags::EXECUTE,
        ),
    ];
    let mut line = alloc::string::String::from("layout:");
    for (i, (name, addr, must, must_not)) in parts.iter().enumerate() {
        let flags = vm::translate(VirtAddr::new(*addr))
            .unwrap_or_else(|| panic!("{name} at {addr:#x} is not mapped"))
            .flags;
        assert!(flags.contains(*must), "{name} lacks {must}: {flags}");
        assert!(
            !flags.intersects(*must_not),
            "{name} has {must_not}: {flags}"
        );
        let sep = if i == 0 { " " } else { ", " };
        line.push_str(&alloc::format!("{sep}{name} {}", Rwx(flags)));
    }
    println!("{line}: W^X holds");
}

/// Finds the main stack's extent from a local variable by walking the page
/// tables down and up until a page is unmapped.
fn guarded_stack() {
    let local = 0u8;
    let here = VirtAddr::new(core::ptr::from_ref(&local) as u64).align_down(FRAME_SIZE);
    let mapped = |page: VirtAddr| vm::translate(page).map(|t| t.flags);

    let mut bottom = here;
    while mapped(bottom - FRAME_SIZE).is_some() {
        bottom -= FRAME_SIZE;
    }
    let mut top = here + FRAME_SIZE;
    while mapped(top).is_some() {
        top += FRAME_SIZE;
    }
    let guard = bottom - FRAME_SIZE;
    let flags = mapped(bottom).expect("the stack's lowest page is mapped");
    assert_eq!(
        top - bottom,
        STACK_SIZE,
        "the stack is not the configured size"
    );
    assert!(mapped(guard).is_none());
    println!(
        "stack: {} KiB mapped {} from {bottom:#x} to {top:#x}, guard page {guard:#x} unmapped",
        (top - bottom) >> 10,
        Rwx(flags)
    );
}
