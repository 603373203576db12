//! The store: an ordered map of string keys to string values, expiry
//! deadlines, and transactions kept as an undo log.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::command::Command;

/// What a command returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done, nothing to return.
    Ok,
    /// The key does not exist.
    Nil,
    /// A value.
    Value(String),
    /// A number.
    Int(i64),
    /// Key-value pairs, in key order.
    Pairs(Vec<(String, String)>),
    /// Free text (checksums, statistics).
    Text(String),
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok => f.write_str("OK"),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Value(v) => write!(f, "{v:?}"),
            Reply::Int(n) => write!(f, "(integer) {n}"),
            Reply::Pairs(pairs) => {
                let plural = if pairs.len() == 1 { "" } else { "s" };
                write!(f, "({} key{plural})", pairs.len())?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    write!(f, "\n       {}) {k} = {v:?}", i + 1)?;
                }
                Ok(())
            }
            Reply::Text(t) => f.write_str(t),
        }
    }
}

/// Why a well-formed command failed. The store is unchanged after any of
/// these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// `INCR` on a value that is not an integer.
    NotAnInteger(String),
    /// `INCR` would overflow a 64-bit integer.
    Overflow(String),
    /// `EXPIRE` on a missing key.
    NoSuchKey(String),
    /// `BEGIN` inside a transaction.
    NestedTransaction,
    /// `COMMIT` or `ROLLBACK` outside a transaction.
    NoTransaction,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::NotAnInteger(k) => write!(f, "value of '{k}' is not an integer"),
            ExecError::Overflow(k) => write!(f, "increment of '{k}' would overflow"),
            ExecError::NoSuchKey(k) => write!(f, "no such key '{k}'"),
            ExecError::NestedTransaction => f.write_str("transactions do not nest"),
            ExecError::NoTransaction => f.write_str("no transaction is open"),
        }
    }
}

impl core::error::Error for ExecError {}

/// A key's state before a change, to restore on `ROLLBACK`.
#[derive(Debug)]
struct Undo {
    key: String,
    value: Option<String>,
    deadline: Option<Duration>,
}

/// The key-value store.
#[derive(Debug, Default)]
pub struct Store {
    data: BTreeMap<String, String>,
    /// Deadlines (time since boot) of keys that expire.
    deadlines: BTreeMap<String, Duration>,
    /// `Some` while a transaction is open: oldest change first.
    undo: Option<Vec<Undo>>,
    expired: u64,
}

/// What the store holds, for `STATS` and the summary.
#[derive(Debug, Clone, Copy)]
pub struct StoreStats {
    /// Live keys.
    pub keys: usize,
    /// Bytes of keys and values.
    pub bytes: usize,
    /// Keys with a deadline.
    pub expiring: usize,
    /// Keys removed because their deadline passed.
    pub expired: u64,
}

