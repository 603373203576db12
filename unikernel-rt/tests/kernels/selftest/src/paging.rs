//! The kernel address space: W^X layout and new mappings.

use mem_core::VirtAddr;
use unikernel::vm::{self, PageFlags};

fn flags_of(addr: u64) -> PageFlags {
    vm::translate(VirtAddr::new(addr))
        .unwrap_or_else(|| panic!("{addr:#x} is not mapped"))
        .flags
}

fn assert_wx(name: &str, addr: u64, expect: PageFlags, forbid: PageFlags) {
    let flags = flags_of(addr);
    unikernel::println!("{name} at {addr:#x}: {flags}");
    assert!(flags.contains(expect), "{name} lacks {expect}: {flags}");
    assert!(!flags.intersects(forbid), "{name} has {forbid}: {flags}");
    assert!(
        !flags.is_writable_executable(),
        "{name} is writable and executable"
    );
}

static RODATA: [u8; 4] = *b"ro!!";
static mut DATA: u64 = 1;

#[unikernel::test]
fn kernel_is_mapped_write_xor_execute() {
    let text = kernel_is_mapped_write_xor_execute as *const () as u64;
    assert_wx("text", text, PageFlags::RX, PageFlags::WRITE);
    assert_wx(
        "rodata",
        RODATA.as_ptr() as u64,
        PageFlags::READ,
        PageFlags::WRITE | PageFlags::EXECUTE,
    );
    assert_wx(
        "data",
        core::ptr::addr_of!(DATA) as u64,
        PageFlags::RW,
        PageFlags::EXECUTE,
    );
    let local = 0u64;
    assert_wx(
        "stack",
        core::ptr::addr_of!(local) as u64,
        PageFlags::RW,
        PageFlags::EXECUTE,
    );
    let boxed = alloc::boxed::Box::new(0u64);
    assert_wx(
        "heap",
        &*boxed as *const u64 as u64,
        PageFlags::RW,
        PageFlags::EXECUTE,
    );
}

#[unikernel::test]
fn a_new_mapping_shows_the_same_bytes_through_the_direct_map() {
    let mut region = vm::Region::new(3 * 4096).expect("map a region");
    for (i, b) in region.as_mut_slice().iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    for page in 0..3u64 {
        let virt = region.start().as_u64() + page * 4096 + 123;
        let t = vm::translate(VirtAddr::new(virt)).expect("region is mapped");
        assert!(!t.flags.contains(PageFlags::EXECUTE));
        let alias = vm::phys_to_virt(t.addr).as_ptr::<u8>();
        // SAFETY: the direct map covers all RAM; the frame is ours (the region
        // is alive) and only read here.
        let byte = unsafe { alias.read_volatile() };
        assert_eq!(byte, ((page * 4096 + 123) % 251) as u8);
    }
}

#[unikernel::test]
fn dropping_a_region_returns_its_frames() {
    let before = unikernel::memory::stats().free_bytes;
    let region = vm::Region::new(64 * 4096).expect("map a region");
    assert!(unikernel::memory::stats().free_bytes <= before - 64 * 4096);
    let start = region.start();
    drop(region);
    assert!(vm::translate(start).is_none());
    // Page tables created for the region may stay; the frames come back.
    assert!(unikernel::memory::stats().free_bytes + 4 * 4096 >= before);
}

#[unikernel::test]
fn usable_ram_cannot_be_mapped_as_a_device() {
    let ram = unikernel::memory::regions()
        .find(|r| r.kind == unikernel::memory::RegionKind::Usable)
        .expect("some usable RAM");
    let err = vm::map_mmio(ram.start, 4096).expect_err("RAM must be refused");
    assert!(matches!(err, vm::VmError::NotDeviceMemory { .. }), "{err}");
}
