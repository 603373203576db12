//! Heap benchmark: our backends against the peers, in one binary, on the same
//! seeded traces.
//!
//! - `random_actions/<max size>[ realloc]/<allocator>`: criterion, one element
//!   per action, modelled on talc's `random_actions` (3/7 alloc, 3/7 free
//!   once 300 blocks are live, all frees above 2000, 1/7 realloc to up to 3x the maximum size;
//!   sizes biased low, alignments mostly 8 with a tail up to 2^k).
//! - Heap efficiency (talc's `heap_efficiency`: percentage of the arena in
//!   use at the first failure; with talc's sizes, up to 10,000 bytes in a
//!   128 MiB arena, and with this benchmark's maximum sizes, 200 B and
//!   30 kB) and alloc+free latency percentiles: measured
//!   once, untimed by criterion, printed as tables before the runs.
//! - After the runs, a table of million actions per second and ratios
//!   against talc, read back from criterion's estimates.
//! - Environment variables select other modes instead (see `main`):
//!   interleaved slices (optionally with a probe of what the trace alone
//!   costs, and optionally timing only the heap calls of actions decided
//!   ahead), talc's own trial protocol, untimed runs for `perf stat`, or
//!   only the tables.
//!
//! Run: `cargo bench -p mem-core --bench heap --features linked_list_allocator,embedded-alloc
//! -- --warm-up-time 1 --measurement-time 2`

use std::alloc::{GlobalAlloc, Layout};
use std::hint::black_box;
use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use mem_core::heap::HeapBackend;
use mem_core::heap::LockedHeap;
use mem_core::heap::backends::{EmbeddedLlffHeap, EmbeddedTlsfHeap, LinkedListHeap};

const ARENA: usize = 512 << 20;
const MIN_LIVE: usize = 300;
/// talc's trace is a random walk above 300 live blocks and drifts without
/// bound over long runs (until the arena is full and actions fail cheaply):
/// above this many, an allocation turns into a free.
const MAX_LIVE: usize = 2000;
const SEED: u64 = 0x05EE_D0FA_110C;
/// Seeded rounds per heap-efficiency figure.
const EFFICIENCY_ROUNDS: u64 = 24;

/// The number in environment variable `name`, if it is set and parses.
fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok()?.parse().ok()
}

/// A page-aligned arena from the system allocator, reused by every allocator.
struct Arena(*mut u8);

impl Arena {
    fn new() -> Self {
        // SAFETY: non-zero size.
        let p = unsafe { std::alloc::alloc(Layout::from_size_align(ARENA, 4096).unwrap()) };
        assert!(!p.is_null());
        // Fault every page in now so no allocator pays for first touches.
        for i in (0..ARENA).step_by(4096) {
            // SAFETY: inside the arena.
            unsafe { p.add(i).write_volatile(0) };
        }
        Self(p)
    }

    /// Slice `slot` of `n` equal slices: its start and size. The interleaved
    /// mode gives each allocator one, and `HEAP_BENCH_SHARE` /
    /// `HEAP_BENCH_SLOT` reproduce them in the `perf stat` mode.
    fn slice(&self, slot: usize, n: usize) -> (*mut u8, usize) {
        assert!(slot < n, "slice {slot} of {n}");
        let share = ARENA / n;
        (self.0.wrapping_add(slot * share), share)
    }
}

type Make = fn(*mut u8, usize) -> Box<dyn GlobalAlloc + Sync>;

struct Named {
    name: &'static str,
    make: Make,
}

fn backend<B: HeapBackend + 'static>(
    heap: B,
    start: *mut u8,
    size: usize,
) -> Box<dyn GlobalAlloc + Sync> {
    // SAFETY: the arena outlives every allocator made from it, and only one
    // allocator uses it at a time.
    unsafe { heap.add_region(start, size).unwrap() };
    Box::new(heap)
}

