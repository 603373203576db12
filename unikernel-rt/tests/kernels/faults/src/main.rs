//! Triggers one fault, chosen by a cargo feature, outside any test harness:
//! the runtime must report it (address and access type) and fail the run.
#![no_std]
#![no_main]

use core::hint::black_box;

use unikernel::vm::VirtAddr;

static READ_ONLY: u64 = 7;
static mut DATA: [u8; 16] = [0; 16];

#[unikernel::main(stack_size = "64 KiB")]
fn main() {
    unikernel::println!("about to fault");
    if cfg!(feature = "write-read-only") {
        let p = black_box(core::ptr::addr_of!(READ_ONLY) as *mut u64);
        // SAFETY: not safe: the page is read-only and the write must fault.
        unsafe { p.write_volatile(8) };
    }
    if cfg!(feature = "execute-data") {
        let p = black_box(core::ptr::addr_of_mut!(DATA) as *const ());
        // SAFETY: not safe: data pages are never executable.
        let f: extern "C" fn() = unsafe { core::mem::transmute(p) };
        f();
    }
    if cfg!(feature = "guard-page") {
        // The page right below the 64 KiB main stack, which starts at or
        // below this local: walk down until the mapping ends, then touch it.
        let here = 0u8;
        let mut page = black_box(core::ptr::addr_of!(here) as u64) & !0xfff;
        while unikernel::vm::translate(VirtAddr::new(page - 0x1000)).is_some() {
            page -= 0x1000;
        }
        // SAFETY: not safe: this is the unmapped guard page.
        black_box(unsafe { ((page - 8) as *const u64).read_volatile() });
    }
    unikernel::println!("survived: no fault happened");
}
