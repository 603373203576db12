//! x86_64: boot through the rust-osdev `bootloader` (BIOS or UEFI).
//!
//! The bootloader loads the kernel ELF with its segment permissions, maps all
//! of physical memory at an offset and hands over its memory map. From there
//! the runtime builds the frame pool, maps the heap and runs `main`.

mod serial;
mod traps;

use bootloader_api::BootInfo;
use bootloader_api::config::{BootloaderConfig, Mapping};
use mem_core::paging::{Mapper, PageFlags};
use mem_core::{FrameAllocator, FramePool, Page, PageRange, VirtAddr};
use mem_x86::OffsetMapper;

use crate::config::{PhysOffset, RuntimeConfig};
use crate::exit::Exit;

/// Virtual address of the heap. The bootloader is told to place all of its
/// own mappings (kernel, stack, boot info, physical memory) in the upper half,
/// so the lower half is the runtime's to manage.
pub(crate) const HEAP_START: u64 = 0x0000_4000_0000_0000;
/// Virtual address of the main stack's guard page; the stack follows it.
const STACK_GUARD: u64 = 0x0000_5000_0000_0000;
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

/// Vectors the IDT serves; applications may own 33 and up.
pub(crate) const INTERRUPT_VECTORS: usize = traps::VECTORS;
/// Vector 32 is the runtime's timer.
pub(crate) const LAST_RESERVED_VECTOR: usize = 32;

/// Acknowledges an interrupt. Interrupts stay masked until the runtime's
/// interrupt controller support is enabled, so no controller needs an EOI yet.
pub(crate) fn end_of_interrupt(_vector: usize) {}

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
    // configures; on a machine without it the write is ignored and we halt.
    unsafe { x86_64::instructions::port::Port::<u32>::new(0xf4).write(value) };
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
    crate::logger::init(config.log_level());

    let Some(phys_offset) = boot_info.physical_memory_offset.into_option() else {
        crate::fatal(format_args!(
            "the bootloader did not map physical memory (BootloaderConfig.mappings.physical_memory)"
        ));
    };
    log::debug!("physical memory mapped at {phys_offset:#x}");

    let (map, report) = mem_x86::regions::memory_map_from_bootloader(&boot_info.memory_regions);
    log::info!("{report}");
    // SAFETY: the bootloader maps all physical memory at `phys_offset`, and
    // the usable regions of its map are not used by anything else.
    let pool = match unsafe { FramePool::new_in_place(&map, phys_offset) } {
        Ok(pool) => pool,
        Err(e) => crate::fatal(format_args!("cannot build the frame allocator: {e}")),
    };
    crate::memory::install(pool, map.usable_bytes());

    // SAFETY: the bootloader left its level-4 table active and all physical
    // memory mapped at `phys_offset`; nothing else edits the tables now.
    let mut mapper = unsafe { OffsetMapper::from_active(VirtAddr::new(phys_offset)) };
    let heap_size = config.heap_size();
    crate::memory::with_frames(|frames| {
        map_writable(&mut mapper, frames, HEAP_START, heap_size, "heap")
    });
    // SAFETY: `map_heap` just mapped `heap_size` bytes at HEAP_START, writable,
    // and nothing else uses that range.
    unsafe { crate::heap::init(HEAP_START as *mut u8, heap_size as usize) };

    let stack_size = config.stack_size().div_ceil(mem_core::FRAME_SIZE) * mem_core::FRAME_SIZE;
    let bottom = STACK_GUARD + mem_core::FRAME_SIZE;
    crate::memory::with_frames(|frames| {
        map_writable(&mut mapper, frames, bottom, stack_size, "stack")
    });
    crate::traps::register_stack_guard(STACK_GUARD, bottom);
    BOOT.call_once(|| main);
    switch_stack(bottom + stack_size)
}

static BOOT: spin::Once<fn() -> Exit> = spin::Once::new();

/// Continues on the runtime's own stack, whose guard page we know (the
/// bootloader's stack is only used for boot).
fn switch_stack(top: u64) -> ! {
    // SAFETY: `top` is the end of the freshly mapped stack, 16-byte aligned;
    // `run_main` never returns, so nothing on the old stack is used again.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "xor ebp, ebp",
            "call {f}",
            "ud2",
            top = in(reg) top,
            f = sym run_main,
            options(noreturn)
        )
    }
}

extern "C" fn run_main() -> ! {
    let main = *BOOT
        .get()
        .expect("boot state is set before the stack switch");
    crate::run(main)
}

/// Maps `size` bytes at `start` to fresh frames, writable and not executable.
fn map_writable(
    mapper: &mut OffsetMapper,
    frames: &mut FramePool<'static>,
    start: u64,
    size: u64,
    what: &str,
) {
    let Some(pages) = PageRange::from_start_len(
        Page::containing_address(VirtAddr::new(start)),
        size.div_ceil(mem_core::FRAME_SIZE),
    ) else {
        crate::fatal(format_args!(
            "{what} size {size:#x} overflows the address space"
        ));
    };
    for page in pages {
        let frame = match frames.allocate_frame() {
            Ok(f) => f,
            Err(e) => crate::fatal(format_args!(
                "cannot map a {size}-byte {what}: {e} ({} frames free)",
                frames.free_frames()
            )),
        };
        // SAFETY: the heap and stack ranges are in the lower half, which the bootloader
        // leaves empty (all its mappings are in the upper half), and `frame`
        // was just allocated, so no other mapping aliases it.
        match unsafe { mapper.map(page, frame, PageFlags::READ | PageFlags::WRITE, frames) } {
            Ok(flush) => flush.flush(),
            Err(e) => crate::fatal(format_args!("cannot map {what} page {page:?}: {e}")),
        }
    }
}
