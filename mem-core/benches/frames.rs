//! Frame allocators over 1 GiB (262,144 frames), peers in the same binary,
//! all driven by the same seeded traces.
//!
//! Run: `cargo bench -p mem-core --bench frames -- --warm-up-time 1 --measurement-time 2`
//! (results and ratios in docs/performance.md).
//!
//! Peers:
//! - `pool`: our [`FramePool`].
//! - `bitalloc1m`: `bitmap-allocator` 0.4 `BitAlloc1M`.
//! - `buddy`: `buddy_system_allocator` 0.13 `FrameAllocator<32>`.
//! - `stack`: the rCore tutorial's stack allocator (a bump pointer plus a
//!   recycled `Vec`, with its linear double-free check on every free).
//! - `blog_os`: blog_os's `BootInfoFrameAllocator`, which re-walks the memory
//!   map with `usable_frames().nth(next)` on every allocation and never frees.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bitmap_allocator::{BitAlloc, BitAlloc1M};
use criterion::{Criterion, criterion_group};
use mem_core::{FrameAllocator, FramePool, FrameRange, MemoryMap, PhysFrame, RegionKind};

/// Frames managed: 1 GiB.
const N: usize = 262_144;
/// Physical base of the managed GiB (frame numbers for peers are offsets).
const BASE: u64 = 1 << 30;
const SEED: u64 = 0x5eed_f4a3_e5a1_7c01;

/// One allocator under test. Single frames travel in each allocator's own
/// type (what its users hold), so no peer pays a conversion the others do
/// not; runs are frame offsets `0..N`. Every peer's `alloc` and `free` are
/// `#[inline(always)]`, so that no peer pays a call the others do not and
/// the loops measure the allocators themselves.
trait Peer {
    type Frame: Copy;
    fn alloc(&mut self) -> Option<Self::Frame>;
    fn free(&mut self, f: Self::Frame);
    /// `count` frames aligned to `align` frames; `None` if unsupported or
    /// failed.
    fn alloc_run(&mut self, count: usize, align: usize) -> Option<usize>;
    fn free_run(&mut self, start: usize, count: usize);
}

