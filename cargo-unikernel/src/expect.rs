//! Checking a QEMU test's console output and outcome against its expectations.

use std::fmt;

use regex::Regex;

use crate::metadata::{ExpectExit, TestSpec};
use crate::outcome::Outcome;

/// The first expectation a run did not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The run ended differently than `expect-exit` says.
    Exit {
        /// What the test expected.
        expected: ExpectExit,
        /// How the run ended.
        actual: Outcome,
    },
    /// No line at or after `from_line` (1-based) matched this `expect-output` pattern.
    MissingOutput {
        /// The pattern.
        pattern: String,
        /// The line after the previous pattern's match, where the search began.
        from_line: usize,
    },
    /// Line `line` (1-based) matched a `forbid-output` pattern.
    ForbiddenOutput {
        /// The pattern.
        pattern: String,
        /// The line number.
        line: usize,
        /// The line's text.
        text: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Exit { expected, actual } => {
                let expected = match expected {
                    ExpectExit::Success => "success",
                    ExpectExit::Failure => "failure",
                };
                write!(f, "expected exit {expected}, but {actual}")
            }
            Mismatch::MissingOutput { pattern, from_line } if *from_line <= 1 => {
                write!(f, "no output line matches `{pattern}`")
            }
            Mismatch::MissingOutput { pattern, from_line } => {
                write!(
                    f,
                    "no output line from line {from_line} on matches `{pattern}` (expect-output matches in order)"
                )
            }
            Mismatch::ForbiddenOutput {
                pattern,
                line,
                text,
            } => {
                write!(f, "line {line} matches forbidden `{pattern}`: {text}")
            }
        }
    }
}

/// Splits console output into lines, dropping the `\r` of serial `\r\n`.
pub fn console_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .collect()
}

/// The first unmet expectation of `spec` for a run that ended with `outcome`
/// and printed `output`, or `None` when the test passes.
///
/// A timeout or an unexpected machine end fails even an `expect-exit = "failure"`
/// test: that expectation means the application reported failure.
pub fn check(spec: &TestSpec, outcome: Outcome, output: &str) -> Option<Mismatch> {
    let exit_ok = match spec.expect_exit {
        ExpectExit::Success => outcome == Outcome::Success,
        ExpectExit::Failure => outcome == Outcome::AppFailure,
    };
    if !exit_ok {
        return Some(Mismatch::Exit {
            expected: spec.expect_exit,
            actual: outcome,
        });
    }
    let lines = console_lines(output);
    check_in_order(&spec.expect_output, &lines)
        .or_else(|| check_anywhere(&spec.expect_lines, &lines))
        .or_else(|| check_forbidden(&spec.forbid_output, &lines))
}

/// Each pattern must match a line after the line the previous one matched.
fn check_in_order(patterns: &[Regex], lines: &[&str]) -> Option<Mismatch> {
    let mut next = 0;
    for pattern in patterns {
        match lines[next..].iter().position(|line| pattern.is_match(line)) {
            Some(offset) => next += offset + 1,
            None => {
                return Some(Mismatch::MissingOutput {
                    pattern: pattern.to_string(),
                    from_line: next + 1,
                });
            }
        }
    }
    None
}

/// Each pattern must match some line, wherever it is.
fn check_anywhere(patterns: &[Regex], lines: &[&str]) -> Option<Mismatch> {
    patterns
        .iter()
        .find(|p| !lines.iter().any(|line| p.is_match(line)))
        .map(|p| Mismatch::MissingOutput {
            pattern: p.to_string(),
            from_line: 1,
        })
}

fn check_forbidden(patterns: &[Regex], lines: &[&str]) -> Option<Mismatch> {
    lines.iter().enumerate().find_map(|(index, line)| {
        patterns
            .iter()
            .find(|p| p.is_match(line))
            .map(|p| Mismatch::ForbiddenOutput {
                pattern: p.to_string(),
                line: index + 1,
                text: (*line).to_owned(),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::KernelConfig;
    use crate::outcome::UnexpectedEnd;
    use serde_json::json;
    use std::time::Duration;

    fn spec(test: serde_json::Value) -> TestSpec {
        KernelConfig::from_json(&json!({ "test": [test] }))
            .unwrap()
            .tests
            .remove(0)
    }

    const OUTPUT: &str = "booting\r\nhello, sum = 499500\r\nframes: 32000\r\nbye\r\n";

    #[test]
    fn passes_when_patterns_match_in_order() {
        let s = spec(
            json!({ "expect-output": ["^hello, sum = 499500$", "frames: \\d+"], "forbid-output": ["panicked"] }),
        );
        assert_eq!(check(&s, Outcome::Success, OUTPUT), None);
    }

    #[test]
    fn anchors_work_on_crlf_lines() {
        let s = spec(json!({ "expect-output": ["^bye$"] }));
        assert_eq!(check(&s, Outcome::Success, OUTPUT), None);
    }

    #[test]
    fn order_matters() {
        let s = spec(json!({ "expect-output": ["frames", "hello"] }));
        assert_eq!(
            check(&s, Outcome::Success, OUTPUT),
            Some(Mismatch::MissingOutput {
                pattern: "hello".into(),
                from_line: 4
            })
        );
        // One line cannot satisfy two patterns.
        let s = spec(json!({ "expect-output": ["hello", "sum"] }));
        assert!(check(&s, Outcome::Success, OUTPUT).is_some());
    }

    #[test]
    fn expect_lines_match_in_any_order() {
        let s = spec(json!({ "expect-lines": ["^bye$", "^booting$", "frames: \\d+"] }));
        assert_eq!(check(&s, Outcome::Success, OUTPUT), None);
        let s = spec(json!({ "expect-lines": ["^bye$", "^missing$"] }));
        assert_eq!(
            check(&s, Outcome::Success, OUTPUT),
            Some(Mismatch::MissingOutput {
                pattern: "^missing$".into(),
                from_line: 1
            })
        );
    }

    #[test]
    fn forbidden_output_is_reported_with_its_line() {
        let s = spec(json!({ "forbid-output": ["^frames"] }));
        assert_eq!(
            check(&s, Outcome::Success, OUTPUT),
            Some(Mismatch::ForbiddenOutput {
                pattern: "^frames".into(),
                line: 3,
                text: "frames: 32000".into()
            })
        );
    }

    #[test]
    fn exit_expectations() {
        let success = spec(json!({}));
        let failure = spec(json!({ "expect-exit": "failure", "expect-output": ["panicked at"] }));
        assert_eq!(check(&success, Outcome::Success, ""), None);
        assert!(matches!(
            check(&success, Outcome::AppFailure, ""),
            Some(Mismatch::Exit { .. })
        ));
        assert_eq!(
            check(&failure, Outcome::AppFailure, "panicked at src/main.rs:3:5"),
            None
        );
        // The exit is checked before the output.
        assert!(matches!(
            check(&failure, Outcome::Success, "panicked at x"),
            Some(Mismatch::Exit { .. })
        ));
        for bad_end in [
            Outcome::Timeout(Duration::from_secs(1)),
            Outcome::Unexpected(UnexpectedEnd::Status(0)),
        ] {
            assert!(
                check(&failure, bad_end, "panicked at x").is_some(),
                "{bad_end:?}"
            );
        }
        assert_eq!(
            check(&success, Outcome::Unexpected(UnexpectedEnd::Status(0)), "")
                .unwrap()
                .to_string(),
            "expected exit success, but machine reset or exited unexpectedly (QEMU status 0)"
        );
    }
}
