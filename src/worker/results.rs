//! The `Results` middleware's decisions, after `dramatiq.results.middleware`.
//!
//! Which options apply (message, then actor, then middleware defaults, with an explicit
//! `0` kept), and what each worker hook does with a message's outcome: store its value,
//! store its exception, store `None` for a skip, warn that a value was discarded, or do
//! nothing. The broker and worker act on these decisions; keeping them here, pure, lets
//! them be tested without either.

use crate::codec::value::{option, Value};
use crate::results::backend::DEFAULT_RESULT_TTL_MS;

/// The actor options the middleware adds to a broker (Dramatiq's `actor_options`).
pub const ACTOR_OPTIONS: [&str; 2] = ["store_results", "result_ttl"];

/// Dramatiq's warning when an actor's return value is dropped.
pub fn discarded_warning(actor_name: &str) -> String {
    format!(
        "Actor '{actor_name}' returned a value that is not None, but you haven't set its \
         `store_results' option to `True' so the value has been discarded."
    )
}

/// Dramatiq's worker warning when no `Results` middleware is installed.
pub fn missing_middleware_warning(actor_name: &str) -> String {
    format!(
        "Actor '{actor_name}' returned a value that is not None, and you haven't added the \
         Results middleware to the broker, so the value has been discarded. Consider adding \
         the Results middleware to your broker or piping the result into another actor."
    )
}

/// The options in force for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    /// Whether results are stored.
    pub store_results: bool,
    /// For how long, in milliseconds.
    pub result_ttl_ms: u64,
}

/// What a hook should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Store the actor's return value for this long.
    StoreResult {
        /// TTL in milliseconds.
        ttl_ms: u64,
    },
    /// Store `None` (a message skipped without failing).
    StoreNone {
        /// TTL in milliseconds.
        ttl_ms: u64,
    },
    /// Store the message's exception (or `Exception: unknown` when none was recorded).
    StoreException {
        /// TTL in milliseconds.
        ttl_ms: u64,
    },
    /// Log [`discarded_warning`].
    WarnDiscarded,
    /// Nothing to do.
    Nothing,
}

/// The outcome of processing one message, as the hooks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The actor returned `None` (`null` or `undefined` in JS).
    ReturnedNone,
    /// The actor returned something else.
    ReturnedValue,
    /// The actor raised.
    Raised,
}

/// The `Results` middleware's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Results {
    /// Default for actors that do not say (`store_results=False` in Dramatiq).
    pub store_results: bool,
    /// Default TTL in milliseconds.
    pub result_ttl_ms: u64,
}

impl Default for Results {
    fn default() -> Self {
        Results::new(false, None)
    }
}

/// A TTL option as milliseconds: a non-negative integer (an integral float is accepted, as
/// Python would pass it on). Anything else is an error naming the option.
pub fn ttl_option(v: &Value) -> Result<u64, String> {
    v.as_count().ok_or_else(|| {
        format!(
            "result_ttl must be a non-negative integer number of milliseconds, got {}",
            crate::codec::py_repr(v)
        )
    })
}

impl Results {
    /// `Results(store_results=…, result_ttl=…)`: a TTL of `None` or `0` means the default
    /// 600 000 ms at this level (Dramatiq's `result_ttl or DEFAULT_RESULT_TTL`).
    pub fn new(store_results: bool, result_ttl_ms: Option<u64>) -> Self {
        Results {
            store_results,
            result_ttl_ms: match result_ttl_ms {
                None | Some(0) => DEFAULT_RESULT_TTL_MS,
                Some(ms) => ms,
            },
        }
    }

    /// Dramatiq's `_lookup_options`: message options, then actor options, then these
    /// defaults; a present key wins even when it is `0` or `false`. `actor_options` is
    /// `None` when the actor is unknown, and then nothing is stored (Dramatiq's behaviour).
    pub fn effective(
        &self,
        message_options: &[(String, Value)],
        actor_options: Option<&[(String, Value)]>,
    ) -> Result<Effective, String> {
        let Some(actor_options) = actor_options else {
            return Ok(Effective {
                store_results: false,
                result_ttl_ms: 0,
            });
        };
        let pick = |name| option(message_options, name).or_else(|| option(actor_options, name));
        let store_results = pick("store_results").map_or(self.store_results, Value::truthy);
        let result_ttl_ms = match pick("result_ttl") {
            Some(v) => ttl_option(v)?,
            None => self.result_ttl_ms,
        };
        Ok(Effective {
            store_results,
            result_ttl_ms,
        })
    }

    /// `after_process_message`: store a value, or warn that it was discarded (not when the
    /// message pipes its result onward, nor for `None`).
    pub fn after_process_message(
        effective: Effective,
        outcome: Outcome,
        pipes_onward: bool,
    ) -> Decision {
        match outcome {
            Outcome::ReturnedNone | Outcome::ReturnedValue if effective.store_results => {
                Decision::StoreResult {
                    ttl_ms: effective.result_ttl_ms,
                }
            }
            Outcome::ReturnedValue if !pipes_onward => Decision::WarnDiscarded,
            _ => Decision::Nothing,
        }
    }

