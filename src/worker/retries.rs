//! The `Retries` middleware's decision, after `dramatiq.middleware.retries` (2.x).
//!
//! When an actor raises, the message is either failed (and only then does `Results` store
//! the exception, on nack) or re-enqueued with a back-off delay and its `retries` option
//! bumped. Which one, and how long the delay, is decided here; the worker acts on it.

use crate::codec::py_repr::py_repr;
use crate::codec::value::{option, Value};
use crate::wait::backoff::{backoff_ms, Jitter};

/// Dramatiq's default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u64 = 20;
/// Dramatiq's `DEFAULT_MIN_BACKOFF`: the back-off factor, in ms.
pub const DEFAULT_MIN_BACKOFF_MS: u64 = 15_000;
/// Dramatiq's `DEFAULT_MAX_BACKOFF` (7 days), which also caps any configured maximum.
pub const DEFAULT_MAX_BACKOFF_MS: u64 = 7 * 86_400_000;
/// The actor options the middleware adds to a broker.
pub const ACTOR_OPTIONS: [&str; 6] = [
    "max_retries",
    "min_backoff",
    "max_backoff",
    "retry_when",
    "throws",
    "on_retry_exhausted",
];

/// The `Retries` middleware's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Failures retried before the message fails; `None` retries forever.
    pub max_retries: Option<u64>,
    /// The back-off factor, in ms.
    pub min_backoff_ms: u64,
    /// The longest back-off, in ms.
    pub max_backoff_ms: u64,
}

impl Default for Retries {
    fn default() -> Self {
        Retries::new(Some(DEFAULT_MAX_RETRIES), None, None)
    }
}

/// Dramatiq's `Retries` line when a `throws` class matched (INFO): `Aborting message %r.`
pub fn aborting_line(message_id: &str) -> String {
    format!("Aborting message {}.", quoted(message_id))
}

/// Dramatiq's `Retries` line when the retries are exhausted (WARNING):
/// `Retries exceeded for message %r.`
pub fn exceeded_line(message_id: &str) -> String {
    format!("Retries exceeded for message {}.", quoted(message_id))
}

/// Dramatiq's `Retries` line before a retry (INFO): `Retrying message %r in %d
/// milliseconds.`, the delay truncated toward zero as Python's `%d` does (`Retry(delay=2.5)`
/// logs 2, a negative one its sign).
pub fn retrying_line(message_id: &str, delay_ms: f64) -> String {
    // Finite and within ±2^53 here (`decide` gives no other), so the integer is exact.
    let whole = delay_ms.trunc() as i64;
    format!(
        "Retrying message {} in {whole} milliseconds.",
        quoted(message_id)
    )
}

/// Python's `%r` of a message id (a `str`): `'…'`.
fn quoted(message_id: &str) -> String {
    py_repr(&Value::Str(message_id.to_owned()))
}

/// What happens to a message whose actor raised. Dramatiq bumps the `retries` option on
/// every failure, before deciding, unless a `throws` class matched.
#[derive(Debug, Clone, PartialEq)]
pub enum Retry {
    /// A `throws` class matched: fail it, options untouched.
    Abort,
    /// Retries are exhausted: fail it with its `retries` option set to `retries`. It is
    /// nacked and, with results on, its exception stored.
    Fail {
        /// The new value of the message's `retries` option.
        retries: Value,
    },
    /// Re-enqueue it after `delay_ms`, with its `retries` option set to `retries`.
    Again {
        /// The new value of the message's `retries` option.
        retries: Value,
        /// The delay before the next attempt (whole, or as a `Retry` error asked).
        delay_ms: f64,
    },
    /// Python's `Retries` hook raised: the `retries` option is no number (`"x" + 1`), or
    /// a NaN count made the back-off `int(nan)`. The message is neither retried nor
    /// failed, so the worker acks it (Python logs the hook's failure and goes on).
    /// `retries`: the bumped count when Python had already written it (NaN), else `None`
    /// (the options are untouched).
    Broken {
        /// The new value of the `retries` option, when Python set it before raising.
        retries: Option<Value>,
    },
}