struct Rlsf(spin::Mutex<rlsf::Tlsf<'static, usize, usize, 64, 64>>);

// SAFETY: forwards to rlsf under a lock.
unsafe impl GlobalAlloc for Rlsf {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate(layout)
            .map_or(std::ptr::null_mut(), NonNull::as_ptr)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: a live block of ours.
        unsafe {
            self.0
                .lock()
                .deallocate(NonNull::new_unchecked(ptr), layout.align())
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: a live block of ours.
        unsafe { self.0.lock().reallocate(NonNull::new_unchecked(ptr), new) }
            .map_or(std::ptr::null_mut(), NonNull::as_ptr)
    }
}

/// Not an allocator: a bump pointer that wraps around its slice of the arena,
/// never frees, never touches memory and keeps no contents across a realloc.
/// Driven by the same traces, its rate is the trace's own cost, a ceiling no
/// allocator's rate can pass, so that a ratio goal can be checked for
/// reachability. Blocks older than one trip around the slice are handed out
/// again; the traces never read their blocks, and only the probe's rate is
/// used. Only in the interleaved mode, by the name `floor`: in the
/// efficiency tables it would never fail.
struct Floor {
    start: usize,
    end: usize,
    next: AtomicUsize,
}

impl Floor {
    fn bump(&self, layout: Layout) -> *mut u8 {
        let align = layout.align() - 1;
        let mut p = (self.next.load(Relaxed) + align) & !align;
        if p + layout.size() > self.end {
            p = (self.start + align) & !align;
        }
        self.next.store(p + layout.size(), Relaxed);
        p as *mut u8
    }
}

// SAFETY: every block lies inside the arena slice handed over in `FLOOR`'s
// `make`, aligned as asked; nothing is written through them. This breaks
// `GlobalAlloc`'s promises on reuse and on realloc contents, as the type's
// description says: it is driven only by `Trace`, which reads no block.
unsafe impl GlobalAlloc for Floor {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.bump(layout)
    }
    unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size <= layout.size() {
            return ptr;
        }
        // No copy: what a realloc must copy depends on the allocator (one that
        // grows in place copies nothing), so it is no part of the trace's cost.
        // SAFETY: `new_size` was a valid size for this alignment (the caller's promise).
        self.bump(unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) })
    }
}

const FLOOR: Named = Named {
    name: "floor (trace cost)",
    make: |s, n| {
        Box::new(Floor {
            start: s as usize,
            end: s as usize + n,
            next: AtomicUsize::new(s as usize),
        })
    },
};

const ALLOCATORS: &[Named] = &[
    Named {
        name: "ours (Default)",
        make: |s, n| backend(LockedHeap::empty(), s, n),
    },
    Named {
        name: "talc 5",
        make: |s, n| {
            let t = talc::TalcLock::<spinning_top::RawSpinlock, _>::new(talc::source::Manual);
            // SAFETY: as in `backend`.
            unsafe { t.lock().claim(s, n).unwrap() };
            Box::new(t)
        },
    },
    Named {
        name: "rlsf 0.2",
        make: |s, n| {
            let mut t = rlsf::Tlsf::new();
            // SAFETY: as in `backend`.
            unsafe {
                t.insert_free_block_ptr(NonNull::slice_from_raw_parts(NonNull::new(s).unwrap(), n))
            };
            Box::new(Rlsf(spin::Mutex::new(t)))
        },
    },
    Named {
        name: "buddy_system_allocator 0.13",
        make: |s, n| {
            let h = buddy_system_allocator::LockedHeap::<32>::empty();
            // SAFETY: as in `backend`.
            unsafe { h.lock().init(s as usize, n) };
            Box::new(h)
        },
    },
    Named {
        name: "linked_list_allocator 0.10",
        make: |s, n| {
            // SAFETY: as in `backend`.
            Box::new(unsafe { linked_list_allocator::LockedHeap::new(s, n) })
        },
    },
    Named {
        name: "ours: LinkedList",
        make: |s, n| backend(LinkedListHeap::empty(), s, n),
    },
    Named {
        name: "ours: EmbeddedLlff",
        make: |s, n| backend(EmbeddedLlffHeap::empty(), s, n),
    },
    Named {
        name: "ours: EmbeddedTlsf",
        make: |s, n| backend(EmbeddedTlsfHeap::empty(), s, n),
    },
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64: cheap, and good enough to drive a trace.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
    /// Biased towards small sizes, as talc's `generate_size`.
    fn size(&mut self, max: usize) -> usize {
        let cap = 16 + self.below(max - 16);
        4 + self.below(cap - 4)
    }
    /// 75% word alignment, then halving odds per doubling, as talc's
    /// `generate_align`.
    fn align(&mut self) -> usize {
        8 << ((self.next() as u16).trailing_zeros() / 2)
    }
}

/// One action of a random-actions trace, decided before any heap call.
#[derive(Clone, Copy)]
enum Action {
    Alloc(Layout),
    /// Free the live block at this index (`swap_remove` order).
    Free(usize),
    /// Resize the live block at this index to this many bytes.
    Realloc(usize, usize),
    /// A realloc drawn while no block was live.
    Nothing,
}

/// The decisions of a random-actions trace: which action comes next, given
/// how many blocks are live. Kept apart from the heap calls so that a batch
/// can be decided ahead, untimed (see [`Trace::replay_for`]), drawing the
/// same numbers in the same order as deciding on the fly.
struct Plan {
    rng: Rng,
    max: usize,
    realloc: bool,
    /// Above this many live blocks every allocation becomes a free.
    max_live: usize,
}