    /// `after_skip_message`: a skipped message that did not fail stores `None`.
    pub fn after_skip_message(effective: Effective, failed: bool) -> Decision {
        if effective.store_results && !failed {
            Decision::StoreNone {
                ttl_ms: effective.result_ttl_ms,
            }
        } else {
            Decision::Nothing
        }
    }

    /// `after_nack`: a failed message stores its exception.
    pub fn after_nack(effective: Effective, failed: bool) -> Decision {
        if effective.store_results && failed {
            Decision::StoreException {
                ttl_ms: effective.result_ttl_ms,
            }
        } else {
            Decision::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::value::opts;

    #[test]
    fn warnings_are_dramatiqs_word_for_word() {
        // dramatiq/worker.py and dramatiq/results/middleware.py, 2.2.1.
        assert_eq!(
            missing_middleware_warning("add"),
            "Actor 'add' returned a value that is not None, and you haven't added the Results \
             middleware to the broker, so the value has been discarded. Consider adding the \
             Results middleware to your broker or piping the result into another actor."
        );
        assert_eq!(
            discarded_warning("add"),
            "Actor 'add' returned a value that is not None, but you haven't set its \
             `store_results' option to `True' so the value has been discarded."
        );
    }

    #[test]
    fn middleware_ttl_zero_or_none_means_default() {
        assert_eq!(Results::new(false, None).result_ttl_ms, 600_000);
        assert_eq!(Results::new(false, Some(0)).result_ttl_ms, 600_000);
        assert_eq!(Results::new(true, Some(45_000)).result_ttl_ms, 45_000);
    }

    #[test]
    fn message_beats_actor_beats_middleware_and_zero_is_kept() {
        let mw = Results::new(false, Some(120_000));
        let actor = opts(&[
            ("store_results", Value::Bool(true)),
            ("result_ttl", Value::Int(0)),
        ]);
        let e = mw.effective(&[], Some(&actor)).unwrap();
        assert_eq!(
            e,
            Effective {
                store_results: true,
                result_ttl_ms: 0
            }
        );
        let msg = opts(&[
            ("store_results", Value::Bool(false)),
            ("result_ttl", Value::Int(1500)),
        ]);
        let e = mw.effective(&msg, Some(&actor)).unwrap();
        assert_eq!(
            e,
            Effective {
                store_results: false,
                result_ttl_ms: 1500
            }
        );
        let e = mw.effective(&[], Some(&[])).unwrap();
        assert_eq!(
            e,
            Effective {
                store_results: false,
                result_ttl_ms: 120_000
            }
        );
    }

    #[test]
    fn unknown_actor_stores_nothing() {
        let mw = Results::new(true, None);
        let msg = opts(&[("store_results", Value::Bool(true))]);
        let e = mw.effective(&msg, None).unwrap();
        assert_eq!(
            e,
            Effective {
                store_results: false,
                result_ttl_ms: 0
            }
        );
    }

    #[test]
    fn bad_ttl_is_an_error() {
        let mw = Results::default();
        let msg = opts(&[("result_ttl", Value::Str("soon".into()))]);
        assert!(mw
            .effective(&msg, Some(&[]))
            .unwrap_err()
            .contains("'soon'"));
        let msg = opts(&[("result_ttl", Value::Int(-1))]);
        assert!(mw.effective(&msg, Some(&[])).is_err());
    }

    #[test]
    fn hooks_decide_like_dramatiq() {
        let on = Effective {
            store_results: true,
            result_ttl_ms: 10,
        };
        let off = Effective {
            store_results: false,
            result_ttl_ms: 10,
        };
        assert_eq!(
            Results::after_process_message(on, Outcome::ReturnedNone, false),
            Decision::StoreResult { ttl_ms: 10 }
        );
        assert_eq!(
            Results::after_process_message(on, Outcome::Raised, false),
            Decision::Nothing
        );
        assert_eq!(
            Results::after_process_message(off, Outcome::ReturnedValue, false),
            Decision::WarnDiscarded
        );
        assert_eq!(
            Results::after_process_message(off, Outcome::ReturnedValue, true),
            Decision::Nothing
        );
        assert_eq!(
            Results::after_process_message(off, Outcome::ReturnedNone, false),
            Decision::Nothing
        );
        assert_eq!(
            Results::after_skip_message(on, false),
            Decision::StoreNone { ttl_ms: 10 }
        );
        assert_eq!(Results::after_skip_message(on, true), Decision::Nothing);
        assert_eq!(
            Results::after_nack(on, true),
            Decision::StoreException { ttl_ms: 10 }
        );
        assert_eq!(Results::after_nack(on, false), Decision::Nothing);
        assert_eq!(Results::after_nack(off, true), Decision::Nothing);
    }

    #[test]
    fn actor_options_are_dramatiqs() {
        let mut names = ACTOR_OPTIONS.to_vec();
        names.sort_unstable();
        assert_eq!(names, ["result_ttl", "store_results"]);
    }
}
