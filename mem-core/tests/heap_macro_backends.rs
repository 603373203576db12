//! `global_allocator!` with a third-party backend chosen by cargo feature:
//! `embedded-alloc`'s TLSF when that feature is on, else
//! `linked_list_allocator` when that one is, else the default (so the test
//! builds in every feature set). Miri runs it with the default features,
//! that is with our own heap (see `heap_macro_default`).

mod heap_macro_common;

#[cfg(feature = "embedded-alloc")]
mem_core::global_allocator!(static HEAP: EmbeddedTlsf, init = init_heap);

#[cfg(all(feature = "linked_list_allocator", not(feature = "embedded-alloc")))]
mem_core::global_allocator!(static HEAP: LinkedList, init = init_heap);

#[cfg(not(any(feature = "linked_list_allocator", feature = "embedded-alloc")))]
mem_core::global_allocator!(static HEAP: mem_core::heap::LockedHeap, init = init_heap);

extern "C" fn before_main() {
    init_heap(heap_macro_common::arena());
}

#[used]
#[unsafe(link_section = ".init_array")]
static BEFORE_MAIN: extern "C" fn() = before_main;

fn main() {
    heap_macro_common::run(&HEAP, "heap_macro_backends");
}