impl Plan {
    /// One random action, as talc's `random_actions`.
    #[inline]
    fn next(&mut self, live: usize) -> Action {
        let action = self.rng.below(6 + self.realloc as usize);
        if action == 6 {
            if live == 0 {
                return Action::Nothing;
            }
            let i = self.rng.below(live);
            Action::Realloc(i, 1 + self.rng.below(self.max * 3 - 1))
        } else if (action < 3 && live < self.max_live) || live < MIN_LIVE {
            let size = self.rng.size(self.max);
            let align = self.rng.align();
            Action::Alloc(Layout::from_size_align(size, align).unwrap())
        } else {
            Action::Free(self.rng.below(live))
        }
    }
}

/// A model of the last-level cache over the lines that moving reallocs copy
/// (`HEAP_BENCH_CACHE_SIM`): 32 MiB, 16-way, least recently used first out,
/// the size of this host's L3. It asks whether a heap's placements make the
/// copies touch more distinct memory, which in the interleaved mode every
/// turn would fetch again after the other heaps' turns evicted it. The
/// trace never touches block contents itself, so the copies are all the data
/// traffic; the heaps' own headers are left out. Sets are picked by a hash
/// of the line address, since the physical addresses that index the real
/// cache are unknown here.
struct CacheSim {
    sets: Vec<[u64; CacheSim::WAYS]>,
    lines: u64,
    misses: u64,
    /// 4 KiB pages touched since the window began (a TLB-reach proxy).
    pages: std::collections::HashSet<u64>,
}

impl CacheSim {
    const WAYS: usize = 16;
    const SETS_LOG2: u32 = 15;
    /// Stands for an empty way: no line address reaches it.
    const EMPTY: u64 = u64::MAX;

    fn new() -> Self {
        Self {
            sets: vec![[Self::EMPTY; Self::WAYS]; 1 << Self::SETS_LOG2],
            lines: 0,
            misses: 0,
            pages: std::collections::HashSet::new(),
        }
    }

    /// Reads or writes the `len` bytes at `p`.
    fn touch(&mut self, p: *mut u8, len: usize) {
        if len == 0 {
            return;
        }
        let first = p as u64 >> 6;
        let last = (p as u64 + len as u64 - 1) >> 6;
        for line in first..=last {
            self.lines += 1;
            self.pages.insert(line >> 6);
            let set = line.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SETS_LOG2);
            let ways = &mut self.sets[set as usize];
            let at = ways.iter().position(|&t| t == line).unwrap_or_else(|| {
                self.misses += 1;
                Self::WAYS - 1
            });
            // Most recently used first: shift the younger ways down by one.
            ways.copy_within(0..at, 1);
            ways[0] = line;
        }
    }

    /// Starts a new window; `cold` empties the modelled cache as well.
    fn next_window(&mut self, cold: bool) {
        self.pages.clear();
        if cold {
            self.sets.fill([Self::EMPTY; Self::WAYS]);
        }
    }
}

/// `HEAP_BENCH_CACHE_SIM=window[,warm]` in the `perf stat` mode: runs the
/// actions on the fly through [`CacheSim`] and prints, per `window` actions,
/// the lines the copies touched, the modelled misses and the distinct pages;
/// the cache starts each window empty (as a turn of the interleaved mode
/// does) unless `warm`.
fn run_cache_sim(t: &mut Trace<'_>, steps: u64, knob: &str) {
    let (window, warm) = match knob.split_once(',') {
        Some((w, "warm")) => (w, true),
        _ => (knob, false),
    };
    let window: u64 = window
        .parse()
        .ok()
        .filter(|&w| w > 0)
        .expect("HEAP_BENCH_CACHE_SIM=window[,warm], window a positive number of actions");
    let mut sim = CacheSim::new();
    let (mut lines, mut misses) = (0, 0);
    for i in 1..=steps {
        let action = t.plan.next(t.live.len());
        let moved = match action {
            Action::Realloc(j, _) if j < t.live.len() => Some((j, t.live[j].0)),
            _ => None,
        };
        let (moves, copied) = (t.moves, t.copied);
        t.apply(action);
        // `Trace::realloc` counts a move and the bytes it copied.
        if let Some((j, p)) = moved
            && t.moves > moves
        {
            let len = (t.copied - copied) as usize;
            sim.touch(p, len);
            sim.touch(t.live[j].0, len);
        }
        if i % window == 0 {
            eprintln!(
                "window {}: {} lines touched, {} missed, {} pages",
                i / window,
                sim.lines - lines,
                sim.misses - misses,
                sim.pages.len()
            );
            (lines, misses) = (sim.lines, sim.misses);
            sim.next_window(!warm);
        }
    }
    eprintln!(
        "all {steps} actions: {} lines touched, {} missed",
        sim.lines, sim.misses
    );
}

