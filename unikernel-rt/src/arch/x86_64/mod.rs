//! x86_64: boot through the rust-osdev `bootloader` (BIOS or UEFI).
//!
//! The bootloader loads the kernel ELF with its segment permissions, maps all
//! of physical memory at an offset and hands over its memory map. From there
//! the runtime builds the frame pool, maps the heap and runs `main`.

mod acpi;
mod serial;
mod timer;
mod traps;

use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};
use mem_core::paging::PageFlags;
use mem_core::{FramePool, VirtAddr};
use mem_x86::OffsetMapper;

use crate::config::{PhysOffset, RuntimeConfig};
use crate::exit::Exit;

/// The mapper the runtime keeps for the kernel address space.
pub(crate) type KernelMapper = OffsetMapper;

/// Where the runtime puts things. The bootloader is told to place all of its
/// own mappings (kernel, stack, boot info, physical memory) in the upper half,
/// so the lower half is the runtime's to manage.
pub(crate) mod layout {
    /// The heap grows up from here.
    pub(crate) const HEAP_START: u64 = 0x0000_4000_0000_0000;
    /// Stacks with guard pages.
    pub(crate) const STACKS_START: u64 = 0x0000_5000_0000_0000;
    /// Device memory mapped for applications.
    pub(crate) const MMIO_START: u64 = 0x0000_6000_0000_0000;
    /// Fresh regions mapped for applications.
    pub(crate) const REGIONS_START: u64 = 0x0000_7000_0000_0000;
    /// Size of each window (and the heap's maximum).
    pub(crate) const WINDOW_SIZE: u64 = 0x0000_0800_0000_0000;
}

const UPPER_HALF: u64 = 0xffff_8000_0000_0000;

/// The bootloader configuration for a runtime configuration. `const` so the
/// entry macro can place it in the `.bootloader-config` section.
pub const fn bootloader_config(config: &RuntimeConfig) -> BootloaderConfig {
    let mut c = BootloaderConfig::new_default();
    c.mappings.physical_memory = Some(match config.physical_memory_offset {
        PhysOffset::Fixed(addr) => Mapping::FixedAddress(addr),
        PhysOffset::Default | PhysOffset::Dynamic => Mapping::Dynamic,
    });
    c.mappings.dynamic_range_start = Some(UPPER_HALF);
    c.kernel_stack_size = config.stack_size();
    c
}

/// Vectors applications may own: 33 up to (not including) the APIC's
/// spurious vector, the last one the IDT serves.
pub(crate) const INTERRUPT_VECTORS: usize = timer::SPURIOUS_VECTOR as usize;
/// Vector 32 is the runtime's timer.
pub(crate) const LAST_RESERVED_VECTOR: usize = 32;

/// Acknowledges an interrupt at the local APIC.
pub(crate) fn end_of_interrupt(_vector: usize) {
    timer::end_of_interrupt();
}

pub(crate) fn clock_now() -> core::time::Duration {
    timer::now()
}

/// Unmasks interrupts (the runtime runs `main` with them on).
pub(crate) fn enable_interrupts() {
    x86_64::instructions::interrupts::enable();
}

/// The current frame pointer.
#[inline(always)]
pub(crate) fn frame_pointer() -> u64 {
    let fp: u64;
    // SAFETY: reads a register.
    unsafe { core::arch::asm!("mov {0}, rbp", out(reg) fp, options(nomem, nostack)) };
    fp
}

/// One step up the frame chain: `[fp]` holds the caller's frame pointer and
/// `[fp + 8]` the return address. `None` if those words are not mapped.
pub(crate) fn unwind_frame(fp: u64) -> Option<(u64, u64)> {
    if fp == 0
        || !fp.is_multiple_of(8)
        || !crate::vm::is_mapped(fp)
        || !crate::vm::is_mapped(fp + 8)
    {
        return None;
    }
    // SAFETY: both words are mapped (checked above) and only read.
    unsafe { Some(((fp as *const u64).read(), ((fp + 8) as *const u64).read())) }
}

/// Where the position-independent image was loaded: the address of its ELF
/// header, whose link-time address is 0.
pub(crate) fn image_load_bias() -> u64 {
    unsafe extern "C" {
        static __ehdr_start: u8;
    }
    core::ptr::addr_of!(__ehdr_start) as u64
}

