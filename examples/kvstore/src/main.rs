//! An in-memory key-value store, the kind of service a unikernel runs: a
//! Redis-like command set over an ordered map, with expiring keys and
//! transactions. This image replays the workload bundled with it
//! (`workload.txt`), echoing every command and its reply the way a client
//! would see them, reports malformed or failing commands without stopping,
//! and ends with a summary: commands by kind, errors, keys, memory, time.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod command;
mod store;

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::time::Duration;

use unikernel::println;
use unikernel::time;

use command::ParseError;
use store::{ExecError, Store};

/// The scripted session: one command per line, `#` starts a comment.
const WORKLOAD: &str = include_str!("../workload.txt");

/// What went wrong on one line.
#[derive(Debug)]
enum LineError {
    Parse(ParseError),
    Exec(ExecError),
}

impl core::fmt::Display for LineError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LineError::Parse(e) => write!(f, "ERR {e}"),
            LineError::Exec(e) => write!(f, "ERR {e}"),
        }
    }
}

/// Tallies for the summary.
#[derive(Debug, Default)]
struct Summary {
    by_command: BTreeMap<&'static str, u32>,
    ok: u32,
    parse_errors: u32,
    exec_errors: u32,
    busy: Duration,
    /// The slowest line: (time, line number).
    slowest: (Duration, usize),
}

#[unikernel::main(heap_size = "4 MiB")]
fn main() -> Result<(), &'static str> {
    let mut store = Store::new();
    let mut summary = Summary::default();
    let started = time::now();
    println!(
        "kvstore: replaying {} lines of workload",
        WORKLOAD.lines().count()
    );

    for (index, raw) in WORKLOAD.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let number = index + 1;
        let t0 = time::now();
        let result = command::parse(line)
            .map_err(LineError::Parse)
            .and_then(|cmd| {
                *summary.by_command.entry(cmd.name()).or_default() += 1;
                store.execute(&cmd, t0).map_err(LineError::Exec)
            });
        // Sleeping is waiting for expiry, not work the store did.
        if !line.to_ascii_uppercase().starts_with("SLEEP") {
            let took = time::now() - t0;
            summary.busy += took;
            summary.slowest = summary.slowest.max((took, number));
        }
        match result {
            Ok(reply) => {
                summary.ok += 1;
                println!("{number:>4}> {line}  ->  {reply}");
            }
            Err(e) => {
                match e {
                    LineError::Parse(_) => summary.parse_errors += 1,
                    LineError::Exec(_) => summary.exec_errors += 1,
                }
                println!("{number:>4}> {line}  ->  {e}");
            }
        }
    }

    let elapsed = time::now() - started;
    let stats = store.stats();
    let heap = unikernel::heap::stats();
    let total = summary.ok + summary.parse_errors + summary.exec_errors;
    let mut kinds = String::new();
    for (name, n) in &summary.by_command {
        if !kinds.is_empty() {
            kinds.push_str(", ");
        }
        kinds.push_str(&alloc::format!("{name} {n}"));
    }
    println!("summary:");
    println!(
        "  {total} commands: {} ok, {} errors ({} malformed, {} failed)",
        summary.ok,
        summary.parse_errors + summary.exec_errors,
        summary.parse_errors,
        summary.exec_errors
    );
    println!("  by command: {kinds}");
    println!(
        "  store: {} keys, {} bytes of keys and values, {} expiring, {} expired",
        stats.keys, stats.bytes, stats.expiring, stats.expired
    );
    println!(
        "  heap: {} KiB in use, peak {} KiB, {} KiB arena, {} growth events",
        heap.bytes_in_use >> 10,
        heap.peak_bytes >> 10,
        heap.total_bytes >> 10,
        heap.growth_events
    );
    let (slowest, slowest_line) = summary.slowest;
    println!(
        "  time: {} ms in all, {} ms executing; slowest: line {slowest_line} ({} ms): {}",
        elapsed.as_millis(),
        summary.busy.as_millis(),
        slowest.as_millis(),
        slowest_line
            .checked_sub(1)
            .and_then(|i| WORKLOAD.lines().nth(i))
            .map_or("", str::trim)
    );
    Ok(())
}
