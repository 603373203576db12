//! The heap serves every `alloc` collection.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;

#[unikernel::test]
fn collections_work() {
    let b = Box::new(41u64);
    assert_eq!(*b + 1, 42);

    let mut v: Vec<u32> = Vec::new();
    for i in 0..10_000 {
        v.push(i);
    }
    assert_eq!(v.iter().map(|&x| u64::from(x)).sum::<u64>(), 49_995_000);

    let mut s = String::new();
    for i in 0..100 {
        s.push_str(&i.to_string());
    }
    assert_eq!(s.len(), 190);

    let mut m = BTreeMap::new();
    for i in 0..1000u32 {
        m.insert(i.wrapping_mul(2_654_435_761), i);
    }
    assert_eq!(m.len(), 1000);
    assert!(m.keys().zip(m.keys().skip(1)).all(|(a, b)| a < b));

    let shared = Rc::new(RefCell::new(Vec::new()));
    let other = Rc::clone(&shared);
    other.borrow_mut().push(7);
    assert_eq!(shared.borrow().as_slice(), &[7]);
    assert_eq!(Rc::strong_count(&shared), 2);

    let a = Arc::new(5);
    let a2 = Arc::clone(&a);
    assert_eq!(*a + *a2, 10);
}

#[unikernel::test]
fn stats_track_allocations() {
    let before = unikernel::heap::stats();
    let v: Vec<u8> = Vec::with_capacity(100_000);
    let during = unikernel::heap::stats();
    assert!(during.bytes_in_use >= before.bytes_in_use + 100_000);
    drop(v);
    let after = unikernel::heap::stats();
    assert_eq!(after.bytes_in_use, before.bytes_in_use);
}

#[unikernel::test]
fn grows_far_beyond_the_initial_heap() {
    let before = unikernel::heap::stats();
    // 6× the 4 MiB initial heap, in blocks of mixed sizes.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    let mut size = 1000usize;
    while total < 24 << 20 {
        let mut v = alloc::vec![0u8; size];
        v[size - 1] = 0xa5;
        total += size;
        blocks.push(v);
        size = (size * 3 / 2).min(1 << 20);
    }
    let after = unikernel::heap::stats();
    unikernel::println!(
        "heap grew from {} KiB to {} KiB in {} growth events",
        before.total_bytes >> 10,
        after.total_bytes >> 10,
        after.growth_events - before.growth_events
    );
    assert!(after.total_bytes >= before.total_bytes + (20 << 20));
    assert!(after.growth_events > before.growth_events);
    assert!(blocks.iter().all(|b| b[b.len() - 1] == 0xa5));
    assert!(after.total_bytes as u64 <= unikernel::heap::limit());
}

#[unikernel::test]
fn impossible_layouts_return_null() {
    use core::alloc::Layout;
    for (size, align) in [
        (1 << 62, 8),
        (1 << 62, 4096),
        (isize::MAX as usize - 8191, 4096),
    ] {
        let layout = Layout::from_size_align(size, align).expect("valid layout");
        // SAFETY: a non-zero-size layout; a null result is the expected answer.
        // `black_box` keeps the compiler from deleting the unused allocation
        // and assuming it succeeded.
        let p = core::hint::black_box(unsafe { alloc::alloc::alloc(layout) });
        if !p.is_null() {
            // SAFETY: allocated just above with this layout.
            unsafe { alloc::alloc::dealloc(p, layout) };
            panic!("{size} bytes were 'allocated'");
        }
    }
    let mut v: Vec<u8> = Vec::new();
    assert!(v.try_reserve(usize::MAX / 4).is_err());
}
