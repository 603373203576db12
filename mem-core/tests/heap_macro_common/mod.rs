//! Shared body of the `heap_macro_*` tests: each is its own binary (one
//! `#[global_allocator]` per binary) without the test harness. The Rust
//! runtime allocates before `main`, so each binary initialises its heap from
//! an `.init_array` constructor (Linux), as a kernel does before anything
//! allocates.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::rc::Rc;
use std::sync::Arc;

use mem_core::heap::{HeapBackend, HeapStats};

/// The memory given to the heap.
pub const ARENA_SIZE: usize = 8 << 20;

/// Takes the one `'static mut` borrow of the arena.
pub fn arena() -> &'static mut [MaybeUninit<u8>] {
    static mut ARENA: [MaybeUninit<u8>; ARENA_SIZE] = [MaybeUninit::uninit(); ARENA_SIZE];
    static TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    assert!(
        !TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst),
        "arena taken twice"
    );
    let arena = &raw mut ARENA;
    // SAFETY: `TAKEN` makes this the only borrow, for the rest of the program.
    unsafe { &mut *arena }
}

type Check = (&'static str, fn(&dyn HeapBackend));

/// Runs the checks against the global heap and prints the closing line.
pub fn run(heap: &dyn HeapBackend, name: &str) {
    let checks: &[Check] = &[
        ("collections_live_in_the_declared_heap", collections),
        ("threads_share_the_heap", threads),
        ("stats_return_to_the_baseline", baseline),
    ];
    let mut failed = 0;
    for (check, f) in checks {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(heap))).is_ok();
        println!(
            "test {name}::{check} ... {}",
            if ok { "ok" } else { "FAILED" }
        );
        failed += usize::from(!ok);
    }
    println!("{} passed, {failed} failed", checks.len() - failed);
    if failed != 0 {
        std::process::exit(1);
    }
}

fn in_arena(heap: &dyn HeapBackend, before: HeapStats) {
    let after = heap.stats();
    assert!(
        after.total_allocations > before.total_allocations,
        "{after}"
    );
    assert_eq!(after.total_bytes, ARENA_SIZE);
}

/// Work per check: Miri interprets every allocator step, so it gets the same
/// checks over fewer elements.
const PUSHES: u64 = if cfg!(miri) { 2_000 } else { 100_000 };
const INSERTS: u32 = if cfg!(miri) { 300 } else { 5_000 };
const THREAD_STEPS: usize = if cfg!(miri) { 200 } else { 2_000 };

fn collections(heap: &dyn HeapBackend) {
    let before = heap.stats();
    let mut v: Vec<u64> = Vec::new();
    for i in 0..PUSHES {
        v.push(i);
    }
    let s: String = (0..1000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let mut m = BTreeMap::new();
    for i in 0..INSERTS {
        m.insert(i, i.to_string());
    }
    let rc = Rc::new(std::cell::RefCell::new(vec![1u8; 300]));
    rc.borrow_mut().push(2);
    let rc2 = Rc::clone(&rc);
    let live = heap.stats();
    assert!(live.bytes_in_use >= PUSHES as usize * 8 + 1000, "{live}");
    assert_eq!(v.iter().sum::<u64>(), (PUSHES - 1) * PUSHES / 2);
    assert_eq!(s.len(), 1000);
    assert_eq!(m[&(INSERTS - 7)], (INSERTS - 7).to_string());
    assert_eq!(rc2.borrow().len(), 301);
    in_arena(heap, before);
}

fn threads(heap: &dyn HeapBackend) {
    let before = heap.stats();
    let shared = Arc::new(vec![7u32; 1000]);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                let mut local = Vec::new();
                for i in 0..THREAD_STEPS {
                    local.push(vec![t as u8; i % 300 + 1]);
                    if i % 3 == 0 {
                        local.swap_remove(i % local.len());
                    }
                }
                shared.iter().sum::<u32>() as usize + local.len()
            })
        })
        .collect();
    for h in handles {
        // 7000 from the shared vector, plus the blocks still held.
        assert!(h.join().unwrap() > 7000);
    }
    in_arena(heap, before);
}

fn baseline(heap: &dyn HeapBackend) {
    let before = heap.stats();
    {
        let blocks: Vec<Box<[u8]>> = (1..500)
            .map(|i| vec![0u8; i * 7].into_boxed_slice())
            .collect();
        assert!(heap.stats().bytes_in_use > before.bytes_in_use + 400_000);
        drop(blocks);
    }
    let after = heap.stats();
    assert_eq!(after.bytes_in_use, before.bytes_in_use, "{after}");
    assert_eq!(after.allocations, before.allocations);
}
