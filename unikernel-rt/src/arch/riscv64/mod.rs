//! riscv64: boot on QEMU `virt` through OpenSBI.
//!
//! The runtime provides the entry code (stack, `.bss`), reads the device tree
//! for the console, the power-off device and the memory map, builds the frame
//! pool and heap from the usable RAM, and runs `main` on a stack of the
//! configured size.

mod entry;
mod paging;
mod sbi;
mod traps;
mod uart;

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use mem_core::paging::PageFlags;

use fdt::Fdt;
use mem_core::{FramePool, PhysAddr};
use spin::Once;

use crate::config::RuntimeConfig;
use crate::exit::Exit;
use traps::TrapFrame;

/// The mapper the runtime keeps for the kernel address space.
pub(crate) type KernelMapper = mem_riscv::Sv39Mapper;

/// Where things live in the Sv39 address space. The kernel image stays at
/// its physical address (0x8020_0000); the runtime's windows sit above it in
/// the lower half, and all of RAM is mapped at the start of the upper half.
pub(crate) mod layout {
    /// All of RAM, at physical address + this offset.
    pub(crate) const PHYS_OFFSET: u64 = 0xffff_ffc0_0000_0000;
    /// The heap grows up from here.
    pub(crate) const HEAP_START: u64 = 0x10_0000_0000;
    /// Stacks with guard pages.
    pub(crate) const STACKS_START: u64 = 0x20_0000_0000;
    /// Device memory mapped for applications.
    pub(crate) const MMIO_START: u64 = 0x28_0000_0000;
    /// Fresh regions mapped for applications.
    pub(crate) const REGIONS_START: u64 = 0x30_0000_0000;
    /// Size of each window (and the heap's maximum).
    pub(crate) const WINDOW_SIZE: u64 = 0x8_0000_0000;
}

/// The `sifive,test` device QEMU `virt` exits through (0 = not found).
static FINISHER: AtomicUsize = AtomicUsize::new(0);
const FINISHER_PASS: u32 = 0x5555;
const FINISHER_FAIL: u32 = 0x3333;

struct Boot {
    config: &'static RuntimeConfig,
    main: fn() -> Exit,
    stack_top: usize,
}
static BOOT: Once<Boot> = Once::new();

/// Interrupt "vectors" the runtime dispatches: 0-15 are the `scause`
/// interrupt codes (reserved for the runtime), 16 and up are external sources.
pub(crate) const INTERRUPT_VECTORS: usize = 64;
/// Everything up to here is a core-local interrupt the runtime owns.
pub(crate) const LAST_RESERVED_VECTOR: usize = 32;

/// Acknowledges an interrupt: core-local interrupts need no acknowledgement,
/// and external ones are not enabled by the runtime yet.
pub(crate) fn end_of_interrupt(_vector: usize) {}

/// The `time` CSR's frequency, from the device tree.
static TIMEBASE_HZ: AtomicU64 = AtomicU64::new(0);
static TIME_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static NEXT_TICK: AtomicU64 = AtomicU64::new(0);
static TICKING: AtomicBool = AtomicBool::new(false);
static CPUS: AtomicUsize = AtomicUsize::new(0);
static RAM_BYTES: AtomicU64 = AtomicU64::new(0);

const SCAUSE_SUPERVISOR_SOFTWARE: u64 = 1;
const SCAUSE_SUPERVISOR_TIMER: u64 = 5;
const SIE_SSIE: usize = 1 << 1;
const SIE_STIE: usize = 1 << 5;
/// The application-owned vector the supervisor software interrupt (set
/// `sip.SSIP`, or an SBI IPI) is delivered on.
pub(crate) const SOFTWARE_INTERRUPT_VECTOR: usize = 33;
const SSTATUS_SIE: usize = 1 << 1;

fn rdtime() -> u64 {
    let t: u64;
    // SAFETY: reading the `time` CSR has no side effect.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) t) };
    t
}