/// Actions decided per batch by [`Trace::replay_for`]: 12 KiB, so that the
/// batch stays in the L1 cache next to the heap's own data.
const REPLAY_BATCH: usize = 512;

/// The live blocks of one trace; frees them all on drop.
struct Trace<'a> {
    heap: &'a dyn GlobalAlloc,
    live: Vec<(*mut u8, Layout)>,
    failures: u64,
    moves: u64,
    /// Bytes the moving reallocs had to copy.
    copied: u64,
    plan: Plan,
}

impl<'a> Trace<'a> {
    fn new(heap: &'a dyn GlobalAlloc, max: usize, realloc: bool, seed: u64) -> Self {
        Self {
            heap,
            live: Vec::with_capacity(1 << 16),
            failures: 0,
            moves: 0,
            copied: 0,
            plan: Plan {
                rng: Rng(seed),
                max,
                realloc,
                max_live: MAX_LIVE,
            },
        }
    }

    fn alloc(&mut self, layout: Layout) -> bool {
        // SAFETY: non-zero size.
        let p = unsafe { self.heap.alloc(layout) };
        if p.is_null() {
            self.failures += 1;
            return false;
        }
        self.live.push((p, layout));
        true
    }

    fn free(&mut self, i: usize) {
        let (p, l) = self.live.swap_remove(i);
        // SAFETY: a live block with its layout.
        unsafe { self.heap.dealloc(p, l) };
    }

    fn realloc(&mut self, i: usize, new_size: usize) -> bool {
        let (p, l) = self.live[i];
        // SAFETY: a live block with its layout; non-zero new size.
        let q = unsafe { self.heap.realloc(p, l, new_size) };
        if q.is_null() {
            self.failures += 1;
            return false;
        }
        self.moves += u64::from(q != p);
        self.copied += if q != p {
            l.size().min(new_size) as u64
        } else {
            0
        };
        self.live[i] = (q, Layout::from_size_align(new_size, l.align()).unwrap());
        true
    }

    /// One random action, decided and done.
    #[inline]
    fn step(&mut self) {
        let action = self.plan.next(self.live.len());
        self.apply(action);
    }

    /// Does `action`. An index past the live blocks (only after a failed
    /// allocation in a batch decided ahead) counts as a failure.
    #[inline]
    fn apply(&mut self, action: Action) {
        match action {
            Action::Alloc(layout) => {
                self.alloc(layout);
            }
            Action::Free(i) if i < self.live.len() => self.free(i),
            Action::Realloc(i, new_size) if i < self.live.len() => {
                self.realloc(i, new_size);
            }
            Action::Nothing => {}
            Action::Free(_) | Action::Realloc(..) => self.failures += 1,
        }
    }

    /// Steps in batches of 100 until `span` has passed; returns the steps.
    fn run_for(&mut self, span: Duration) -> u64 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < span {
            for _ in 0..100 {
                self.step();
            }
            n += 100;
        }
        n
    }

    /// Like [`run_for`](Self::run_for), but decides each batch of actions
    /// ahead, untimed, and times only the heap calls and the bookkeeping of
    /// live blocks: the trace's random numbers and decisions, which cost any
    /// allocator the same, stay out of the rate. Returns the actions done and
    /// the time they took.
    fn replay_for(&mut self, span: Duration) -> (u64, Duration) {
        let (mut n, mut timed) = (0u64, Duration::ZERO);
        while timed < span {
            timed += self.replay_batch();
            n += REPLAY_BATCH as u64;
        }
        (n, timed)
    }

    /// Decides [`REPLAY_BATCH`] actions, then does them; returns the time
    /// the doing took.
    fn replay_batch(&mut self) -> Duration {
        let mut batch = [Action::Nothing; REPLAY_BATCH];
        let mut live = self.live.len();
        for a in &mut batch {
            *a = self.plan.next(live);
            match a {
                Action::Alloc(_) => live += 1,
                Action::Free(_) => live -= 1,
                Action::Realloc(..) | Action::Nothing => {}
            }
        }
        let start = Instant::now();
        for &a in &batch {
            self.apply(a);
        }
        start.elapsed()
    }

    fn used(&self) -> usize {
        self.live.iter().map(|b| b.1.size()).sum()
    }
}

impl Drop for Trace<'_> {
    fn drop(&mut self) {
        while !self.live.is_empty() {
            self.free(self.live.len() - 1);
        }
    }
}

const SIZES: &[(&str, usize, bool)] = &[
    ("200B", 200, false),
    ("200B realloc", 200, true),
    ("30kB", 30_000, false),
    ("30kB realloc", 30_000, true),
];