/// What the worker knows about the failure beyond the options.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Failure {
    /// The exception matched the actor's or message's `throws` classes.
    pub thrown: bool,
    /// The actor's `retry_when(retries, error)` answer, when it has one.
    pub retry_when: Option<bool>,
    /// The delay a `Retry` error asked for.
    pub requested_delay_ms: Option<f64>,
}

/// How many times a message has been retried, as Python's `Retries` reads its `retries`
/// option (`setdefault("retries", 0)`): any number it can add 1 to (a negative count, a
/// fraction, `true`), as a float for comparisons; `None` for anything else (a string,
/// `null`, a list), on which Python's `+= 1` raises.
pub fn retries_so_far(message_options: &[(String, Value)]) -> Option<f64> {
    match option(message_options, "retries") {
        None => Some(0.0),
        Some(v) => v.as_number(),
    }
}

/// The `retries` option after Python's `message.options["retries"] += 1`: an int stays an
/// int (a big one too), a float a float, `true` becomes 2; `None` where Python raises.
fn bumped(message_options: &[(String, Value)]) -> Option<Value> {
    match option(message_options, "retries") {
        None => Some(Value::Int(1)),
        Some(Value::Int(n)) => Some(match n.checked_add(1) {
            Some(next) => Value::Int(next),
            None => Value::BigInt("9223372036854775808".into()),
        }),
        Some(Value::BigInt(digits)) => Some(Value::BigInt(plus_one(digits))),
        Some(Value::Float(x)) => Some(Value::Float(x + 1.0)),
        Some(Value::Bool(b)) => Some(Value::Int(i64::from(*b) + 1)),
        Some(_) => None,
    }
}

/// A big integer's decimal text plus one (beyond i64 either way, so never crossing zero).
fn plus_one(digits: &str) -> String {
    let (negative, magnitude) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    let mut out: Vec<u8> = magnitude.bytes().collect();
    // Add one to the magnitude of a positive number, take one from a negative one's.
    let mut carry = true;
    for digit in out.iter_mut().rev() {
        if !carry {
            break;
        }
        match (negative, *digit) {
            (false, b'9') => *digit = b'0',
            (true, b'0') => *digit = b'9',
            (false, d) => {
                *digit = d.wrapping_add(1);
                carry = false;
            }
            (true, d) => {
                *digit = d.wrapping_sub(1);
                carry = false;
            }
        }
    }
    if carry && !negative {
        out.insert(0, b'1');
    }
    let mut text = String::from_utf8(out).unwrap_or_default();
    if negative {
        let trimmed = text.trim_start_matches('0');
        text = format!("-{}", if trimmed.is_empty() { "0" } else { trimmed });
    }
    text
}

/// Whether `retries` has reached a message's or actor's `max_retries`: Python's
/// `retries >= max_retries`, numeric whatever the number's type (a limit of `1.5` allows two
/// retries, `true` one); `null` never ends. `None` for a value Python cannot compare with a
/// number (a string, a list): its hook raises there.
fn reached(retries: f64, limit: &Value) -> Option<bool> {
    match limit {
        Value::Null => Some(false),
        // NaN compares false in Python too: it retries forever, as a `null` limit does.
        limit => limit.as_number().map(|max| retries >= max),
    }
}

impl Retries {
    /// `Retries(max_retries=…, min_backoff=…, max_backoff=…)`; a missing or zero back-off
    /// means the default (Dramatiq's `or`).
    pub fn new(
        max_retries: Option<u64>,
        min_backoff_ms: Option<u64>,
        max_backoff_ms: Option<u64>,
    ) -> Self {
        let or_default = |v: Option<u64>, d| v.filter(|&ms| ms > 0).unwrap_or(d);
        Retries {
            max_retries,
            min_backoff_ms: or_default(min_backoff_ms, DEFAULT_MIN_BACKOFF_MS),
            max_backoff_ms: or_default(max_backoff_ms, DEFAULT_MAX_BACKOFF_MS),
        }
    }

