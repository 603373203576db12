//! `global_allocator!` with the default backend, as the global allocator of
//! this test binary. Also run under Miri: as the process's allocator the heap
//! frees std's `Box`es while their (protected) references are live, so it
//! must not write into a block during its `dealloc`. Run it there as
//! `cargo unikernel test` does, with `MIRIFLAGS=-Zmiri-preemption-rate=0`:
//! std frees each thread's start-up `Box` while a function holding it is
//! still running, and Stacked Borrows reports another thread reusing that
//! block in the meantime (see `MIRI_FLAGS` in cargo-unikernel's suite.rs).

mod heap_macro_common;

mem_core::global_allocator!(
    /// The heap of this test.
    static HEAP: Default,
    init = init_heap
);

extern "C" fn before_main() {
    init_heap(heap_macro_common::arena());
}

#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

fn main() {
    heap_macro_common::run(&HEAP, "heap_macro_default");
    // The default backend knows its largest free block.
    assert!(HEAP.stats().largest_free_block.is_some());
}
