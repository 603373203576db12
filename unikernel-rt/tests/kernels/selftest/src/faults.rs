//! Every fault is caught and reported: the harness passes a test that
//! expects the fault, and the report is printed before the verdict.

use core::hint::black_box;

#[unikernel::test]
fn breakpoint_returns_and_continues() {
    let mut x = black_box(1u64);
    // SAFETY: a breakpoint trap; the runtime reports it and resumes after it.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("int3");
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("ebreak");
    }
    x += 1;
    assert_eq!(black_box(x), 2);
}

#[unikernel::test(should_fault = "page_fault")]
fn null_read_is_a_page_fault_at_0() {
    // SAFETY: not safe at all: page 0 is unmapped and the read must fault.
    let v = unsafe { core::ptr::read_volatile(black_box(core::ptr::null::<u64>())) };
    black_box(v);
}

#[unikernel::test(should_fault = "illegal_instruction")]
fn illegal_instruction_is_reported() {
    // SAFETY: deliberately executes an undefined instruction.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("ud2");
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("unimp");
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let buf = black_box([depth; 64]);
    recurse(depth + 1) + buf[0]
}

#[unikernel::test(should_fault = "stack_overflow")]
fn stack_overflow_is_reported() {
    black_box(recurse(0));
}

static READ_ONLY: u64 = 7;

#[unikernel::test(should_fault = "page_fault")]
fn write_to_read_only_data_faults() {
    let p = black_box(core::ptr::addr_of!(READ_ONLY) as *mut u64);
    // SAFETY: not safe: the page is mapped read-only and the write must fault.
    unsafe { p.write_volatile(8) };
}

static mut DATA_CODE: [u8; 16] = [0; 16];

#[unikernel::test(should_fault = "page_fault")]
fn executing_data_faults() {
    let p = black_box(core::ptr::addr_of_mut!(DATA_CODE) as *const ());
    // SAFETY: not safe: data pages are never executable and the call must
    // fault before running a single byte.
    let f: extern "C" fn() = unsafe { core::mem::transmute(p) };
    f();
}

#[unikernel::test(should_fault = "page_fault")]
fn touching_the_guard_page_after_a_region_faults() {
    let region = unikernel::vm::Region::new(8192).expect("map a region");
    let past_end = (region.start().as_u64() + region.len()) as *const u8;
    // SAFETY: not safe: the page after a region is never mapped.
    black_box(unsafe { black_box(past_end).read_volatile() });
}

#[unikernel::test]
fn application_interrupt_handlers_run() {
    use core::sync::atomic::{AtomicUsize, Ordering};
    use unikernel::traps::{InterruptError, set_interrupt_handler};

    static HITS: AtomicUsize = AtomicUsize::new(0);
    static VECTOR: AtomicUsize = AtomicUsize::new(0);
    fn handler(vector: usize) {
        VECTOR.store(vector, Ordering::Relaxed);
        HITS.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(
        set_interrupt_handler(14, handler),
        Err(InterruptError::Reserved(14))
    );
    assert_eq!(
        set_interrupt_handler(32, handler),
        Err(InterruptError::Reserved(32))
    );
    assert_eq!(
        set_interrupt_handler(300, handler),
        Err(InterruptError::OutOfRange(300))
    );
    set_interrupt_handler(33, handler).expect("vector 33 belongs to the application");
    // SAFETY: raises the software interrupt whose handler was just installed.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        core::arch::asm!("int 33");
        #[cfg(target_arch = "riscv64")]
        core::arch::asm!("csrs sip, {0}", "nop", "nop", in(reg) 2usize);
    }
    // Delivery is immediate with interrupts on; allow a moment for the trap.
    let start = unikernel::time::now();
    while HITS.load(Ordering::Relaxed) == 0
        && unikernel::time::now() - start < core::time::Duration::from_millis(100)
    {
        core::hint::spin_loop();
    }
    assert_eq!(HITS.load(Ordering::Relaxed), 1);
    assert_eq!(VECTOR.load(Ordering::Relaxed), 33);
}