struct Pool(FramePool<'static>);

impl Pool {
    fn new() -> Self {
        let mut map = MemoryMap::new();
        map.add(BASE, (N as u64) << 12, RegionKind::Usable).unwrap();
        map.normalize();
        let storage = vec![0u64; FramePool::metadata_words(&map)].leak();
        Self(FramePool::new(&map, storage).unwrap())
    }
}

fn pool_frame(f: usize) -> PhysFrame {
    PhysFrame::from_number((BASE >> 12) + f as u64).unwrap()
}

impl Peer for Pool {
    type Frame = PhysFrame;
    #[inline(always)]
    fn alloc(&mut self) -> Option<PhysFrame> {
        self.0.allocate_frame().ok()
    }
    #[inline(always)]
    fn free(&mut self, f: PhysFrame) {
        self.0.deallocate_frame(f).unwrap();
    }
    fn alloc_run(&mut self, count: usize, align: usize) -> Option<usize> {
        let r = self.0.allocate_contiguous(count, align).ok()?;
        Some((r.start.number() - (BASE >> 12)) as usize)
    }
    fn free_run(&mut self, start: usize, count: usize) {
        let r = FrameRange::from_start_len(pool_frame(start), count as u64).unwrap();
        self.0.deallocate_contiguous(r).unwrap();
    }
}

struct Bits(Box<BitAlloc1M>);

impl Bits {
    fn new() -> Self {
        let mut b = Box::<BitAlloc1M>::default();
        b.insert(0..N);
        Self(b)
    }
}

impl Peer for Bits {
    type Frame = usize;
    #[inline(always)]
    fn alloc(&mut self) -> Option<usize> {
        self.0.alloc()
    }
    #[inline(always)]
    fn free(&mut self, f: usize) {
        assert!(self.0.dealloc(f));
    }
    fn alloc_run(&mut self, count: usize, align: usize) -> Option<usize> {
        self.0
            .alloc_contiguous(None, count, align.trailing_zeros() as usize)
    }
    fn free_run(&mut self, start: usize, count: usize) {
        assert!(self.0.dealloc_contiguous(start, count));
    }
}

struct Buddy(buddy_system_allocator::FrameAllocator<32>);

impl Buddy {
    fn new() -> Self {
        let mut b = buddy_system_allocator::FrameAllocator::<32>::new();
        b.insert(0..N);
        Self(b)
    }
}

impl Peer for Buddy {
    type Frame = usize;
    #[inline(always)]
    fn alloc(&mut self) -> Option<usize> {
        self.0.alloc(1)
    }
    #[inline(always)]
    fn free(&mut self, f: usize) {
        self.0.dealloc(f, 1);
    }
    fn alloc_run(&mut self, count: usize, align: usize) -> Option<usize> {
        let layout = core::alloc::Layout::from_size_align(count, align).ok()?;
        self.0.alloc_aligned(layout)
    }
    fn free_run(&mut self, start: usize, count: usize) {
        self.0.dealloc(start, count);
    }
}

/// rCore tutorial `StackFrameAllocator`, re-implemented from its description.
struct Stack {
    current: usize,
    end: usize,
    recycled: Vec<usize>,
}

impl Stack {
    fn new() -> Self {
        Self {
            current: 0,
            end: N,
            recycled: Vec::new(),
        }
    }
}

impl Peer for Stack {
    type Frame = usize;
    #[inline(always)]
    fn alloc(&mut self) -> Option<usize> {
        if let Some(f) = self.recycled.pop() {
            Some(f)
        } else if self.current < self.end {
            self.current += 1;
            Some(self.current - 1)
        } else {
            None
        }
    }
    #[inline(always)]
    fn free(&mut self, f: usize) {
        assert!(
            f < self.current && !self.recycled.contains(&f),
            "double free"
        );
        self.recycled.push(f);
    }
    fn alloc_run(&mut self, _: usize, _: usize) -> Option<usize> {
        None
    }
    fn free_run(&mut self, _: usize, _: usize) {}
}

/// Not an allocator: an unchecked LIFO of frame numbers that measures what
/// the traces themselves cost (random picks, the held-frame vector), so that
/// the allocators' own share can be told apart. Never a peer in the ratios.
struct Harness {
    next: usize,
    stack: Vec<usize>,
}

impl Harness {
    fn new() -> Self {
        Self {
            next: 0,
            stack: Vec::with_capacity(N),
        }
    }
}

impl Peer for Harness {
    type Frame = usize;
    #[inline(always)]
    fn alloc(&mut self) -> Option<usize> {
        self.stack.pop().or_else(|| {
            (self.next < N).then(|| {
                self.next += 1;
                self.next - 1
            })
        })
    }
    #[inline(always)]
    fn free(&mut self, f: usize) {
        self.stack.push(f);
    }
    fn alloc_run(&mut self, _: usize, _: usize) -> Option<usize> {
        None
    }
    fn free_run(&mut self, _: usize, _: usize) {}
}

/// blog_os `BootInfoFrameAllocator`, re-implemented from its description:
/// every allocation rebuilds the iterator over usable frames and takes the
/// `next`-th.
struct BlogOs {
    regions: Vec<(u64, u64, bool)>,
    next: usize,
}

impl BlogOs {
    fn new() -> Self {
        // A realistic map shape: reserved low memory, then the usable GiB.
        Self {
            regions: vec![
                (0, 0x10_0000, false),
                (BASE, BASE + ((N as u64) << 12), true),
            ],
            next: 0,
        }
    }
    fn usable_frames(&self) -> impl Iterator<Item = u64> + '_ {
        self.regions
            .iter()
            .filter(|r| r.2)
            .map(|r| r.0..r.1)
            .flat_map(|r| r.step_by(4096))
    }
    #[inline(never)]
    fn alloc(&mut self) -> Option<u64> {
        let f = self.usable_frames().nth(self.next);
        self.next += 1;
        f
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n` by multiply-shift (no division in the timed loop).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next() >> 32) * n as u128) >> 32) as usize
    }
}

fn time(iters: u64, mut step: impl FnMut()) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        step();
    }
    t.elapsed()
}

/// Repeat one alloc and its free on a fresh allocator. Time per pair.
fn alloc_free<P: Peer>(p: &mut P, iters: u64) -> Duration {
    time(iters, || {
        let f = black_box(p.alloc().unwrap());
        p.free(f);
    })
}

/// The allocator at 50% full, frames held at random; each step frees a
/// random held frame and allocates one. Time per step (one free + one alloc).
struct Churn<F> {
    held: Vec<F>,
    rng: Rng,
}

impl<F: Copy> Churn<F> {
    fn setup<P: Peer<Frame = F>>(p: &mut P) -> Self {
        let mut rng = Rng(SEED);
        let mut held: Vec<F> = (0..N).map(|_| p.alloc().unwrap()).collect();
        for _ in 0..N / 2 {
            let i = rng.below(held.len());
            p.free(held.swap_remove(i));
        }
        Self { held, rng }
    }
    fn run<P: Peer<Frame = F>>(&mut self, p: &mut P, iters: u64) -> Duration {
        time(iters, || {
            let i = self.rng.below(self.held.len());
            p.free(self.held.swap_remove(i));
            self.held.push(black_box(p.alloc().unwrap()));
        })
    }
}

/// Allocate all frames one at a time, then free them all. Time per frame.
fn bulk<P: Peer>(p: &mut P, held: &mut Vec<P::Frame>, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        held.clear();
        let t = Instant::now();
        while let Some(f) = p.alloc() {
            held.push(f);
        }
        for &f in held.iter() {
            p.free(f);
        }
        total += t.elapsed();
        assert_eq!(held.len(), N);
    }
    total / N as u32
}

/// Allocate all frames one at a time (timed), then free them (untimed).
/// Time per allocation: the figure to set against blog_os, which cannot free.
fn bulk_alloc<P: Peer>(p: &mut P, held: &mut Vec<P::Frame>, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        held.clear();
        let t = Instant::now();
        while let Some(f) = p.alloc() {
            held.push(f);
        }
        total += t.elapsed();
        assert_eq!(held.len(), N);
        for &f in held.iter() {
            p.free(f);
        }
    }
    total / N as u32
}

/// blog_os: one allocation at each of `iters` seeded positions spread
/// uniformly over the GiB; the mean is the mean cost of an allocation in a
/// full bulk run (which takes seconds).
fn blog_os_alloc(blog: &mut BlogOs, rng: &mut Rng, iters: u64) -> Duration {
    time(iters, || {
        blog.next = rng.below(N);
        black_box(blog.alloc().unwrap());
    })
}

/// 50% full with some free 2 MiB chunks: per chunk, with probability 1/8 the
/// whole chunk is free, otherwise a random half of its frames. Each step
/// allocates `RUNS` runs of 512 frames at 512-frame alignment and frees them.
/// Time per operation (alloc or free of one run).
const RUNS: usize = 8;

fn fragment<P: Peer>(p: &mut P) {
    let mut rng = Rng(SEED ^ 0x2);
    let all: Vec<P::Frame> = (0..N).map(|_| p.alloc().unwrap()).collect();
    for chunk in all.chunks(512) {
        if rng.below(8) == 0 {
            chunk.iter().for_each(|&f| p.free(f));
        } else {
            chunk
                .iter()
                .filter(|_| rng.below(2) == 0)
                .for_each(|&f| p.free(f));
        }
    }
}

fn runs_2m<P: Peer>(p: &mut P, iters: u64) -> Duration {
    let mut got = [0usize; RUNS];
    time(iters, || {
        for g in &mut got {
            *g = black_box(p.alloc_run(512, 512).expect("a free 2 MiB chunk"));
        }
        for &g in &got {
            p.free_run(g, 512);
        }
    }) / (2 * RUNS) as u32
}

fn bench(c: &mut Criterion) {
    {
        let mut g = c.benchmark_group("frames/alloc_free");
        let mut pool = Pool::new();
        g.bench_function("pool", |b| b.iter_custom(|n| alloc_free(&mut pool, n)));
        let mut bits = Bits::new();
        g.bench_function("bitalloc1m", |b| {
            b.iter_custom(|n| alloc_free(&mut bits, n))
        });
        let mut buddy = Buddy::new();
        g.bench_function("buddy", |b| b.iter_custom(|n| alloc_free(&mut buddy, n)));
        let mut stack = Stack::new();
        g.bench_function("stack", |b| b.iter_custom(|n| alloc_free(&mut stack, n)));
        g.finish();
    }
    {
        let mut g = c.benchmark_group("frames/churn50");
        let mut pool = Pool::new();
        let mut ch = Churn::setup(&mut pool);
        g.bench_function("pool", |b| b.iter_custom(|n| ch.run(&mut pool, n)));
        let mut bits = Bits::new();
        let mut ch = Churn::setup(&mut bits);
        g.bench_function("bitalloc1m", |b| b.iter_custom(|n| ch.run(&mut bits, n)));
        let mut buddy = Buddy::new();
        let mut ch = Churn::setup(&mut buddy);
        g.bench_function("buddy", |b| b.iter_custom(|n| ch.run(&mut buddy, n)));
        let mut stack = Stack::new();
        let mut ch = Churn::setup(&mut stack);
        g.bench_function("stack", |b| b.iter_custom(|n| ch.run(&mut stack, n)));
        let mut harness = Harness::new();
        let mut ch = Churn::setup(&mut harness);
        g.bench_function("harness_only", |b| {
            b.iter_custom(|n| ch.run(&mut harness, n))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("frames/bulk");
        g.sample_size(10);
        let (mut pool_held, mut held) = (Vec::with_capacity(N), Vec::with_capacity(N));
        let mut pool = Pool::new();
        g.bench_function("pool", |b| {
            b.iter_custom(|n| bulk(&mut pool, &mut pool_held, n))
        });
        let mut bits = Bits::new();
        g.bench_function("bitalloc1m", |b| {
            b.iter_custom(|n| bulk(&mut bits, &mut held, n))
        });
        let mut buddy = Buddy::new();
        g.bench_function("buddy", |b| {
            b.iter_custom(|n| bulk(&mut buddy, &mut held, n))
        });
        // The stack allocator's linear double-free check makes freeing all
        // of it quadratic (minutes): left out.
        g.finish();
    }
    {
        let mut g = c.benchmark_group("frames/bulk_alloc");
        g.sample_size(10);
        let (mut pool_held, mut held) = (Vec::with_capacity(N), Vec::with_capacity(N));
        let mut pool = Pool::new();
        g.bench_function("pool", |b| {
            b.iter_custom(|n| bulk_alloc(&mut pool, &mut pool_held, n))
        });
        let mut bits = Bits::new();
        g.bench_function("bitalloc1m", |b| {
            b.iter_custom(|n| bulk_alloc(&mut bits, &mut held, n))
        });
        let mut buddy = Buddy::new();
        g.bench_function("buddy", |b| {
            b.iter_custom(|n| bulk_alloc(&mut buddy, &mut held, n))
        });
        let mut blog = BlogOs::new();
        let mut rng = Rng(SEED ^ 0xb);
        g.bench_function("blog_os", |b| {
            b.iter_custom(|n| blog_os_alloc(&mut blog, &mut rng, n))
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("frames/run2m_frag50");
        let mut pool = Pool::new();
        fragment(&mut pool);
        g.bench_function("pool", |b| b.iter_custom(|n| runs_2m(&mut pool, n)));
        let mut buddy = Buddy::new();
        fragment(&mut buddy);
        g.bench_function("buddy", |b| b.iter_custom(|n| runs_2m(&mut buddy, n)));
        let mut bits = Bits::new();
        fragment(&mut bits);
        g.bench_function("bitalloc1m", |b| b.iter_custom(|n| runs_2m(&mut bits, n)));
        g.finish();
    }
    {
        let map = {
            let mut m = MemoryMap::new();
            m.add(BASE, (N as u64) << 12, RegionKind::Usable).unwrap();
            m.normalize();
            m
        };
        let bytes = FramePool::metadata_words(&map) * 8;
        println!(
            "frames/metadata: pool {bytes} bytes for {} bytes = {:.4}%",
            N << 12,
            bytes as f64 * 100.0 / (N << 12) as f64
        );
    }
}

/// `FRAMES_PROBE=trace:peer:iters` runs one trace without criterion, for
/// `perf stat` (instruction and cycle counts do not depend on the load of a
/// shared machine; subtract a run with `iters` = 0 to remove the setup).
fn probe(spec: &str) {
    let mut parts = spec.split(':');
    let (trace, peer, iters) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0),
    );
    fn go<P: Peer>(p: &mut P, trace: &str, iters: u64) -> Duration {
        match trace {
            "alloc_free" => alloc_free(p, iters),
            "churn50" => {
                let mut ch = Churn::setup(p);
                ch.run(p, iters)
            }
            "bulk" => bulk(p, &mut Vec::with_capacity(N), iters),
            "bulk_alloc" => bulk_alloc(p, &mut Vec::with_capacity(N), iters),
            "run2m_frag50" => {
                fragment(p);
                runs_2m(p, iters)
            }
            other => panic!("unknown trace {other}"),
        }
    }
    if peer == "blog_os" {
        let t = blog_os_alloc(&mut BlogOs::new(), &mut Rng(SEED ^ 0xb), iters);
        eprintln!("bulk_alloc/blog_os: {iters} allocations in {t:?}");
        return;
    }
    let t = match peer {
        "pool" => go(&mut Pool::new(), trace, iters),
        "bitalloc1m" => go(&mut Bits::new(), trace, iters),
        "buddy" => go(&mut Buddy::new(), trace, iters),
        "stack" => go(&mut Stack::new(), trace, iters),
        "harness_only" => go(&mut Harness::new(), trace, iters),
        other => panic!("unknown peer {other}"),
    };
    eprintln!("{trace}/{peer}: {iters} iterations in {t:?}");
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("FRAMES_PROBE") {
        probe(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