pub(crate) fn clock_now() -> Duration {
    let hz = TIMEBASE_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return Duration::ZERO;
    }
    crate::time::ticks_to_duration(rdtime() - TIME_AT_BOOT.load(Ordering::Relaxed), hz)
}

/// The current frame pointer (s0).
#[inline(always)]
pub(crate) fn frame_pointer() -> u64 {
    let fp: u64;
    // SAFETY: reads a register.
    unsafe { core::arch::asm!("mv {0}, s0", out(reg) fp, options(nomem, nostack)) };
    fp
}

/// One step up the frame chain: the frame pointer is the caller's stack
/// pointer, with the return address at `fp - 8` and the caller's frame pointer
/// at `fp - 16`. `None` if those words are not mapped.
pub(crate) fn unwind_frame(fp: u64) -> Option<(u64, u64)> {
    if fp < 16
        || !fp.is_multiple_of(8)
        || !crate::vm::is_mapped(fp - 16)
        || !crate::vm::is_mapped(fp - 8)
    {
        return None;
    }
    // SAFETY: both words are mapped (checked above) and only read.
    unsafe {
        Some((
            ((fp - 16) as *const u64).read(),
            ((fp - 8) as *const u64).read(),
        ))
    }
}

/// The image is linked at its load address.
pub(crate) fn image_load_bias() -> u64 {
    0
}

/// Unmasks supervisor interrupts (the runtime runs `main` with them on once
/// the tick is started).
pub(crate) fn enable_interrupts() {
    if ticking() {
        // SAFETY: the trap vector is installed; only enables delivery.
        unsafe { core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_SIE) };
    }
}

pub(crate) fn ticking() -> bool {
    TICKING.load(Ordering::Relaxed)
}

/// Waits for the next interrupt with interrupts enabled.
pub(crate) fn wait_for_interrupt() {
    // SAFETY: `wfi` only waits; SIE is on once the tick runs, so the tick
    // ends the wait.
    unsafe { core::arch::asm!("wfi") };
}

fn tick_period() -> u64 {
    (TIMEBASE_HZ.load(Ordering::Relaxed) / crate::time::TICK_HZ).max(1)
}

/// Starts the periodic tick and enables supervisor interrupts.
fn start_tick() {
    let next = rdtime() + tick_period();
    NEXT_TICK.store(next, Ordering::Relaxed);
    sbi::set_timer(next);
    TICKING.store(true, Ordering::Relaxed);
    // SAFETY: enables the timer and software interrupts, whose handlers are
    // installed.
    unsafe { core::arch::asm!("csrs sie, {0}", in(reg) SIE_STIE | SIE_SSIE) };
    enable_interrupts();
}

/// Handles an interrupt by its `scause` code.
fn interrupt(code: u64, frame: &TrapFrame) {
    if code == SCAUSE_SUPERVISOR_TIMER {
        // Schedule from the previous deadline, not from now, so ticks do not
        // drift; skip ticks that were missed entirely.
        let period = tick_period();
        let now = rdtime();
        let mut next = NEXT_TICK.load(Ordering::Relaxed) + period;
        if next <= now {
            next = now + period;
        }
        NEXT_TICK.store(next, Ordering::Relaxed);
        sbi::set_timer(next);
        crate::time::tick();
        return;
    }
    if code == SCAUSE_SUPERVISOR_SOFTWARE {
        // SAFETY: clearing SSIP acknowledges the software interrupt.
        unsafe { core::arch::asm!("csrc sip, {0}", in(reg) SIE_SSIE) };
        crate::traps::dispatch_interrupt(SOFTWARE_INTERRUPT_VECTOR, frame);
        return;
    }
    crate::traps::dispatch_interrupt(code as usize, frame);
}

/// Whether `addr` has a mapping (tells a permission fault from a missing page).
fn is_mapped(addr: u64) -> bool {
    crate::vm::is_mapped(addr)
}

pub(crate) fn console_write(bytes: &[u8]) {
    if !uart::write(bytes) {
        for &b in bytes {
            sbi::putchar(b);
        }
    }
}

