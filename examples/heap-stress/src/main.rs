//! Collections under churn: a seeded workload inserts, replaces and removes
//! entries of `BTreeMap`, `Vec`, `String`, `VecDeque`, `Rc` and `Arc` values,
//! checks after every phase that the contents survived, prints the heap's
//! statistics (use, peak, free, largest free block, fragmentation), grows the
//! heap far beyond its initial 256 KiB, and ends by proving that everything
//! was given back.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod rng;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::RefCell;

use unikernel::heap::{self, HeapStats};
use unikernel::println;

use rng::SplitMix64;

/// Matches `heap_size` below; the run checks it grew far past this.
const INITIAL_HEAP: usize = 256 << 10;

#[unikernel::main(heap_size = "256 KiB")]
fn main() -> Result<(), &'static str> {
    let baseline = heap::stats();
    println!(
        "initial heap: {} KiB, limit {} KiB",
        baseline.total_bytes >> 10,
        heap::limit() >> 10
    );
    if baseline.total_bytes != INITIAL_HEAP {
        return Err("the runtime did not honour heap_size");
    }
    println!(
        "  {:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>7}",
        "phase", "in use", "peak", "arena", "free", "largest", "frag"
    );
    print_stats("start", &baseline);

    let mut rng = SplitMix64::new(0x5eed_cafe);
    {
        let map = map_churn(&mut rng)?;
        let strings = string_churn(&mut rng)?;
        shared_queue(&mut rng)?;
        print_stats("after churn", &heap::stats());
        grow_beyond_initial(&mut rng)?;
        print_stats("blocks freed", &heap::stats());
        // Keep the long-lived collections alive across the growth phase so
        // the new memory is interleaved with old, then drop them together.
        drop((map, strings));
    }

    let end = heap::stats();
    print_stats("all dropped", &end);
    if end.bytes_in_use != baseline.bytes_in_use || end.allocations != baseline.allocations {
        println!(
            "leak: {} B in {} allocations, {} B in {} before",
            end.bytes_in_use, end.allocations, baseline.bytes_in_use, baseline.allocations
        );
        return Err("memory was not given back");
    }
    println!(
        "all freed: {} B in use in {} allocations, as before the run",
        end.bytes_in_use, end.allocations
    );
    println!("{end}");
    Ok(())
}

fn print_stats(phase: &str, s: &HeapStats) {
    let frag = s.fragmentation_permille.unwrap_or(0);
    println!(
        "  {:<14} {:>8} B {:>8} B {:>8} B {:>8} B {:>8} B {:>5}.{}%",
        phase,
        s.bytes_in_use,
        s.peak_bytes,
        s.total_bytes,
        s.free_bytes,
        s.largest_free_block.unwrap_or(0),
        frag / 10,
        frag % 10
    );
}

/// The bytes a map entry must hold: a function of its key, length and
/// generation, so a corrupted or swapped buffer is detected.
fn pattern(key: u64, generation: u64, len: usize) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| (key.wrapping_mul(31) ^ generation.wrapping_mul(7) ^ i as u64) as u8)
}

/// FNV-1a, to fold contents into one number the test can compare.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Random inserts, replacements and removals on a map of byte buffers of
/// 1 B .. 2 KiB, checked against a model that records only each key's
/// generation and length.
fn map_churn(rng: &mut SplitMix64) -> Result<BTreeMap<u64, Vec<u8>>, &'static str> {
    const OPS: u32 = 12_000;
    const KEYS: u64 = 2048;
    let mut map: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut model: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
    for generation in 0..u64::from(OPS) {
        let key = rng.below(KEYS);
        if rng.below(3) == 0 {
            if map.remove(&key).is_some() != model.remove(&key).is_some() {
                return Err("map and model disagree on a removal");
            }
        } else {
            let len = 1 + rng.below(2048) as usize;
            map.insert(key, pattern(key, generation, len).collect());
            model.insert(key, (generation, len));
        }
    }
    if map.len() != model.len() {
        return Err("map lost or invented entries");
    }
    let mut digest = FNV_START;
    for ((key, bytes), (model_key, &(generation, len))) in map.iter().zip(model.iter()) {
        if key != model_key
            || bytes.len() != len
            || !bytes.iter().copied().eq(pattern(*key, generation, len))
        {
            return Err("a map entry's contents changed during churn");
        }
        digest = fnv(fnv(digest, &key.to_le_bytes()), bytes);
    }
    println!(
        "map churn: {OPS} operations, {} live entries, digest {digest:#018x}",
        map.len()
    );
    Ok(map)
}