/// FNV-1a, to fold the whole store into one number a test can check.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts of keys and bytes.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            keys: self.data.len(),
            bytes: self.data.iter().map(|(k, v)| k.len() + v.len()).sum(),
            expiring: self.deadlines.len(),
            expired: self.expired,
        }
    }

    /// Runs `command` at time `now` (time since boot).
    pub fn execute(&mut self, command: &Command<'_>, now: Duration) -> Result<Reply, ExecError> {
        self.purge_expired(now);
        Ok(match *command {
            Command::Set(key, value) => {
                self.write(key, Some(value.into()), None);
                Reply::Ok
            }
            Command::Get(key) => self
                .data
                .get(key)
                .map_or(Reply::Nil, |v| Reply::Value(v.clone())),
            Command::Del(ref keys) => {
                let mut removed = 0;
                for key in keys {
                    if self.data.contains_key(*key) {
                        self.write(key, None, None);
                        removed += 1;
                    }
                }
                Reply::Int(removed)
            }
            Command::Exists(key) => Reply::Int(i64::from(self.data.contains_key(key))),
            Command::Incr(key, delta) => {
                let current = match self.data.get(key) {
                    None => 0,
                    Some(v) => v
                        .parse::<i64>()
                        .map_err(|_| ExecError::NotAnInteger(key.into()))?,
                };
                let next = current
                    .checked_add(delta)
                    .ok_or_else(|| ExecError::Overflow(key.into()))?;
                let deadline = self.deadlines.get(key).copied();
                self.write(key, Some(next.to_string()), deadline);
                Reply::Int(next)
            }
            Command::Append(key, text) => {
                let mut value = self.data.get(key).cloned().unwrap_or_default();
                value.push_str(text);
                let len = value.len() as i64;
                let deadline = self.deadlines.get(key).copied();
                self.write(key, Some(value), deadline);
                Reply::Int(len)
            }
            Command::Scan(prefix, limit) => Reply::Pairs(
                self.with_prefix(prefix)
                    .take(limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            Command::DelPrefix(prefix) => {
                let doomed: Vec<String> =
                    self.with_prefix(prefix).map(|(k, _)| k.clone()).collect();
                for key in &doomed {
                    self.write(key, None, None);
                }
                Reply::Int(doomed.len() as i64)
            }
            Command::Count => Reply::Int(self.data.len() as i64),
            Command::Expire(key, ms) => {
                let value = self
                    .data
                    .get(key)
                    .cloned()
                    .ok_or_else(|| ExecError::NoSuchKey(key.into()))?;
                self.write(key, Some(value), Some(now + Duration::from_millis(ms)));
                Reply::Ok
            }
            Command::Ttl(key) => Reply::Int(
                match (self.data.contains_key(key), self.deadlines.get(key)) {
                    (false, _) => -2,
                    (true, None) => -1,
                    (true, Some(&deadline)) => (deadline - now).as_millis() as i64,
                },
            ),
            Command::Sleep(ms) => {
                unikernel::time::sleep(Duration::from_millis(ms));
                Reply::Ok
            }
            Command::Begin => {
                if self.undo.is_some() {
                    return Err(ExecError::NestedTransaction);
                }
                self.undo = Some(Vec::new());
                Reply::Ok
            }
            Command::Commit => {
                let log = self.undo.take().ok_or(ExecError::NoTransaction)?;
                Reply::Text(format!("OK, {} changes kept", log.len()))
            }
            Command::Rollback => {
                let log = self.undo.take().ok_or(ExecError::NoTransaction)?;
                let changes = log.len();
                for undo in log.into_iter().rev() {
                    self.restore(undo);
                }
                Reply::Text(format!("OK, {changes} changes undone"))
            }
            Command::Fill(prefix, count) => {
                for i in 0..count {
                    // Deterministic values, so the checksum is reproducible.
                    let value = (u64::from(i).wrapping_mul(2_654_435_761) % 1_000_003).to_string();
                    self.write(&format!("{prefix}{i:06}"), Some(value), None);
                }
                Reply::Int(i64::from(count))
            }
            Command::Checksum => {
                let hash = self.data.iter().fold(0xcbf2_9ce4_8422_2325, |h, (k, v)| {
                    fnv1a(
                        fnv1a(fnv1a(fnv1a(h, k.as_bytes()), b"="), v.as_bytes()),
                        b"\n",
                    )
                });
                Reply::Text(format!("{hash:#018x} over {} keys", self.data.len()))
            }
            Command::Stats => {
                let s = self.stats();
                let heap = unikernel::heap::stats();
                Reply::Text(format!(
                    "keys={} bytes={} expiring={} expired={} heap_in_use={} heap_peak={}",
                    s.keys, s.bytes, s.expiring, s.expired, heap.bytes_in_use, heap.peak_bytes
                ))
            }
        })
    }

    fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s String, &'s String)> {
        self.data
            .range::<str, _>((
                core::ops::Bound::Included(prefix),
                core::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Sets (or with `None` removes) `key`, recording its old state when a
    /// transaction is open.
    fn write(&mut self, key: &str, value: Option<String>, deadline: Option<Duration>) {
        if let Some(log) = &mut self.undo {
            log.push(Undo {
                key: key.into(),
                value: self.data.get(key).cloned(),
                deadline: self.deadlines.get(key).copied(),
            });
        }
        self.restore(Undo {
            key: key.into(),
            value,
            deadline,
        });
    }

    /// Puts `key` into exactly the given state.
    fn restore(&mut self, undo: Undo) {
        match undo.deadline {
            Some(d) => self.deadlines.insert(undo.key.clone(), d),
            None => self.deadlines.remove(&undo.key),
        };
        match undo.value {
            Some(v) => self.data.insert(undo.key, v),
            None => self.data.remove(&undo.key),
        };
    }

    /// Removes keys whose deadline has passed. Not recorded in a
    /// transaction: expiry is time passing, not a change to undo.
    fn purge_expired(&mut self, now: Duration) {
        let due: Vec<String> = self
            .deadlines
            .iter()
            .filter(|&(_, &d)| d <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            self.deadlines.remove(&key);
            self.data.remove(&key);
            self.expired += 1;
        }
    }
}