pub(crate) fn ticking() -> bool {
    timer::ticking()
}

/// Halts until the next interrupt, with interrupts enabled (atomically, so a
/// tick between the check and the halt is not lost).
pub(crate) fn wait_for_interrupt() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

pub(crate) fn console_write(bytes: &[u8]) {
    serial::write(bytes);
}

pub(crate) fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(f)
}

/// Ends the QEMU run through the `isa-debug-exit` device at port 0xf4: QEMU
/// exits with `(value << 1) | 1`, so 0x10 → 33 (success) and 0x11 → 35.
pub(crate) fn exit(exit: Exit) -> ! {
    let value: u32 = match exit {
        Exit::Success => 0x10,
        Exit::Failure => 0x11,
    };
    // SAFETY: port 0xf4 is the isa-debug-exit device `cargo unikernel`
    // configures; on a machine without it the write is ignored.
    unsafe { x86_64::instructions::port::Port::<u32>::new(0xf4).write(value) };
    // Without that device (a plain VM), power off through ACPI; the status is
    // then lost, which the console output already told.
    if let Some(info) = ACPI.get() {
        acpi::power_off(info);
    }
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// The runtime's entry, called by the bootloader through the code
/// `#[unikernel::main]` generates.
pub fn start(
    boot_info: &'static mut BootInfo,
    config: &'static RuntimeConfig,
    main: fn() -> Exit,
) -> ! {
    serial::init();
    traps::init();
    timer::init_clock();
    crate::logger::init(config.log_level());

    let Some(phys_offset) = boot_info.physical_memory_offset.into_option() else {
        crate::fatal(format_args!(
            "the bootloader did not map physical memory (BootloaderConfig.mappings.physical_memory)"
        ));
    };
    log::debug!("physical memory mapped at {phys_offset:#x}");

    let uefi = boot_info.memory_regions.iter().any(|r| {
        matches!(
            r.kind,
            bootloader_api::info::MemoryRegionKind::UnknownUefi(_)
        )
    });
    let (map, report) = mem_x86::regions::memory_map_from_bootloader(&boot_info.memory_regions);
    log::info!("{report}");
    // SAFETY: the bootloader maps all physical memory at `phys_offset`, and
    // the usable regions of its map are not used by anything else.
    let pool = match unsafe { FramePool::new_in_place(&map, phys_offset) } {
        Ok(pool) => pool,
        Err(e) => crate::fatal(format_args!("cannot build the frame allocator: {e}")),
    };

    // SAFETY: the bootloader left its level-4 table active and all physical
    // memory mapped at `phys_offset`; from now on only `vm` edits the tables.
    let mapper = unsafe { OffsetMapper::from_active(VirtAddr::new(phys_offset)) };
    crate::memory::install(pool, map, report);
    crate::vm::install(mapper, phys_offset);
    if let Err(e) = traps::guard_ist_stacks() {
        crate::fatal(format_args!(
            "cannot unmap the guard pages of the fault stacks: {e}"
        ));
    }
    // The bootloader puts a guard page below the boot stack; check rather
    // than trust it, and let an overflow during boot be reported as such.
    let here = 0u8;
    let sp = core::ptr::addr_of!(here) as u64;
    match crate::vm::guard_below(sp, config.stack_size() + 0x10_0000) {
        Some(guard) => crate::traps::register_stack_guard(guard, guard + mem_core::FRAME_SIZE),
        None => log::warn!("no guard page found below the boot stack"),
    }

    let heap_size = config.heap_size();
    if let Err(e) = crate::vm::map_fresh(layout::HEAP_START, heap_size, PageFlags::RW) {
        crate::fatal(format_args!("cannot map the {heap_size}-byte heap: {e}"));
    }
    let limit = config
        .heap_limit(crate::memory::stats().usable_bytes)
        .min(layout::WINDOW_SIZE);
    // SAFETY: the heap range was just mapped writable for the heap alone, and
    // the heap window after it is reserved for its growth.
    unsafe { crate::heap::init(layout::HEAP_START as *mut u8, heap_size as usize, limit) };

    // The bootloader's stack has a guard page too, but its address is not
    // handed over; `main` runs on a stack whose guard the runtime knows.
    let stack_top = match crate::vm::map_stack(config.stack_size()) {
        Ok(top) => top,
        Err(e) => crate::fatal(format_args!("cannot map the main stack: {e}")),
    };
    let acpi =
        boot_info
            .rsdp_addr
            .into_option()
            .and_then(|rsdp| match acpi::read(rsdp, phys_offset) {
                Ok(info) => {
                    log::info!("{info}");
                    log::debug!(
                        "APIC ids {:?}; I/O APICs {:?}",
                        info.apic_ids(),
                        info.io_apics()
                    );
                    Some(ACPI.call_once(|| info))
                }
                Err(e) => {
                    log::warn!("cannot read the ACPI tables: {e}");
                    None
                }
            });
    if acpi.is_none() {
        log::warn!("no ACPI tables: assuming one CPU and a legacy PIC");
    }
    // Machines that say they have no 8259 must not have its ports poked.
    if let Err(e) = timer::init_tick(acpi.is_none_or(|a| a.has_8259)) {
        log::warn!("no timer tick (sleep will spin): cannot map the local APIC: {e}");
    }
    crate::platform::set(crate::platform::Platform {
        arch: "x86_64",
        cpus: acpi.map_or(1, |a| a.cpus),
        ram_bytes: cmos_ram_bytes().unwrap_or(crate::memory::stats().usable_bytes),
        firmware: crate::platform::Firmware::Acpi {
            revision: acpi.map_or(0, |a| a.revision),
        },
        boot: if uefi { "UEFI" } else { "BIOS" },
    });
    BOOT.call_once(|| Boot { main, stack_top });
    switch_stack(stack_top, run_main)
}

/// The firmware tables, kept for powering off.
static ACPI: spin::Once<acpi::AcpiInfo> = spin::Once::new();

struct Boot {
    main: fn() -> Exit,
    stack_top: u64,
}
static BOOT: spin::Once<Boot> = spin::Once::new();

/// Abandons the current stack and continues with `f` at the top of the main
/// stack (the test harness's recovery after a panicking or faulting test).
pub(crate) fn restart_main_stack(f: extern "C" fn() -> !) -> ! {
    let boot = BOOT.get().expect("restart before the main stack exists");
    switch_stack(boot.stack_top, f)
}

/// Continues on the runtime's own stack, whose guard page we know (the
/// bootloader's stack is only used for boot).
fn switch_stack(top: u64, f: extern "C" fn() -> !) -> ! {
    // SAFETY: `top` is the end of the freshly mapped stack, 16-byte aligned;
    // `run_main` never returns, so nothing on the old stack is used again.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {f}",
            "ud2",
            top = in(reg) top,
            f = in(reg) f,
            options(noreturn)
        )
    }
}

