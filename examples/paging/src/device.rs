//! A device register with a known value, read through `vm::map_mmio`.

use mem_core::PhysAddr;
use unikernel::println;
use unikernel::vm::{self, Mmio, PageFlags, VmError};

use crate::Rwx;

/// Maps the arch's identifiable device and prints what its registers say.
pub fn show() -> Result<(), VmError> {
    let mmio = read_registers()?;
    let t = vm::translate(mmio.start()).expect("a fresh MMIO mapping is mapped");
    println!(
        "  mapped at {:#x} -> {:#x} ({})",
        mmio.start(),
        t.addr,
        Rwx(t.flags)
    );
    assert_eq!(t.addr, mmio.phys(), "the mapping points at the device");
    assert!(
        t.flags.contains(PageFlags::MMIO) && !t.flags.contains(PageFlags::EXECUTE),
        "device memory must be uncached and never executable: {}",
        t.flags
    );
    println!("  flags {}, never executable", t.flags & PageFlags::MMIO);
    Ok(())
}

/// The local APIC (xAPIC mode, where the runtime runs its timer): the version
/// register at 0x30 holds the version in bits 0..8 and the highest LVT entry
/// index in bits 16..24; the id register at 0x20 holds the APIC id in bits
/// 24..32 (0 for the boot CPU under QEMU).
#[cfg(target_arch = "x86_64")]
fn read_registers() -> Result<Mmio, VmError> {
    const LAPIC: u64 = 0xfee0_0000;
    let apic = vm::map_mmio(PhysAddr::new(LAPIC), 0x1000)?;
    let version = apic.read_u32(0x30);
    let id = apic.read_u32(0x20) >> 24;
    println!(
        "device: local APIC at {LAPIC:#x}: version register {version:#010x} (version {:#x}, {} LVT entries), APIC id {id}",
        version & 0xff,
        ((version >> 16) & 0xff) + 1
    );
    Ok(apic)
}

/// QEMU `virt`: the first virtio-mmio slot's magic value register (offset 0)
/// reads "virt" in little-endian ASCII whether or not a device is attached,
/// and the 16550 UART's scratch register (offset 7) keeps what was written.
#[cfg(target_arch = "riscv64")]
fn read_registers() -> Result<Mmio, VmError> {
    const VIRTIO0: u64 = 0x1000_1000;
    const UART0: u64 = 0x1000_0000;
    let virtio = vm::map_mmio(PhysAddr::new(VIRTIO0), 0x200)?;
    let magic = virtio.read_u32(0);
    let bytes = magic.to_le_bytes();
    let text = core::str::from_utf8(&bytes).unwrap_or("????");

    // The console uses the same UART through its own mapping; the scratch
    // register is the one it never touches.
    let uart = vm::map_mmio(PhysAddr::new(UART0), 8)?;
    let previous = uart.read_u8(7);
    uart.write_u8(7, 0xa5);
    let read_back = uart.read_u8(7);
    uart.write_u8(7, previous);
    println!(
        "device: virtio-mmio at {VIRTIO0:#x}: magic {magic:#010x} {text:?}, UART scratch register wrote 0xa5 read {read_back:#04x}"
    );
    Ok(virtio)
}
