//! Procedural macros for `unikernel-rt`: [`#[unikernel::main]`](macro@main)
//! and [`#[unikernel::test]`](macro@test).
//!
//! Use them through the runtime (`unikernel::main`, `unikernel::test`): the
//! expansions refer to `::unikernel::__private`, which only the runtime
//! provides. Both macros check their input completely and report every
//! problem at once, each at the token it concerns.
#![deny(missing_docs)]

mod args;
mod expand;
mod main_attr;
mod signature;
mod test_attr;
mod units;

use proc_macro::TokenStream;

/// Marks the application's entry point: the runtime boots the machine (serial
/// console, logger, heap, panic handler), calls this function, and ends the
/// run with its outcome.
///
/// ```ignore
/// #![no_std]
/// #![no_main]
/// extern crate alloc;
///
/// #[unikernel::main(heap_size = "64 MiB", log_level = "debug")]
/// fn main() {
///     let v: alloc::vec::Vec<u64> = (0..1000).collect();
///     unikernel::println!("hello, sum = {}", v.iter().sum::<u64>());
/// }
/// ```
///
/// # Accepted functions
///
/// | signature | outcome |
/// |---|---|
/// | `fn main()` | returning is success |
/// | `fn main() -> Result<(), E>` with `E: Debug` | `Ok(())` is success; `Err(e)` prints `e` and is a failure |
/// | `fn main() -> !` | never returns; the run ends when the application shuts down |
///
/// The `Result` may be written with any path whose last segment is `Result`
/// (`core::result::Result<(), E>`, or an alias such as `io::Result<()>`);
/// the runtime's `MainReturn` trait checks the actual type.
///
/// The function must be private, and must not be `const`, `async`, `unsafe`,
/// `extern`, generic, or take arguments. Its name is free (`fn kmain()` works
/// and stays callable by that name), but only a function named `main` is
/// also an ordinary Rust `main` when the crate is built for the host. The
/// function is emitted exactly as written, attributes and docs included.
///
/// # Arguments
///
/// All optional, written `key = "value"` and separated by commas; each key at
/// most once.
///
/// | argument | value | default |
/// |---|---|---|
/// | `heap_size` | initial heap: a size, multiple of 4 KiB, at least 64 KiB | 1 MiB |
/// | `heap_limit` | the most the heap may grow to: a size, multiple of 4 KiB, at least 64 KiB and at least `heap_size` | half the usable RAM |
/// | `stack_size` | boot stack: a size, multiple of 4 KiB, at least 16 KiB (x86_64: the bootloader's kernel stack) | 256 KiB |
/// | `log_level` | `"off"`, `"error"`, `"warn"`, `"info"`, `"debug"` or `"trace"` (any case) | from the runtime's `log-*` cargo feature, else `"info"` |
/// | `physical_memory_offset` | x86_64 only: `"dynamic"`, or the virtual address at which the bootloader maps all physical memory, 4 KiB aligned and canonical (`"0xffff_8000_0000_0000"`, or an integer literal) | the runtime's choice |
///
/// Sizes are written as an integer with an optional 1024-based unit, `B`,
/// `KiB`, `MiB` or `GiB` (`"64 MiB"`, `"64MiB"`, `"65536"`), or as an integer
/// literal of bytes (`heap_size = 0x10_0000`). 1000-based units (`KB`, `MB`,
/// `GB`) are rejected because they are so often meant as binary ones; the
/// error suggests the binary unit.
///
/// `physical_memory_offset` configures the x86_64 bootloader; on riscv64
/// physical memory is used identity-mapped and the argument has no effect.
///
/// ```ignore
/// #[unikernel::main(
///     heap_size = "16 MiB",
///     heap_limit = "1 GiB",
///     stack_size = "512 KiB",
///     log_level = "warn",
///     physical_memory_offset = "0xffff_c000_0000_0000",
/// )]
/// fn main() -> Result<(), MyError> {
///     run()
/// }
/// ```
///
/// # Expansion
///
/// Next to the function, an anonymous `const` block holds a shim that calls
/// it and converts its outcome to the runtime's exit status, and the
/// runtime's per-architecture boot glue configured by the arguments. On
/// hosted targets (not `target_os = "none"`) the boot glue is empty, so the
/// crate builds and runs on the host as an ordinary program.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    main_attr::expand(args.into(), item.into()).into()
}

/// Declares a test that `cargo unikernel test` runs inside QEMU, and that
/// `cargo test` also runs on the host where it can.
///
/// ```ignore
/// #[unikernel::test]
/// fn heap_holds_a_vec() {
///     let v: alloc::vec::Vec<u32> = (0..100).collect();
///     assert_eq!(v.len(), 100);
/// }
///
/// #[unikernel::test(should_panic = "index out of bounds")]
/// fn out_of_bounds() {
///     let v = [1, 2, 3];
///     let i = v.len();
///     let _ = v[i];
/// }
///
/// #[unikernel::test(should_fault = "stack_overflow")]
/// fn unbounded_recursion() {
///     fn depth(n: u64) -> u64 {
///         if n == u64::MAX { n } else { depth(core::hint::black_box(n + 1)) + 1 }
///     }
///     core::hint::black_box(depth(0));
/// }
/// ```
///
/// # Accepted functions
///
/// `fn name()` and `fn name() -> Result<(), E>` with `E: Debug` (`Err`
/// fails the test), with any visibility. Not `const`, `async`, `unsafe`,
/// `extern`, generic, with arguments, or returning `!`.
///
/// # Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `should_panic` | the test passes only if it panics |
/// | `should_panic = "text"` | the test passes only if it panics with a message containing `text` |
/// | `should_fault = "kind"` | the test passes only if it raises this CPU exception: `"page_fault"`, `"breakpoint"`, `"illegal_instruction"`, `"stack_overflow"` or `"any"` |
/// | `ignore` | the test is listed but not run |
///
/// `should_panic` and `should_fault` exclude each other, and `should_panic`
/// tests must return `()` (as with libtest). There is no per-test timeout:
/// `cargo unikernel test` puts a timeout on each QEMU image.
///
/// # Expansion
///
/// On bare-metal targets (`target_os = "none"`) the function is registered
/// with a `#[used]` static `TestCase` record (name `module_path::name`, a
/// runner, the expected outcome, `ignore`) in the linker section
/// `unikernel_tests`, which the runtime's harness walks, so no nightly
/// `custom_test_frameworks` is needed.
///
/// On hosted targets the function also becomes an ordinary `#[test]`
/// (with `#[should_panic]` as asked), so `cargo test` runs it. Tests
/// that expect a fault are `#[ignore]`d there: a fault would end the whole
/// test process rather than fail one test. Outside test builds on the host,
/// the function is removed like any `#[test]` function.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}