fn random_actions(c: &mut Criterion, arena: &Arena) {
    for &(label, max, realloc) in SIZES {
        let mut group = c.benchmark_group(format!("random_actions/{label}"));
        group.throughput(Throughput::Elements(1));
        for a in ALLOCATORS {
            let heap = (a.make)(arena.0, ARENA);
            let mut trace = Trace::new(&*heap, max, realloc, SEED);
            for _ in 0..10_000 {
                trace.step();
            }
            group.bench_function(a.name, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        trace.step();
                    }
                    start.elapsed()
                })
            });
            drop(trace);
        }
        group.finish();
    }
}

/// talc's `heap_efficiency`: random allocs (50%), frees (10%) and reallocs up
/// to 10x the maximum size (40%) until the first failure; the live bytes
/// then, over the arena size, averaged over rounds.
fn heap_efficiency(heap: &dyn GlobalAlloc, arena: usize, max: usize, rounds: u64) -> f64 {
    let mut ratio = 0.0;
    for round in 0..rounds {
        let mut t = Trace::new(heap, max, true, SEED ^ round);
        loop {
            let ok = match t.plan.rng.below(10) {
                0..=4 => {
                    let size = t.plan.rng.size(max);
                    let align = t.plan.rng.align();
                    t.alloc(Layout::from_size_align(size, align).unwrap())
                }
                5 => {
                    if !t.live.is_empty() {
                        let i = t.plan.rng.below(t.live.len());
                        t.free(i);
                    }
                    true
                }
                _ => {
                    if t.live.is_empty() {
                        true
                    } else {
                        let i = t.plan.rng.below(t.live.len());
                        let new_size = 1 + t.plan.rng.below(max * 10 - 1);
                        t.realloc(i, new_size)
                    }
                }
            };
            if !ok {
                break;
            }
        }
        ratio += t.used() as f64 / arena as f64;
    }
    ratio / rounds as f64 * 100.0
}

/// Cycles (or nanoseconds off x86_64) and how many per nanosecond.
#[cfg(target_arch = "x86_64")]
fn ticks() -> u64 {
    // SAFETY: rdtsc has no preconditions on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn ticks() -> u64 {
    use std::sync::OnceLock;
    static T0: OnceLock<Instant> = OnceLock::new();
    T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn ticks_per_ns() -> f64 {
    let (t0, i0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_millis(50));
    (ticks() - t0) as f64 / i0.elapsed().as_nanos() as f64
}

/// Percentiles of one alloc+free pair in a heap kept at 300+ live blocks
/// (200 B max size), in nanoseconds, timer overhead subtracted.
fn latency(heap: &dyn GlobalAlloc, per_ns: f64) -> (f64, f64) {
    let mut t = Trace::new(heap, 200, false, SEED);
    for _ in 0..20_000 {
        t.step();
    }
    let samples = 100_000;
    let mut d = Vec::with_capacity(samples);
    let mut empty = Vec::with_capacity(samples);
    for _ in 0..samples {
        t.step();
        let l = Layout::from_size_align(t.plan.rng.size(200), t.plan.rng.align()).unwrap();
        let t0 = ticks();
        // SAFETY: non-zero size; freed at once with its layout.
        unsafe {
            let p = heap.alloc(black_box(l));
            if !p.is_null() {
                heap.dealloc(black_box(p), l);
            }
        }
        let t1 = ticks();
        black_box(l);
        let t2 = ticks();
        d.push(t1 - t0);
        empty.push(t2 - t1);
    }
    d.sort_unstable();
    empty.sort_unstable();
    let overhead = empty[samples / 2] as f64;
    let at = |q: f64| ((d[(samples as f64 * q) as usize] as f64 - overhead) / per_ns).max(0.0);
    if std::env::var_os("HEAP_BENCH_VERBOSE").is_some() {
        let q: Vec<u64> = [500, 800, 900, 950, 970, 980, 990, 995, 999]
            .iter()
            .map(|&m| d[samples * m / 1000])
            .collect();
        eprintln!(
            "per_ns {per_ns:.2} overhead {overhead} ticks at 50/80/90/95/97/98/99/99.5/99.9%: {q:?}"
        );
    }
    (at(0.5), at(0.99))
}

fn print_untimed_tables(arena: &Arena, filter: &str, rounds: u64) {
    let per_ns = ticks_per_ns();
    println!(
        "\n| allocator | efficiency 10 kB (talc's trace) | efficiency 200 B | efficiency 30 kB | alloc+free p50 | p99 |"
    );
    println!("|---|---|---|---|---|---|");
    for a in chosen(filter) {
        // talc's own parameters first: a 128 MiB arena, sizes up to
        // 10,000 bytes, reallocs up to 10x that. Then the same trace with
        // this benchmark's two maximum sizes: 8 MiB for 200 B keeps the
        // list-walking peers quick.
        let h = (a.make)(arena.0, 128 << 20);
        let talcs = heap_efficiency(&*h, 128 << 20, 10_000, rounds);
        drop(h);
        let h = (a.make)(arena.0, 8 << 20);
        let small = heap_efficiency(&*h, 8 << 20, 200, rounds);
        drop(h);
        let h = (a.make)(arena.0, 128 << 20);
        let large = heap_efficiency(&*h, 128 << 20, 30_000, rounds);
        drop(h);
        let h = (a.make)(arena.0, ARENA);
        let (p50, p99) = latency(&*h, per_ns);
        println!(
            "| {} | {talcs:.2}% | {small:.2}% | {large:.2}% | {p50:.0} ns | {p99:.0} ns |",
            a.name
        );
    }
    println!();
}

/// The allocators whose names contain one of the comma-separated `filter`
/// strings.
fn chosen(filter: &str) -> Vec<&'static Named> {
    ALLOCATORS
        .iter()
        .filter(|a| filter.split(',').any(|f| a.name.contains(f)))
        .collect()
}