extern "C" fn run_main() -> ! {
    let boot = BOOT
        .get()
        .expect("boot state is set before the stack switch");
    crate::run(boot.main)
}

/// Installed RAM as QEMU (and PC firmware) records it in CMOS: 1 MiB-16 MiB
/// in KiB at 0x30/0x31, 16 MiB-4 GiB in 64 KiB blocks at 0x34/0x35, above
/// 4 GiB in 64 KiB blocks at 0x5b-0x5d. The memory map cannot give this
/// exactly, because firmware leaves holes (the VGA window, ROMs) undescribed.
fn cmos_ram_bytes() -> Option<u64> {
    let read = |reg: u8| -> u64 {
        // SAFETY: ports 0x70/0x71 are the CMOS index and data registers;
        // bit 7 of the index keeps NMIs disabled while we read.
        unsafe {
            x86_64::instructions::port::Port::<u8>::new(0x70).write(0x80 | reg);
            u64::from(x86_64::instructions::port::Port::<u8>::new(0x71).read())
        }
    };
    let below_16m = (read(0x30) | read(0x31) << 8) << 10;
    let below_4g = (read(0x34) | read(0x35) << 8) << 16;
    let above_4g = (read(0x5b) | read(0x5c) << 8 | read(0x5d) << 16) << 16;
    if below_16m == 0 {
        return None;
    }
    let total = if below_4g > 0 {
        (16 << 20) + below_4g
    } else {
        (1 << 20) + below_16m
    };
    Some(total + above_4g)
}