    /// `after_process_message` with an exception. `max_retries`, `min_backoff` and
    /// `max_backoff` are each looked up message, then actor, then middleware, a present key
    /// winning even when falsy (Dramatiq 2.x's nested `dict.get`: a message's
    /// `min_backoff: 0` retries at once); a `null` `max_retries` retries forever.
    pub fn decide(
        &self,
        message_options: &[(String, Value)],
        actor_options: &[(String, Value)],
        failure: Failure,
        jitter: &mut Jitter,
    ) -> Retry {
        if failure.thrown {
            return Retry::Abort;
        }
        let (Some(retries), Some(next)) =
            (retries_so_far(message_options), bumped(message_options))
        else {
            return Retry::Broken { retries: None };
        };
        let exhausted = match failure.retry_when {
            Some(again) => !again,
            None => match option(message_options, "max_retries")
                .or_else(|| option(actor_options, "max_retries"))
            {
                None => self.max_retries.is_some_and(|max| retries >= max as f64),
                Some(limit) => match reached(retries, limit) {
                    Some(reached) => reached,
                    // `retries >= "3"` raises in Python, after the count was bumped.
                    None => {
                        return Retry::Broken {
                            retries: Some(next),
                        }
                    }
                },
            },
        };
        if exhausted {
            return Retry::Fail { retries: next };
        }
        let delay_ms = match failure.requested_delay_ms {
            Some(ms) => ms,
            None => {
                // Any number is Python's to multiply (10.5 ms, `true`); a present option
                // that is no number (`null`, `"x"`) makes Python's arithmetic raise, as do
                // a NaN or infinite delay (`int(nan)`): the hook fails, after the count was
                // bumped. A negative back-off is an eta in the past, as Python's.
                let broken = Retry::Broken {
                    retries: Some(next.clone()),
                };
                let pick = |name: &str, default: u64| match option(message_options, name)
                    .or_else(|| option(actor_options, name))
                {
                    None => Some(default as f64),
                    Some(v) => v.as_number(),
                };
                let (Some(factor), Some(max)) = (
                    pick("min_backoff", self.min_backoff_ms),
                    pick("max_backoff", self.max_backoff_ms),
                ) else {
                    return broken;
                };
                // Python's `min(max_backoff, DEFAULT)` keeps a NaN (its first argument).
                let cap = DEFAULT_MAX_BACKOFF_MS as f64;
                let max = if max > cap { cap } else { max };
                // Python's `min(retries, 32)` as the exponent: a negative count backs off
                // less than `min_backoff` (-4: a sixteenth), a fraction in between.
                let delay = backoff_ms(retries, factor, max, jitter);
                if !delay.is_finite() {
                    return broken;
                }
                // A negative one is kept: an eta in the past, due at once, as Python's.
                delay
            }
        };
        Retry::Again {
            retries: next,
            delay_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn log_lines_are_dramatiqs_word_for_word() {
        // What Python's `Retries` logs, `%r` of the id and `%d` of the delay.
        assert_eq!(aborting_line("m-1"), "Aborting message 'm-1'.");
        assert_eq!(exceeded_line("m-1"), "Retries exceeded for message 'm-1'.");
        assert_eq!(
            retrying_line("m-1", 2.7),
            "Retrying message 'm-1' in 2 milliseconds."
        );
        assert_eq!(
            retrying_line("m-1", -2.5),
            "Retrying message 'm-1' in -2 milliseconds."
        );
        assert_eq!(
            retrying_line("it's", 15_000.0),
            "Retrying message \"it's\" in 15000 milliseconds."
        );
    }

    fn decide(mw: Retries, msg: &[(&str, Value)], actor: &[(&str, Value)], f: Failure) -> Retry {
        mw.decide(&opts(msg), &opts(actor), f, &mut Jitter::new(1))
    }

    #[test]
    fn max_retries_zero_fails_the_first_failure() {
        let r = decide(
            Retries::default(),
            &[],
            &[("max_retries", 0.into())],
            Failure::default(),
        );
        // Bumped to 1 even so: the vectors record `retries: 1` at nack.
        assert_eq!(
            r,
            Retry::Fail {
                retries: Value::Int(1)
            }
        );
    }

    #[test]
    fn one_retry_then_fail_as_the_vector_records() {
        let actor = [
            ("max_retries", Value::Int(1)),
            ("min_backoff", Value::Int(10)),
            ("max_backoff", Value::Int(20)),
        ];
        let first = decide(Retries::default(), &[], &actor, Failure::default());
        let Retry::Again { retries, delay_ms } = first else {
            panic!("{first:?}")
        };
        assert_eq!(retries, Value::Int(1));
        assert!((10.0..=20.0).contains(&delay_ms), "{delay_ms}");
        let second = decide(
            Retries::default(),
            &[("retries", 1.into())],
            &actor,
            Failure::default(),
        );
        assert_eq!(
            second,
            Retry::Fail {
                retries: Value::Int(2)
            }
        );
    }

    #[test]
    fn message_option_beats_actor_and_null_retries_forever() {
        let actor = [("max_retries", Value::Int(0))];
        let r = decide(
            Retries::default(),
            &[("max_retries", 3.into()), ("retries", 2.into())],
            &actor,
            Failure::default(),
        );
        assert!(
            matches!(
                r,
                Retry::Again {
                    retries: Value::Int(3),
                    ..
                }
            ),
            "{r:?}"
        );
        let r = decide(
            Retries::default(),
            &[("retries", 1_000_000.into())],
            &[("max_retries", Value::Null)],
            Failure::default(),
        );
        assert!(matches!(r, Retry::Again { .. }), "{r:?}");
    }

    #[test]
    fn throws_and_retry_when_override_the_count() {
        let thrown = Failure {
            thrown: true,
            ..Failure::default()
        };
        assert_eq!(decide(Retries::default(), &[], &[], thrown), Retry::Abort);
        let no = Failure {
            retry_when: Some(false),
            ..Failure::default()
        };
        assert_eq!(
            decide(Retries::default(), &[], &[], no),
            Retry::Fail {
                retries: Value::Int(1)
            }
        );
        let yes = Failure {
            retry_when: Some(true),
            ..Failure::default()
        };
        let r = decide(Retries::default(), &[("retries", 500.into())], &[], yes);
        assert!(
            matches!(
                r,
                Retry::Again {
                    retries: Value::Int(501),
                    ..
                }
            ),
            "{r:?}"
        );
    }

    #[test]
    fn backoff_grows_from_min_and_is_capped() {
        let mw = Retries::new(None, Some(100), Some(1_000));
        for (retries, low, high) in [(0u64, 100.0, 200.0), (1, 200.0, 400.0), (2, 400.0, 800.0)] {
            let r = decide(
                mw,
                &[("retries", Value::Int(retries as i64))],
                &[],
                Failure::default(),
            );
            let Retry::Again { delay_ms, .. } = r else {
                panic!()
            };
            assert!(
                (low..high).contains(&delay_ms),
                "retry {retries}: {delay_ms}"
            );
        }
        let r = decide(mw, &[("retries", 40.into())], &[], Failure::default());
        let Retry::Again { delay_ms, .. } = r else {
            panic!()
        };
        assert!((500.0..1_000.0).contains(&delay_ms), "{delay_ms}");
        // A requested delay (a `Retry` error) is used as is.
        let asked = Failure {
            requested_delay_ms: Some(7.0),
            ..Failure::default()
        };
        assert_eq!(
            decide(mw, &[], &[], asked),
            Retry::Again {
                retries: Value::Int(1),
                delay_ms: 7.0
            }
        );
        // A fraction too (Python's `Retry(delay=2.5)`: its eta is then `now + 2.5`).
        let asked = Failure {
            requested_delay_ms: Some(2.5),
            ..Failure::default()
        };
        assert!(
            matches!(decide(mw, &[], &[], asked), Retry::Again { delay_ms, .. } if delay_ms == 2.5)
        );
    }

    #[test]
    fn falsy_backoffs_and_fractional_limits_are_pythons() {
        // A message's `min_backoff: 0` wins over the actor's 60 s: the retry is due at once.
        let actor = [
            ("min_backoff", Value::Int(60_000)),
            ("max_retries", 3.into()),
        ];
        for (name, value) in [("min_backoff", 0.into()), ("max_backoff", 0.into())] {
            let r = decide(
                Retries::default(),
                &[(name, value)],
                &actor,
                Failure::default(),
            );
            assert_eq!(
                r,
                Retry::Again {
                    retries: Value::Int(1),
                    delay_ms: 0.0
                },
                "{name}"
            );
        }
        // A fractional back-off is multiplied as Python does (10.5 ms: 10 to 20 ms).
        let r = decide(
            Retries::default(),
            &[("min_backoff", Value::Float(10.5))],
            &actor,
            Failure::default(),
        );
        let Retry::Again { delay_ms, .. } = r else {
            panic!("{r:?}")
        };
        assert!((10.0..21.0).contains(&delay_ms), "{delay_ms}");
        // A negative one is kept, as Python's `int(-5 * uniform(1, 2))`: an eta in the past.
        let r = decide(
            Retries::default(),
            &[("min_backoff", Value::Int(-5))],
            &actor,
            Failure::default(),
        );
        let Retry::Again { retries, delay_ms } = r else {
            panic!("{r:?}")
        };
        assert_eq!(retries, Value::Int(1));
        assert!((-10.0..=-5.0).contains(&delay_ms), "{delay_ms}");
        // `retries >= 1.5`: two retries, then the failure.
        let limit = [("max_retries", Value::Float(1.5))];
        for (so_far, again) in [(0, true), (1, true), (2, false)] {
            let r = decide(
                Retries::default(),
                &[("retries", Value::Int(so_far))],
                &limit,
                Failure::default(),
            );
            assert_eq!(matches!(r, Retry::Again { .. }), again, "{so_far}: {r:?}");
        }
        let r = decide(
            Retries::default(),
            &[("retries", 1.into())],
            &[("max_retries", true.into())],
            Failure::default(),
        );
        assert_eq!(
            r,
            Retry::Fail {
                retries: Value::Int(2)
            }
        );
        let r = decide(
            Retries::default(),
            &[("retries", 9.into())],
            &[("max_retries", Value::Float(f64::NAN))],
            Failure::default(),
        );
        assert!(matches!(r, Retry::Again { .. }), "{r:?}");
        let r = decide(
            Retries::default(),
            &[],
            &[("max_retries", Value::Int(-1))],
            Failure::default(),
        );
        assert_eq!(
            r,
            Retry::Fail {
                retries: Value::Int(1)
            }
        );
        // Python's `0 >= "3"` raises: the hook fails with the count bumped.
        let r = decide(
            Retries::default(),
            &[],
            &[("max_retries", "3".into())],
            Failure::default(),
        );
        assert_eq!(
            r,
            Retry::Broken {
                retries: Some(Value::Int(1))
            }
        );
        // So do back-offs Python cannot multiply (run: no retry, no dead letter), while a
        // NaN cap is Python's `min(nan, 7 days)`, NaN, which no back-off exceeds.
        for (name, value) in [
            ("min_backoff", Value::from("x")),
            ("min_backoff", Value::Null),
            ("max_backoff", Value::Null),
            ("min_backoff", Value::Float(f64::NAN)),
            ("min_backoff", Value::Float(f64::INFINITY)),
        ] {
            let r = decide(
                Retries::default(),
                &[(name, value.clone())],
                &[],
                Failure::default(),
            );
            assert_eq!(
                r,
                Retry::Broken {
                    retries: Some(Value::Int(1))
                },
                "{name}: {value:?}"
            );
        }
        let r = decide(
            Retries::default(),
            &[("max_backoff", Value::Float(f64::NAN))],
            &[("min_backoff", 1_000.into())],
            Failure::default(),
        );
        assert!(
            matches!(r, Retry::Again { delay_ms, .. } if (1_000.0..2_000.0).contains(&delay_ms)),
            "{r:?}"
        );
    }

    #[test]
    fn odd_counts_are_counted_as_python_counts_them() {
        // Python 2.2.1, run: retries -4 → -3 with a back-off of 1000 · 2^-4 (62–125 ms);
        // 1.5 → 2.5 (2 828–5 657 ms); true → 2; 3 of 3 → exhausted, 4.
        let actor = [
            ("max_retries", Value::Int(3)),
            ("min_backoff", Value::Int(1_000)),
            ("max_backoff", Value::Int(100_000)),
        ];
        for (seed, given, next, low, high) in [
            (1, Value::Int(-4), Value::Int(-3), 62.0, 125.0),
            (2, Value::Float(1.5), Value::Float(2.5), 2_828.0, 5_657.0),
            (3, Value::Bool(true), Value::Int(2), 2_000.0, 4_000.0),
            (4, Value::Float(-1.5), Value::Float(-0.5), 353.0, 708.0),
        ] {
            let r = Retries::default().decide(
                &opts(&[("retries", given.clone())]),
                &opts(&actor),
                Failure::default(),
                &mut Jitter::new(seed),
            );
            let Retry::Again { retries, delay_ms } = r else {
                panic!("{given:?}: {r:?}")
            };
            assert_eq!(retries, next, "{given:?}");
            assert!((low..high).contains(&delay_ms), "{given:?}: {delay_ms}");
        }
        let r = decide(
            Retries::default(),
            &[("retries", 3.into())],
            &actor,
            Failure::default(),
        );
        assert_eq!(
            r,
            Retry::Fail {
                retries: Value::Int(4)
            }
        );
        // A count Python cannot add 1 to: its hook raises, the message is left alone.
        for bad in [Value::from("x"), Value::Null, Value::List(vec![])] {
            let r = decide(
                Retries::default(),
                &[("retries", bad)],
                &actor,
                Failure::default(),
            );
            assert_eq!(r, Retry::Broken { retries: None });
        }
        // NaN is bumped, then `int(nan)` raises.
        let r = decide(
            Retries::default(),
            &[("retries", Value::Float(f64::NAN))],
            &actor,
            Failure::default(),
        );
        assert!(
            matches!(r, Retry::Broken { retries: Some(Value::Float(x)) } if x.is_nan()),
            "{r:?}"
        );
        // Past i64 the count goes on in decimal.
        assert_eq!(plus_one("9223372036854775808"), "9223372036854775809");
        assert_eq!(plus_one("99999999999999999999"), "100000000000000000000");
        assert_eq!(plus_one("-10000000000000000000"), "-9999999999999999999");
    }

    #[test]
    fn defaults_and_hostile_counts() {
        let mw = Retries::new(Some(20), Some(0), None);
        assert_eq!(mw.min_backoff_ms, DEFAULT_MIN_BACKOFF_MS);
        assert_eq!(mw.max_backoff_ms, DEFAULT_MAX_BACKOFF_MS);
        assert_eq!(retries_so_far(&opts(&[("retries", "x".into())])), None);
        assert_eq!(
            retries_so_far(&opts(&[("retries", Value::Int(-4))])),
            Some(-4.0)
        );
        let r = decide(
            mw,
            &[("retries", Value::Int(i64::MAX))],
            &[("max_retries", Value::Null)],
            Failure::default(),
        );
        assert!(matches!(r, Retry::Again { .. }));
    }
}