/// Million actions per second, measured interleaved: every allocator runs a
/// short slice of each trace in turn, `rounds` times, and the median slice
/// counts. Interleaving spreads the noise of a shared machine evenly. With
/// `replay`, each slice decides its actions ahead in batches and times only
/// their execution ([`Trace::replay_for`]).
fn interleaved(arena: &Arena, rounds: usize, slice: Duration, filter: &str, replay: bool) {
    let mut chosen = chosen(filter);
    if filter.split(',').any(|f| f == "floor") {
        chosen.push(&FLOOR);
    }
    let timed = if replay {
        "heap calls only, actions decided ahead"
    } else {
        "actions decided on the fly"
    };
    println!(
        "\nInterleaved medians, million actions per second (ratio to talc), {rounds} x {slice:?} slices, {timed}:\n"
    );
    print!("| allocator |");
    for (label, ..) in SIZES {
        print!(" {label} |");
    }
    println!("\n|---|---|---|---|---|");
    let mut rates = vec![vec![Vec::new(); SIZES.len()]; chosen.len()];
    // HEAP_BENCH_ROTATE=k: allocator i runs in the arena's slice (i + k) mod
    // n instead of slice i, to check that no allocator owes its rate to
    // where its slice lies (how the kernel backs those pages).
    let rotate: usize = env_number("HEAP_BENCH_ROTATE").unwrap_or(0);
    for (si, &(_, max, realloc)) in SIZES.iter().enumerate() {
        let heaps: Vec<_> = chosen
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let (start, size) = arena.slice((i + rotate) % chosen.len(), chosen.len());
                (a.make)(start, size)
            })
            .collect();
        let mut traces: Vec<Trace<'_>> = heaps
            .iter()
            .map(|h| Trace::new(&**h, max, realloc, SEED))
            .collect();
        for t in &mut traces {
            for _ in 0..10_000 {
                t.step();
            }
        }
        for _ in 0..rounds {
            for (ai, t) in traces.iter_mut().enumerate() {
                let (n, took) = if replay {
                    t.replay_for(slice)
                } else {
                    let start = Instant::now();
                    (t.run_for(slice), start.elapsed())
                };
                rates[ai][si].push(n as f64 / took.as_secs_f64() / 1e6);
            }
        }
        for (t, a) in traces.iter().zip(&chosen) {
            if t.failures != 0 {
                println!(
                    "note: {} failed {} actions in trace {si}",
                    a.name, t.failures
                );
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut medians: Vec<Vec<f64>> = rates
        .iter_mut()
        .map(|r| r.iter_mut().map(median).collect())
        .collect();
    let talc = chosen
        .iter()
        .position(|a| a.name.starts_with("talc"))
        .map(|i| medians[i].clone());
    for (ai, a) in chosen.iter().enumerate() {
        print!("| {} |", a.name);
        for si in 0..SIZES.len() {
            let m = medians[ai][si];
            match &talc {
                Some(t) => print!(" {m:.2} ({:.2}x) |", m / t[si]),
                None => print!(" {m:.2} |"),
            }
        }
        println!();
    }
    medians.clear();
}

/// talc's own `random_actions` protocol, for a comparison by its method:
/// each trial takes a fresh heap, runs a 2 ms warm-up trace (freed after),
/// then counts the successful actions of one 200 ms trace from an empty
/// heap, with no upper bound on live blocks (the walk above 300 drifts
/// upward with time, so a faster allocator meets more live blocks); the
/// score is the mean over 7 trials. Trials alternate between allocators, so
/// that the machine's noise spreads over all of them.
fn talc_protocol(arena: &Arena, filter: &str) {
    const TRIALS: u64 = 7;
    let chosen = chosen(filter);
    let run = |heap: &dyn GlobalAlloc, max, realloc, seed, span| {
        let mut t = Trace::new(heap, max, realloc, seed);
        t.plan.max_live = usize::MAX;
        let n = t.run_for(span);
        (n - t.failures, t.live.len())
    };
    let mut rates = vec![vec![0.0; SIZES.len()]; chosen.len()];
    let mut live = vec![vec![0usize; SIZES.len()]; chosen.len()];
    for (si, &(_, max, realloc)) in SIZES.iter().enumerate() {
        for trial in 0..TRIALS {
            for (ai, a) in chosen.iter().enumerate() {
                let heap = (a.make)(arena.0, ARENA);
                let seed = SEED ^ (trial << 32);
                run(&*heap, max, realloc, !seed, Duration::from_millis(2));
                let (n, left) = run(&*heap, max, realloc, seed, Duration::from_millis(200));
                rates[ai][si] += n as f64 / 0.2 / 1e6 / TRIALS as f64;
                live[ai][si] = live[ai][si].max(left);
            }
        }
    }
    println!(
        "\ntalc's protocol ({TRIALS} trials of 200 ms on a fresh heap, no cap on live blocks): million actions per second (ratio to talc; most live blocks at a trial's end)\n"
    );
    print!("| allocator |");
    for (label, ..) in SIZES {
        print!(" {label} |");
    }
    println!("\n|---|---|---|---|---|");
    let talc = chosen.iter().position(|a| a.name.starts_with("talc"));
    for (ai, a) in chosen.iter().enumerate() {
        print!("| {} |", a.name);
        for si in 0..SIZES.len() {
            let m = rates[ai][si];
            let ratio = talc.map_or(String::new(), |t| format!("{:.2}x, ", m / rates[t][si]));
            print!(" {m:.2} ({ratio}{}) |", live[ai][si]);
        }
        println!();
    }
}

/// Reads criterion's mean estimate (ns per action) for one benchmark.
fn mean_ns(dir: &std::path::Path, group: &str, name: &str) -> Option<f64> {
    for sub in std::fs::read_dir(dir).ok()? {
        let sub = sub.ok()?.path();
        for entry in std::fs::read_dir(&sub).ok()? {
            let path = entry.ok()?.path().join("new/benchmark.json");
            let Ok(meta) = std::fs::read_to_string(&path) else {
                continue;
            };
            let wanted_group = format!("\"group_id\":\"{group}\"");
            let wanted_name = format!("\"function_id\":\"{name}\"");
            if meta.contains(&wanted_group) && meta.contains(&wanted_name) {
                let est = std::fs::read_to_string(path.with_file_name("estimates.json")).ok()?;
                let mean = est.split("\"mean\":").nth(1)?;
                let point = mean.split("\"point_estimate\":").nth(1)?;
                return point.split([',', '}']).next()?.trim().parse().ok();
            }
        }
    }
    None
}

fn print_throughput_table(dir: &std::path::Path) {
    println!("\nMillion random actions per second (ratio to talc):\n");
    print!("| allocator |");
    for (label, ..) in SIZES {
        print!(" {label} |");
    }
    println!("\n|---|---|---|---|---|");
    let talc: Vec<Option<f64>> = SIZES
        .iter()
        .map(|(l, ..)| mean_ns(dir, &format!("random_actions/{l}"), "talc 5"))
        .collect();
    for a in ALLOCATORS {
        print!("| {} |", a.name);
        for (i, (label, ..)) in SIZES.iter().enumerate() {
            match mean_ns(dir, &format!("random_actions/{label}"), a.name) {
                Some(ns) => match talc[i] {
                    Some(t) => print!(" {:.2} ({:.2}x) |", 1e3 / ns, t / ns),
                    None => print!(" {:.2} |", 1e3 / ns),
                },
                None => print!(" - |"),
            }
        }
        println!();
    }
}

fn main() {
    let arena = Arena::new();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    // HEAP_BENCH_STEPS=n HEAP_BENCH_ONLY=name: run n actions of each trace on
    // one allocator, untimed, for `perf stat` cycle and cache-miss counts.
    if let (Ok(steps), Ok(only)) = (
        std::env::var("HEAP_BENCH_STEPS"),
        std::env::var("HEAP_BENCH_ONLY"),
    ) {
        let steps: u64 = steps.parse().expect("HEAP_BENCH_STEPS is a number");
        let a = ALLOCATORS
            .iter()
            .find(|a| a.name.contains(&*only))
            .expect("no such allocator");
        // HEAP_BENCH_PAIR=bytes: the same alloc+free pair, `steps` times.
        if let Some(bytes) = env_number("HEAP_BENCH_PAIR") {
            let heap = (a.make)(arena.0, ARENA);
            let l = Layout::from_size_align(bytes, 8).unwrap();
            for _ in 0..steps {
                // SAFETY: non-zero size; freed at once.
                unsafe { heap.dealloc(black_box(heap.alloc(l)), l) };
            }
            return;
        }
        let size = std::env::var("HEAP_BENCH_SIZE").ok();
        for &(label, max, realloc) in SIZES {
            if size.as_deref().is_some_and(|s| s != label) {
                continue;
            }
            // HEAP_BENCH_SHARE=n: 1/n of the arena, the slice each of n
            // allocators gets in the interleaved mode (how full a heap is
            // decides, for one, whether ours compacts on realloc), and with
            // HEAP_BENCH_SLOT=k its slice k (the memory behind the slices
            // differs).
            let n = env_number::<usize>("HEAP_BENCH_SHARE").unwrap_or(1).max(1);
            let slot = env_number::<usize>("HEAP_BENCH_SLOT").unwrap_or(0);
            assert!(slot < n, "HEAP_BENCH_SLOT={slot}: there are {n} slices");
            let (base, share) = arena.slice(slot, n);
            let heap = (a.make)(base, share);
            let mut t = Trace::new(&*heap, max, realloc, SEED);
            // HEAP_BENCH_UNCAPPED=1: no upper bound on live blocks, as in
            // talc's protocol.
            if std::env::var_os("HEAP_BENCH_UNCAPPED").is_some() {
                t.plan.max_live = usize::MAX;
            }
            // HEAP_BENCH_REPLAY=1: decide the actions ahead in batches, as
            // in the interleaved mode (whole batches: `steps` rounds up).
            if std::env::var_os("HEAP_BENCH_REPLAY").is_some() {
                for _ in 0..steps.div_ceil(REPLAY_BATCH as u64) {
                    t.replay_batch();
                }
            } else if let Ok(knob) = std::env::var("HEAP_BENCH_CACHE_SIM") {
                run_cache_sim(&mut t, steps, &knob);
            } else {
                for _ in 0..steps {
                    t.step();
                }
            }
            if std::env::var_os("HEAP_BENCH_VERBOSE").is_some() {
                let top = t
                    .live
                    .iter()
                    .map(|b| b.0 as usize + b.1.size())
                    .max()
                    .unwrap_or(0);
                eprintln!(
                    "{label}: {} moves copying {} MiB, {} failures, footprint {} KiB",
                    t.moves,
                    t.copied >> 20,
                    t.failures,
                    top.saturating_sub(base as usize) / 1024
                );
            }
        }
        return;
    }
    // HEAP_BENCH_TABLES=names: only the efficiency and latency tables.
    if let Ok(filter) = std::env::var("HEAP_BENCH_TABLES") {
        // HEAP_BENCH_EFFICIENCY_ROUNDS=n: more seeded rounds than the full
        // run's, to tell apart variants a tenth of a point apart.
        let rounds = env_number("HEAP_BENCH_EFFICIENCY_ROUNDS").unwrap_or(EFFICIENCY_ROUNDS);
        print_untimed_tables(&arena, &filter, rounds);
        return;
    }
    // HEAP_BENCH_TALC_PROTOCOL=names: talc's own trial protocol instead.
    if let Ok(filter) = std::env::var("HEAP_BENCH_TALC_PROTOCOL") {
        talc_protocol(&arena, &filter);
        return;
    }
    if let Ok(filter) = std::env::var("HEAP_BENCH_INTERLEAVED") {
        let rounds = env_number("HEAP_BENCH_ROUNDS").unwrap_or(15);
        // HEAP_BENCH_REPLAY=1: time the heap calls only (see `replay_for`).
        let replay = std::env::var_os("HEAP_BENCH_REPLAY").is_some();
        // HEAP_BENCH_SLICE_MS=n: each turn n ms instead of 100 (longer
        // turns leave less weight on the caches each turn starts cold).
        let slice = Duration::from_millis(env_number("HEAP_BENCH_SLICE_MS").unwrap_or(100));
        interleaved(&arena, rounds, slice, &filter, replay);
        return;
    }
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    let listing = std::env::args().any(|a| a == "--list" || a == "--test");
    // HEAP_BENCH_SKIP_TABLES=1 skips the untimed tables when iterating on speed.
    if !listing && std::env::var_os("HEAP_BENCH_SKIP_TABLES").is_none() {
        print_untimed_tables(&arena, "", EFFICIENCY_ROUNDS);
    }
    random_actions(&mut c, &arena);
    c.final_summary();
    if !listing {
        print_throughput_table(&dir);
    }
}
