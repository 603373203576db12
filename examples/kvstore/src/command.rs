//! Parsing one line of the workload into a [`Command`].

use alloc::string::String;
use core::fmt;

/// One request to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `SET key value...`: the value is the rest of the line.
    Set(&'a str, &'a str),
    /// `GET key`.
    Get(&'a str),
    /// `DEL key [key...]`.
    Del(alloc::vec::Vec<&'a str>),
    /// `EXISTS key`.
    Exists(&'a str),
    /// `INCR key [delta]`: adds to an integer value (missing keys count as 0).
    Incr(&'a str, i64),
    /// `APPEND key text`.
    Append(&'a str, &'a str),
    /// `SCAN prefix [limit]`: keys starting with `prefix`, in order.
    Scan(&'a str, usize),
    /// `DELPREFIX prefix`: deletes every key starting with `prefix`.
    DelPrefix(&'a str),
    /// `COUNT`: live keys.
    Count,
    /// `EXPIRE key ms`: the key disappears `ms` milliseconds from now.
    Expire(&'a str, u64),
    /// `TTL key`: milliseconds left, -1 without expiry, -2 for a missing key.
    Ttl(&'a str),
    /// `SLEEP ms`: waits (to let keys expire).
    Sleep(u64),
    /// `BEGIN`: starts a transaction.
    Begin,
    /// `COMMIT`: keeps the transaction's changes.
    Commit,
    /// `ROLLBACK`: undoes the transaction's changes.
    Rollback,
    /// `FILL prefix count`: bulk-loads `count` generated keys.
    Fill(&'a str, u32),
    /// `CHECKSUM`: FNV-1a over every key and value, in key order.
    Checksum,
    /// `STATS`: store and heap statistics.
    Stats,
}

impl Command<'_> {
    /// The command's name, for the per-command summary.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Set(..) => "SET",
            Command::Get(..) => "GET",
            Command::Del(..) => "DEL",
            Command::Exists(..) => "EXISTS",
            Command::Incr(..) => "INCR",
            Command::Append(..) => "APPEND",
            Command::Scan(..) => "SCAN",
            Command::DelPrefix(..) => "DELPREFIX",
            Command::Count => "COUNT",
            Command::Expire(..) => "EXPIRE",
            Command::Ttl(..) => "TTL",
            Command::Sleep(..) => "SLEEP",
            Command::Begin => "BEGIN",
            Command::Commit => "COMMIT",
            Command::Rollback => "ROLLBACK",
            Command::Fill(..) => "FILL",
            Command::Checksum => "CHECKSUM",
            Command::Stats => "STATS",
        }
    }
}

/// Why a line is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The first word names no command.
    UnknownCommand(String),
    /// Too few or too many arguments; holds the usage line.
    Usage(&'static str),
    /// An argument that must be a number is not one.
    NotANumber(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownCommand(c) => write!(f, "unknown command '{c}'"),
            ParseError::Usage(usage) => write!(f, "wrong number of arguments, usage: {usage}"),
            ParseError::NotANumber(s) => write!(f, "'{s}' is not a valid number"),
        }
    }
}

impl core::error::Error for ParseError {}

/// Splits off the first whitespace-separated word.
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    Some((&s[..end], s[end..].trim_start()))
}

fn number<T: core::str::FromStr>(s: &str) -> Result<T, ParseError> {
    s.parse().map_err(|_| ParseError::NotANumber(s.into()))
}

/// Parses a non-blank, non-comment line. Command names are case-insensitive.
pub fn parse(line: &str) -> Result<Command<'_>, ParseError> {
    let (name, rest) = word(line).ok_or(ParseError::Usage("COMMAND [ARGS...]"))?;
    let args: alloc::vec::Vec<&str> = rest.split_whitespace().collect();
    // `usage` doubles as the arity check: the number of words it lists.
    let exact = |usage: &'static str, n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(ParseError::Usage(usage))
        }
    };
    let upper = name.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "SET" => {
            let (key, value) = word(rest).ok_or(ParseError::Usage("SET key value"))?;
            if value.is_empty() {
                return Err(ParseError::Usage("SET key value"));
            }
            Command::Set(key, value.trim_end())
        }
        "GET" => exact("GET key", 1).map(|()| Command::Get(args[0]))?,
        "DEL" if !args.is_empty() => Command::Del(args),
        "DEL" => return Err(ParseError::Usage("DEL key [key...]")),
        "EXISTS" => exact("EXISTS key", 1).map(|()| Command::Exists(args[0]))?,
        "INCR" => match args.as_slice() {
            [key] => Command::Incr(key, 1),
            [key, delta] => Command::Incr(key, number(delta)?),
            _ => return Err(ParseError::Usage("INCR key [delta]")),
        },
        "APPEND" => {
            let (key, text) = word(rest).ok_or(ParseError::Usage("APPEND key text"))?;
            if text.is_empty() {
                return Err(ParseError::Usage("APPEND key text"));
            }
            Command::Append(key, text.trim_end())
        }
        "SCAN" => match args.as_slice() {
            [prefix] => Command::Scan(prefix, usize::MAX),
            [prefix, limit] => Command::Scan(prefix, number(limit)?),
            _ => return Err(ParseError::Usage("SCAN prefix [limit]")),
        },
        "DELPREFIX" => exact("DELPREFIX prefix", 1).map(|()| Command::DelPrefix(args[0]))?,
        "COUNT" => exact("COUNT", 0).map(|()| Command::Count)?,
        "EXPIRE" => {
            exact("EXPIRE key milliseconds", 2)?;
            Command::Expire(args[0], number(args[1])?)
        }
        "TTL" => exact("TTL key", 1).map(|()| Command::Ttl(args[0]))?,
        "SLEEP" => {
            exact("SLEEP milliseconds", 1)?;
            Command::Sleep(number(args[0])?)
        }
        "BEGIN" => exact("BEGIN", 0).map(|()| Command::Begin)?,
        "COMMIT" => exact("COMMIT", 0).map(|()| Command::Commit)?,
        "ROLLBACK" => exact("ROLLBACK", 0).map(|()| Command::Rollback)?,
        "FILL" => {
            exact("FILL prefix count", 2)?;
            Command::Fill(args[0], number(args[1])?)
        }
        "CHECKSUM" => exact("CHECKSUM", 0).map(|()| Command::Checksum)?,
        "STATS" => exact("STATS", 0).map(|()| Command::Stats)?,
        _ => return Err(ParseError::UnknownCommand(name.into())),
    })
}