pub(crate) fn without_interrupts<R>(f: impl FnOnce() -> R) -> R {
    let previous: usize;
    // SAFETY: clearing sstatus.SIE only masks supervisor interrupts.
    unsafe { core::arch::asm!("csrrc {0}, sstatus, {1}", out(reg) previous, in(reg) SSTATUS_SIE) };
    let r = f();
    if previous & SSTATUS_SIE != 0 {
        // SAFETY: restores the interrupt-enable state we found.
        unsafe { core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_SIE) };
    }
    r
}

/// Ends the run: through QEMU's test finisher (QEMU exits with 0 on pass and
/// with the given code on fail), else through SBI system reset.
pub(crate) fn exit(exit: Exit) -> ! {
    let finisher = FINISHER.load(Ordering::Relaxed);
    if finisher != 0 {
        let value = match exit {
            Exit::Success => FINISHER_PASS,
            Exit::Failure => FINISHER_FAIL | (1 << 16),
        };
        // SAFETY: the device tree named this a sifive,test device; writing
        // its register ends the machine.
        unsafe { (finisher as *mut u32).write_volatile(value) };
    }
    sbi::shutdown(exit == Exit::Failure);
    loop {
        // SAFETY: waiting for an interrupt has no other effect.
        unsafe { core::arch::asm!("wfi") };
    }
}

/// The runtime's entry, called from `_start` through the code
/// `#[unikernel::main]` generates.
pub fn start(hart_id: usize, dtb: usize, config: &'static RuntimeConfig, main: fn() -> Exit) -> ! {
    // SAFETY: OpenSBI passes the device tree's address in a1; it stays
    // untouched (the memory map reserves it) for the life of the kernel.
    let fdt = match unsafe { Fdt::from_ptr(dtb as *const u8) } {
        Ok(fdt) => fdt,
        Err(e) => crate::fatal(format_args!("invalid device tree at {dtb:#x}: {e:?}")),
    };
    init_devices(&fdt);
    read_platform(&fdt);
    traps::init();
    crate::logger::init(config.log_level());
    log::debug!(
        "hart {hart_id}, device tree at {dtb:#x} ({} bytes)",
        fdt.total_size()
    );

    // Only the addresses of these linker-script symbols are taken.
    let kernel = PhysAddr::new(core::ptr::addr_of!(entry::__kernel_start) as u64)
        ..PhysAddr::new(core::ptr::addr_of!(entry::__kernel_end) as u64);
    // SAFETY: as above, the blob lives at `dtb` for `total_size` bytes.
    let blob = unsafe { core::slice::from_raw_parts(dtb as *const u8, fdt.total_size()) };
    let (mut map, report) = match mem_riscv::dtb::memory_map_from_fdt(blob, kernel) {
        Ok(r) => r,
        Err(e) => crate::fatal(format_args!("cannot read memory from the device tree: {e}")),
    };
    log::info!("{report}");

    // The device tree is not mapped once paging is on: everything needed from
    // it was read above.
    let devices = [uart::base() as u64, FINISHER.load(Ordering::Relaxed) as u64];
    let paging = match paging::enable(&mut map, &devices) {
        Ok(p) => p,
        Err(e) => crate::fatal(format_args!("cannot turn on Sv39 paging: {e}")),
    };
    log::debug!("Sv39 paging on, root table {:?}", paging.mapper.root());
    crate::traps::register_stack_guard(paging.boot_stack_guard, paging.boot_stack_bottom);
    crate::traps::register_stack_guard(paging.trap_stack_guard, paging.trap_stack_bottom);

    // SAFETY: all RAM is mapped at PHYS_OFFSET now, and the usable regions
    // (the page tables were just reserved) are used by nothing else.
    let pool = match unsafe { FramePool::new_in_place(&map, layout::PHYS_OFFSET) } {
        Ok(pool) => pool,
        Err(e) => crate::fatal(format_args!("cannot build the frame allocator: {e}")),
    };
    crate::memory::install(pool, map, report);
    crate::vm::install(paging.mapper, layout::PHYS_OFFSET);

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

    let stack_top = match crate::vm::map_stack(config.stack_size()) {
        Ok(top) => top as usize,
        Err(e) => crate::fatal(format_args!("cannot map the main stack: {e}")),
    };
    if TIMEBASE_HZ.load(Ordering::Relaxed) == 0 {
        log::warn!("the device tree gives no timebase-frequency: no clock or tick");
    }
    crate::platform::set(crate::platform::Platform {
        arch: "riscv64",
        cpus: CPUS.load(Ordering::Relaxed),
        ram_bytes: RAM_BYTES.load(Ordering::Relaxed),
        firmware: crate::platform::Firmware::DeviceTree,
        boot: "OpenSBI",
    });
    BOOT.call_once(|| Boot {
        config,
        main,
        stack_top,
    });
    entry::switch_stack(stack_top, run_main)
}