/// Strings built with `format!`, grown with `push_str`, and removed from the
/// middle of a `Vec` (which shifts the rest); each must still parse back to
/// the numbers it was built from.
fn string_churn(rng: &mut SplitMix64) -> Result<Vec<String>, &'static str> {
    const PUSHES: u64 = 4000;
    let mut strings: Vec<String> = Vec::new();
    for n in 0..PUSHES {
        let mut s = format!("item-{n}");
        for _ in 0..rng.below(8) {
            s.push_str(&format!(":{n}"));
        }
        strings.push(s);
        if rng.below(2) == 0 {
            let victim = rng.below(strings.len() as u64) as usize;
            strings.remove(victim);
        }
    }
    let mut digest = FNV_START;
    for s in &strings {
        let mut parts = s.split(':');
        let n: u64 = parts
            .next()
            .and_then(|head| head.strip_prefix("item-"))
            .and_then(|n| n.parse().ok())
            .ok_or("a string lost its head")?;
        if parts.any(|p| p.parse() != Ok(n)) {
            return Err("a string's contents changed");
        }
        digest = fnv(digest, s.as_bytes());
    }
    println!(
        "strings: {PUSHES} pushes, {} kept, digest {digest:#018x}, all round-trip",
        strings.len()
    );
    Ok(strings)
}

/// A job queue of `Rc<RefCell<..>>` values, some shared with a watch list,
/// each carrying an `Arc` of a shared weight table: every job must run
/// exactly once, and every reference count must drop back to one.
fn shared_queue(rng: &mut SplitMix64) -> Result<(), &'static str> {
    const JOBS: u64 = 3000;
    type Job = (u64, Rc<RefCell<Vec<u64>>>, Arc<[u64]>);
    let weights: Arc<[u64]> = (0..JOBS).collect();
    let mut queue: VecDeque<Job> = VecDeque::new();
    let mut watched: Vec<(u64, Rc<RefCell<Vec<u64>>>)> = Vec::new();
    let mut weight_sum = 0u64;
    let run = |(job, cell, weights): Job, sum: &mut u64| {
        cell.borrow_mut().push(job);
        *sum += weights[job as usize];
    };
    for job in 0..JOBS {
        let cell = Rc::new(RefCell::new(Vec::new()));
        if rng.below(4) == 0 {
            watched.push((job, Rc::clone(&cell)));
        }
        queue.push_back((job, cell, Arc::clone(&weights)));
        // Drain from the front now and then, so the ring buffer wraps.
        if rng.below(3) == 0
            && let Some(j) = queue.pop_front()
        {
            run(j, &mut weight_sum);
        }
    }
    while let Some(j) = queue.pop_front() {
        run(j, &mut weight_sum);
    }
    for (job, cell) in &watched {
        if Rc::strong_count(cell) != 1 || cell.borrow().as_slice() != [*job] {
            return Err("a watched job was lost or run twice");
        }
    }
    if Arc::strong_count(&weights) != 1 {
        return Err("an Arc clone leaked");
    }
    // Weights are 0..JOBS, so the sum is JOBS * (JOBS - 1) / 2 when every
    // job ran exactly once.
    println!(
        "shared queue: {JOBS} jobs, {} Rc handles checked, Arc sum {weight_sum}",
        watched.len()
    );
    Ok(())
}

/// Allocates 64 blocks whose total is many times the initial heap, so the
/// runtime has to map more memory; each block is filled and checked.
fn grow_beyond_initial(rng: &mut SplitMix64) -> Result<(), &'static str> {
    let before = heap::stats();
    let mut blocks: Vec<Vec<u64>> = Vec::new();
    for i in 0..64u64 {
        let words = 8192 + rng.below(8192) as usize; // 64 .. 128 KiB
        blocks.push((0..words as u64).map(|w| w ^ (i << 32)).collect());
    }
    let verified = blocks
        .iter()
        .enumerate()
        .filter(|(i, b)| {
            b.iter()
                .enumerate()
                .all(|(w, &v)| v == w as u64 ^ ((*i as u64) << 32))
        })
        .count();
    let after = heap::stats();
    println!(
        "grew the heap: {} KiB at boot -> {} KiB now in {} growth events, {verified} blocks verified",
        INITIAL_HEAP >> 10,
        after.total_bytes >> 10,
        after.growth_events
    );
    print_stats("holding blocks", &after);
    if verified != blocks.len() || after.total_bytes <= before.total_bytes {
        return Err("growth phase failed");
    }
    Ok(())
}
