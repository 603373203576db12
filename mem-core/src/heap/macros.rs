//! The `global_allocator!` macro.

/// Declares the `#[global_allocator]` static for a chosen heap backend and,
/// optionally, a safe function that gives it its first region.
///
/// Backends: `Default` (our [`LockedHeap`](crate::heap::LockedHeap)),
/// `LinkedList` (feature `linked_list_allocator`), `EmbeddedLlff` and
/// `EmbeddedTlsf` (feature `embedded-alloc`), or any type path to a
/// [`HeapBackend`](crate::heap::HeapBackend) with a `const fn empty()`.
/// Every backend reports [`HeapStats`](crate::heap::HeapStats) through
/// [`HeapBackend::stats`](crate::heap::HeapBackend::stats).
///
/// The generated `init` function takes a `&'static mut [MaybeUninit<u8>]`
/// and panics if the backend refuses it (see
/// [`init_from_static`](crate::heap::init_from_static)). Regions from
/// elsewhere (mapped frames) go through the unsafe `add_region` / `init` of
/// the static itself.
///
/// ```ignore
/// use core::mem::MaybeUninit;
///
/// mem_core::global_allocator!(pub static HEAP: Default, init = init_heap);
///
/// fn setup() {
///     static mut ARENA: [MaybeUninit<u8>; 1 << 20] = [MaybeUninit::uninit(); 1 << 20];
///     // One place takes the `'static mut` borrow, once.
///     init_heap(unsafe { &mut *(&raw mut ARENA) });
///     let stats = mem_core::heap::HeapBackend::stats(&HEAP);
/// }
/// ```
///
/// (`ignore`d: a doctest cannot replace the test harness's allocator; the
/// `heap_macro` integration test builds exactly this.)
#[macro_export]
macro_rules! global_allocator {
    (@emit [$($attr:tt)*] $vis:vis $name:ident, $ty:ty $(, $init:ident)?) => {
        $($attr)*
        #[global_allocator]
        $vis static $name: $ty = <$ty>::empty();
        $(
            #[doc = ::core::concat!(
                "Gives [`", ::core::stringify!($name), "`] its first region.\n\n",
                "# Panics\nIf the heap refuses the region (too small, or already set up)."
            )]
            $vis fn $init(region: &'static mut [::core::mem::MaybeUninit<u8>]) {
                $crate::heap::init_from_static(&$name, region);
            }
        )?
    };
    ($(#[$m:meta])* $vis:vis static $name:ident : Default $(, init = $init:ident)? $(,)?) => {
        $crate::global_allocator!(@emit [$(#[$m])*] $vis $name, $crate::heap::LockedHeap $(, $init)?);
    };
    ($(#[$m:meta])* $vis:vis static $name:ident : LinkedList $(, init = $init:ident)? $(,)?) => {
        $crate::global_allocator!(
            @emit [$(#[$m])*] $vis $name, $crate::heap::backends::LinkedListHeap $(, $init)?
        );
    };
    ($(#[$m:meta])* $vis:vis static $name:ident : EmbeddedLlff $(, init = $init:ident)? $(,)?) => {
        $crate::global_allocator!(
            @emit [$(#[$m])*] $vis $name, $crate::heap::backends::EmbeddedLlffHeap $(, $init)?
        );
    };
    ($(#[$m:meta])* $vis:vis static $name:ident : EmbeddedTlsf $(, init = $init:ident)? $(,)?) => {
        $crate::global_allocator!(
            @emit [$(#[$m])*] $vis $name, $crate::heap::backends::EmbeddedTlsfHeap $(, $init)?
        );
    };
    ($(#[$m:meta])* $vis:vis static $name:ident : $ty:ty $(, init = $init:ident)? $(,)?) => {
        $crate::global_allocator!(@emit [$(#[$m])*] $vis $name, $ty $(, $init)?);
    };
}