/// Abandons the current stack and continues with `f` at the top of the main
/// stack (the test harness's recovery after a panicking or faulting test).
pub(crate) fn restart_main_stack(f: extern "C" fn() -> !) -> ! {
    let boot = BOOT.get().expect("restart before the main stack exists");
    // A trap handler may be what gave up on the test: make the next trap
    // start from the top of the trap stack again.
    traps::init();
    entry::switch_stack(boot.stack_top, f)
}

extern "C" fn run_main() -> ! {
    let boot = BOOT
        .get()
        .expect("boot state is set before the stack switch");
    if TIMEBASE_HZ.load(Ordering::Relaxed) != 0 {
        start_tick();
    }
    log::debug!(
        "running main on a {} KiB stack",
        boot.config.stack_size() >> 10
    );
    crate::run(boot.main)
}

fn init_devices(fdt: &Fdt<'_>) {
    let stdout = fdt.chosen().stdout();
    let uart = stdout
        .filter(|n| is_compatible(n, "ns16550a") || is_compatible(n, "ns16550"))
        .or_else(|| fdt.find_compatible(&["ns16550a", "ns16550"]));
    if let Some(node) = uart
        && let Some(region) = node.reg().and_then(|mut r| r.next())
    {
        let shift = node
            .property("reg-shift")
            .and_then(|p| p.as_usize())
            .unwrap_or(0) as u32;
        // SAFETY: the device tree describes a 16550 at this address, and the
        // runtime is its only driver.
        unsafe { uart::set(region.starting_address as usize, shift) };
    }
    if let Some(node) = fdt.find_compatible(&["sifive,test1", "sifive,test0"])
        && let Some(region) = node.reg().and_then(|mut r| r.next())
    {
        FINISHER.store(region.starting_address as usize, Ordering::Relaxed);
    }
}

/// Reads what the runtime needs from the device tree besides the memory map:
/// CPUs, RAM size and the timer frequency.
fn read_platform(fdt: &Fdt<'_>) {
    let cpus = fdt.cpus().count();
    CPUS.store(cpus, Ordering::Relaxed);
    let hz = fdt
        .find_node("/cpus")
        .and_then(|n| n.property("timebase-frequency"))
        .and_then(|p| p.as_usize())
        .or_else(|| {
            fdt.cpus()
                .find_map(|c| c.property("timebase-frequency")?.as_usize())
        })
        .unwrap_or(0) as u64;
    TIMEBASE_HZ.store(hz, Ordering::Relaxed);
    TIME_AT_BOOT.store(rdtime(), Ordering::Relaxed);
    let ram: u64 = fdt
        .all_nodes()
        .filter(|n| n.name == "memory" || n.name.starts_with("memory@"))
        .flat_map(|n| n.reg().into_iter().flatten())
        .map(|r| r.size.unwrap_or(0) as u64)
        .sum();
    RAM_BYTES.store(ram, Ordering::Relaxed);
}

fn is_compatible(node: &fdt::node::FdtNode<'_, '_>, name: &str) -> bool {
    node.compatible()
        .is_some_and(|c| c.all().any(|c| c == name))
}
