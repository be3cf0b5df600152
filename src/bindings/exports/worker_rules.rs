//! The broker's rules for `pkg/src/` (`actor.js`, `middleware/`, `worker/`): actors, `Results`, `Retries`, `AgeLimit`,
//! `Callbacks`, delays and pipelines, each a thin wrapper over the core decision.
//!
//! These exports are internal to the package (its entry files do not re-export them):
//! the JS broker holds queues and calls actor functions, and asks here what to do.

use wasm_bindgen::prelude::*;

use super::errors::exception_info_keeping_surrogates;
use super::interchange::{value_from_js, value_from_js_keeping, value_to_js};
use super::message::Message;
use crate::bindings::drivers::random::{random_bytes, random_seed};
use crate::bindings::drivers::timer::epoch_ms;
use crate::bindings::js::{array_of, keys_of, prop, range_error, type_error};
use crate::brokers;
use crate::brokers::MAX_DELAY_MS;
use crate::codec::value::{option, Value};
use crate::model::message::uuid4;
use crate::wait::backoff::Jitter;
use crate::worker::callbacks;
use crate::worker::group_callbacks;
use crate::worker::interrupts;
use crate::worker::pipelines;
use crate::worker::queues;
use crate::worker::results::{self, Decision, Outcome, Results};
use crate::worker::retries::{self, Failure, Retries, Retry};

/// A count option from JS: `undefined` → `None`; otherwise a non-negative integer.
fn count(value: Option<f64>, what: &str) -> Result<Option<u64>, JsValue> {
    match value {
        None => Ok(None),
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 => {
            Ok(Some(v as u64))
        }
        Some(v) => Err(range_error(&format!(
            "{what} must be a non-negative integer, got {}",
            crate::codec::Plain(v)
        ))),
    }
}

/// An actor's declaration, checked once: its name, queue and the JSON-able options
/// the rules read. Options that are functions or classes (`retryWhen`, `throws`) stay
/// with the JS actor.
#[wasm_bindgen]
pub struct ActorSpec {
    actor_name: String,
    queue_name: String,
    options: Vec<(String, Value)>,
    known: bool,
}

#[wasm_bindgen]
impl ActorSpec {
    /// Checks `options` (camelCase or snake_case names) against the option names the
    /// broker's middleware declared, and the queue name against Dramatiq's rule.
    #[wasm_bindgen(constructor)]
    pub fn new(
        actor_name: String,
        queue_name: String,
        options: JsValue,
        allowed: Vec<String>,
    ) -> Result<ActorSpec, JsValue> {
        if actor_name.is_empty() {
            return Err(type_error(
                "an actor needs a name: pass { actorName } or a named function",
            ));
        }
        queues::validate_queue_name(&queue_name).map_err(|e| range_error(&e))?;
        let mut given = Vec::new();
        let mut values = Vec::new();
        if !options.is_undefined() && !options.is_null() {
            if !options.is_object() {
                return Err(type_error("actor options must be an object"));
            }
            for name in keys_of(&options)? {
                let value = prop(&options, &name)?;
                let snake = queues::snake_case(&name);
                given.push((name, snake.clone()));
                if value.is_undefined() || value.is_function() || is_function_list(&value)? {
                    continue;
                }
                let value = value_from_js(&value).map_err(|_| {
                    type_error(&format!(
                        "actor option {snake} must be JSON-like data, a function or a list of classes"
                    ))
                })?;
                values.push((snake, value));
            }
        }
        queues::check_actor_options(&given, &allowed).map_err(|e| type_error(&e))?;
        Ok(ActorSpec {
            actor_name,
            queue_name,
            options: values,
            known: true,
        })
    }

    /// The stand-in for an actor the broker does not know (a message for it stores
    /// nothing, as in Dramatiq).
    pub fn unknown(actor_name: String) -> ActorSpec {
        ActorSpec {
            actor_name,
            queue_name: String::new(),
            options: Vec::new(),
            known: false,
        }
    }

    /// Whether the broker knows this actor.
    #[wasm_bindgen(getter)]
    pub fn known(&self) -> bool {
        self.known
    }

    /// The actor's name.
    #[wasm_bindgen(getter, js_name = actorName)]
    pub fn actor_name(&self) -> String {
        self.actor_name.clone()
    }

    /// The actor's queue.
    #[wasm_bindgen(getter, js_name = queueName)]
    pub fn queue_name(&self) -> String {
        self.queue_name.clone()
    }

    /// The data options, snake_case, as a fresh object.
    #[wasm_bindgen(getter)]
    pub fn options(&self) -> Result<JsValue, JsValue> {
        value_to_js(&Value::Dict(self.options.clone()))
    }

    /// One data option (`undefined` when absent).
    pub fn option(&self, name: &str) -> Result<JsValue, JsValue> {
        match option(&self.options, name) {
            Some(v) => value_to_js(v),
            None => Ok(JsValue::UNDEFINED),
        }
    }
}

fn is_function_list(value: &JsValue) -> Result<bool, JsValue> {
    Ok(array_of(value)?
        .is_some_and(|items| !items.is_empty() && items.iter().all(JsValue::is_function)))
}

/// A JS option name in Dramatiq's snake_case spelling.
#[wasm_bindgen(js_name = snakeCase)]
pub fn snake_case(name: &str) -> String {
    queues::snake_case(name)
}

/// The `Results` middleware's decisions.
#[wasm_bindgen]
pub struct ResultsPolicy {
    inner: Results,
}

/// What the `Results` middleware does after a hook: the core's [`Decision`], as one enum
/// across the boundary (`pkg/src/middleware/` only carries it out).
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultsAction {
    /// Store nothing.
    Nothing = 0,
    /// Store the actor's return value.
    StoreResult = 1,
    /// Store `None` (a message skipped without failing).
    StoreNone = 2,
    /// Store the message's exception.
    StoreException = 3,
    /// Log the "value discarded" warning.
    Warn = 4,
}

/// A `Results` decision: the action, its TTL (ms) and the warning to log, if any.
#[wasm_bindgen]
pub struct ResultsDecision {
    action: ResultsAction,
    ttl_ms: Option<u64>,
    warning: Option<String>,
}

#[wasm_bindgen]
impl ResultsDecision {
    /// What to do.
    #[wasm_bindgen(getter)]
    pub fn action(&self) -> ResultsAction {
        self.action
    }

    /// How long to keep what is stored, in ms (`undefined` when nothing is stored).
    #[wasm_bindgen(getter)]
    pub fn ttl(&self) -> Option<f64> {
        self.ttl_ms.map(|ms| ms as f64)
    }

    /// The warning to log (`undefined` unless the action is `Warn`).
    #[wasm_bindgen(getter)]
    pub fn warning(&self) -> Option<String> {
        self.warning.clone()
    }
}

fn decision(d: Decision, actor_name: &str) -> ResultsDecision {
    let (action, ttl_ms, warning) = match d {
        Decision::StoreResult { ttl_ms } => (ResultsAction::StoreResult, Some(ttl_ms), None),
        Decision::StoreNone { ttl_ms } => (ResultsAction::StoreNone, Some(ttl_ms), None),
        Decision::StoreException { ttl_ms } => (ResultsAction::StoreException, Some(ttl_ms), None),
        Decision::WarnDiscarded => (
            ResultsAction::Warn,
            None,
            Some(results::discarded_warning(actor_name)),
        ),
        Decision::Nothing => (ResultsAction::Nothing, None, None),
    };
    ResultsDecision {
        action,
        ttl_ms,
        warning,
    }
}

#[wasm_bindgen]
impl ResultsPolicy {
    /// `Results({ storeResults = false, resultTtl })`: a `resultTtl` of 0, null or
    /// undefined means 600 000 ms.
    #[wasm_bindgen(constructor)]
    pub fn new(store_results: bool, result_ttl: Option<f64>) -> Result<ResultsPolicy, JsValue> {
        let ttl = count(result_ttl, "resultTtl")?;
        Ok(ResultsPolicy {
            inner: Results::new(store_results, ttl),
        })
    }

    /// The default for actors that do not say.
    #[wasm_bindgen(getter, js_name = storeResults)]
    pub fn store_results(&self) -> bool {
        self.inner.store_results
    }

    /// The default TTL in ms.
    #[wasm_bindgen(getter, js_name = resultTtl)]
    pub fn result_ttl(&self) -> f64 {
        self.inner.result_ttl_ms as f64
    }

    /// What `after_process_message` does (`ActorSpec.unknown(name)` for an unknown actor).
    #[wasm_bindgen(js_name = afterProcessMessage)]
    pub fn after_process_message(
        &self,
        message: &Message,
        actor: &ActorSpec,
        result: JsValue,
        raised: bool,
    ) -> Result<ResultsDecision, JsValue> {
        let m = message.core();
        let effective = self.effective(m, actor)?;
        // Only `None`-ness matters to the decision; the value is encoded when stored.
        let outcome = if raised {
            Outcome::Raised
        } else if result.is_null() || result.is_undefined() {
            Outcome::ReturnedNone
        } else {
            Outcome::ReturnedValue
        };
        let d = Results::after_process_message(effective, outcome, pipelines::pipes_onward(m));
        Ok(decision(d, &m.actor_name))
    }

    /// What `after_skip_message` does.
    #[wasm_bindgen(js_name = afterSkipMessage)]
    pub fn after_skip_message(
        &self,
        message: &Message,
        actor: &ActorSpec,
        failed: bool,
    ) -> Result<ResultsDecision, JsValue> {
        let effective = self.effective(message.core(), actor)?;
        Ok(decision(
            Results::after_skip_message(effective, failed),
            &message.core().actor_name,
        ))
    }

    /// What `after_nack` does.
    #[wasm_bindgen(js_name = afterNack)]
    pub fn after_nack(
        &self,
        message: &Message,
        actor: &ActorSpec,
        failed: bool,
    ) -> Result<ResultsDecision, JsValue> {
        let effective = self.effective(message.core(), actor)?;
        Ok(decision(
            Results::after_nack(effective, failed),
            &message.core().actor_name,
        ))
    }
}

impl ResultsPolicy {
    fn effective(
        &self,
        message: &crate::model::message::Message,
        actor: &ActorSpec,
    ) -> Result<results::Effective, JsValue> {
        let actor_options = actor.known.then_some(actor.options.as_slice());
        self.inner
            .effective(&message.options, actor_options)
            .map_err(|e| range_error(&format!("message {}: {e}", message.message_id)))
    }
}

/// Dramatiq's worker warning when an actor's value is dropped for want of a `Results`
/// middleware.
#[wasm_bindgen(js_name = missingResultsWarning)]
pub fn missing_results_warning(actor_name: &str) -> String {
    results::missing_middleware_warning(actor_name)
}

/// The `Retries` middleware's decision.
#[wasm_bindgen]
pub struct RetriesPolicy {
    inner: Retries,
    jitter: Jitter,
}

#[wasm_bindgen]
impl RetriesPolicy {
    /// `Retries({ maxRetries = 20, minBackoff = 15000, maxBackoff = 7 days })`;
    /// `maxRetries: null` retries forever.
    #[wasm_bindgen(constructor)]
    pub fn new(
        max_retries: JsValue,
        min_backoff: Option<f64>,
        max_backoff: Option<f64>,
    ) -> Result<RetriesPolicy, JsValue> {
        let max_retries = if max_retries.is_undefined() {
            Some(retries::DEFAULT_MAX_RETRIES)
        } else if max_retries.is_null() {
            None
        } else {
            let n = max_retries
                .as_f64()
                .ok_or_else(|| type_error("maxRetries must be a number or null"))?;
            count(Some(n), "maxRetries")?
        };
        Ok(RetriesPolicy {
            inner: Retries::new(
                max_retries,
                count(min_backoff, "minBackoff")?,
                count(max_backoff, "maxBackoff")?,
            ),
            jitter: Jitter::new(random_seed()),
        })
    }

    /// The message's `retries` option (what `retryWhen(retries, error)` is given), or
    /// undefined when it is no number (Python's hook fails before asking `retry_when`).
    #[wasm_bindgen(js_name = retriesSoFar)]
    pub fn retries_so_far(message: &Message) -> Option<f64> {
        retries::retries_so_far(&message.core().options)
    }

    /// Decides after a failure: `{ fail: true, message, line }` to fail the message, or
    /// `{ fail: false, message, delay, line }` to re-enqueue it after `delay` ms (`line`:
    /// what Python's `Retries` logs then, word for word), or
    /// `{ fail: false, message, broken }` when Python's hook would raise (a `retries`
    /// option that is no number): neither, so the message is acked. `message` is the copy
    /// to go on with: unless a `throws` class matched, its `retries` option is bumped and
    /// `traceback` and `requeue_timestamp` set, as Dramatiq does.
    #[allow(clippy::too_many_arguments)]
    pub fn decide(
        &mut self,
        message: &Message,
        actor: &ActorSpec,
        thrown: bool,
        retry_when: Option<bool>,
        requested_delay: Option<f64>,
        traceback: Option<String>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let failure = Failure {
            thrown,
            retry_when,
            // As the error asked, a fraction kept (Python's eta is then a float), a
            // negative one too (an eta in the past, due at once, as Python's).
            requested_delay_ms: requested_delay
                .filter(|ms| ms.is_finite())
                .map(|ms| ms.clamp(-MAX_DELAY_MS, MAX_DELAY_MS)),
        };
        let m = message.core();
        let decision = self
            .inner
            .decide(&m.options, &actor.options, failure, &mut self.jitter);
        // Python tells `on_retry_exhausted` the count and limit as they were before this
        // failure bumped the count, so both are read from the options as they came in.
        let exhausted = match decision {
            Retry::Fail { .. } => {
                callbacks::target(&m.options, &actor.options, callbacks::ON_RETRY_EXHAUSTED).map(
                    |to| {
                        (
                            to.clone(),
                            callbacks::exhausted_payload(
                                &m.options,
                                &actor.options,
                                self.inner.max_retries,
                            ),
                        )
                    },
                )
            }
            _ => None,
        };
        let line = match &decision {
            Retry::Abort => Some(retries::aborting_line(&m.message_id)),
            Retry::Fail { .. } => Some(retries::exceeded_line(&m.message_id)),
            Retry::Again { delay_ms, .. } => Some(retries::retrying_line(&m.message_id, *delay_ms)),
            Retry::Broken { .. } => None,
        };
        let mut copy = m.clone();
        let (fail, delay, bumped) = match decision {
            Retry::Abort => (true, None, None),
            Retry::Broken { retries } => (false, None, retries),
            Retry::Fail { retries } => (true, None, Some(retries)),
            Retry::Again { retries, delay_ms } => (false, Some(delay_ms), Some(retries)),
        };
        if let Some(retries) = bumped {
            copy.set_option("retries", retries);
            copy.set_option("traceback", traceback.map_or(Value::Null, Value::Str));
            copy.set_option("requeue_timestamp", Value::Int(now as i64));
        }
        let out = js_sys::Object::new();
        js_sys::Reflect::set(&out, &"fail".into(), &fail.into())?;
        if let Some(line) = line {
            js_sys::Reflect::set(&out, &"line".into(), &line.into())?;
        }
        js_sys::Reflect::set(&out, &"message".into(), &Message::from_core(copy).into())?;
        if let Some(delay) = delay {
            js_sys::Reflect::set(&out, &"delay".into(), &delay.into())?;
        }
        if !fail && delay.is_none() {
            js_sys::Reflect::set(&out, &"broken".into(), &true.into())?;
        }
        if let Some((to, payload)) = exhausted {
            js_sys::Reflect::set(&out, &"exhaustedTo".into(), &value_to_js(&to)?)?;
            js_sys::Reflect::set(&out, &"exhausted".into(), &value_to_js(&payload)?)?;
        }
        Ok(out.into())
    }
}

/// `Callbacks`: the actor `name` (`on_success`, `on_failure`, `on_retry_exhausted`) names
/// for `message` of `actor`, message option over actor option (Python's `or`), or
/// undefined. Whatever the option holds is returned; a lookup of a non-name fails, logged.
#[wasm_bindgen(js_name = callbackTarget)]
pub fn callback_target(
    message: &Message,
    actor: &ActorSpec,
    name: &str,
) -> Result<JsValue, JsValue> {
    match callbacks::target(&message.core().options, &actor.options, name) {
        Some(v) => value_to_js(v),
        None => Ok(JsValue::UNDEFINED),
    }
}

/// The message `target.send(finished.asdict(), payload)` enqueues, for the actor
/// `targetActor` on `targetQueue`: the dict built from the core message, so its values are
/// exactly the finished message's.
#[wasm_bindgen(js_name = callbackMessage)]
pub fn callback_message(
    target_queue: &str,
    target_actor: &str,
    finished: &Message,
    payload: JsValue,
) -> Result<Message, JsValue> {
    let (payload, marked) = if payload.is_undefined() {
        (Value::Null, false)
    } else {
        value_from_js_keeping(&payload)?
    };
    Ok(callback_to(
        target_queue,
        target_actor,
        finished,
        payload,
        marked,
    ))
}

/// The `on_failure` message: `(finished.asdict(), {"type", "message"})`, with the type and
/// message read from `error` as a stored exception's are (without running its code).
#[wasm_bindgen(js_name = failureCallbackMessage)]
pub fn failure_callback_message(
    target_queue: &str,
    target_actor: &str,
    finished: &Message,
    error: JsValue,
) -> Message {
    let (exc_type, exc_msg, marked) = exception_info_keeping_surrogates(&error);
    let payload = callbacks::failure_payload(&exc_type, &exc_msg);
    callback_to(target_queue, target_actor, finished, payload, marked)
}

fn callback_to(
    target_queue: &str,
    target_actor: &str,
    finished: &Message,
    payload: Value,
    payload_marked: bool,
) -> Message {
    Message::from_core(callbacks::callback_message(
        target_queue,
        target_actor,
        finished.core(),
        payload,
        payload_marked,
        uuid4(random_bytes()),
        epoch_ms() as i64,
    ))
}

/// `TimeLimit`: the limit in ms for `message` of `actor` (message option when truthy,
/// else the actor's, else `defaultMs`).
#[wasm_bindgen(js_name = timeLimitFor)]
pub fn time_limit_for(message: &Message, actor: &ActorSpec, default_ms: f64) -> f64 {
    interrupts::time_limit_ms(&message.core().options, &actor.options, default_ms)
}

/// `ShutdownNotifications`: whether `message`'s attempt is aborted when its worker stops.
#[wasm_bindgen(js_name = shouldNotifyShutdown)]
pub fn should_notify_shutdown(message: &Message, actor: &ActorSpec, default: bool) -> bool {
    interrupts::notify_shutdown(&message.core().options, &actor.options, default)
}

/// `AgeLimit`: what Python's logs (WARNING) for a message it skips.
#[wasm_bindgen(js_name = ageLimitWarning)]
pub fn age_limit_warning(message: &Message) -> String {
    crate::worker::age_limit::exceeded_line(&message.core().message_id)
}

/// `AgeLimit`: whether `message` is too old to run at `now`.
#[wasm_bindgen(js_name = ageLimitExceeded)]
pub fn age_limit_exceeded(
    max_age: Option<f64>,
    message: &Message,
    actor: &ActorSpec,
    now: f64,
) -> Result<bool, JsValue> {
    let m = message.core();
    Ok(crate::worker::age_limit::exceeded(
        count(max_age, "maxAge")?,
        &m.options,
        &actor.options,
        m.message_timestamp,
        now,
    ))
}

/// What `broker.enqueue(message, delay)` queues: a copy on `<queue>.DQ` with an `eta`.
#[wasm_bindgen(js_name = delayMessage)]
pub fn delay_message(message: &Message, delay: f64, now: f64) -> Result<Message, JsValue> {
    // Whole or fractional (a float eta then, as Python's `now + 1.5`); negative is an eta
    // in the past, due at once, as Python's.
    if delay.is_nan() || delay.abs() > MAX_DELAY_MS {
        return Err(range_error(&format!(
            "delay must be a finite number of ms, got {}",
            crate::codec::Plain(delay)
        )));
    }
    Ok(Message::from_core(queues::delayed(
        message.core(),
        delay,
        now as i64,
    )))
}

/// The copy of a due delayed message that goes on its work queue.
#[wasm_bindgen(js_name = undelayMessage)]
pub fn undelay_message(message: &Message) -> Message {
    Message::from_core(queues::undelayed(message.core()))
}

/// What a worker does with a message it received (Dramatiq's `handle_message`, whatever
/// the broker): `undefined` to run it as received; otherwise `{ message, eta, warning }`:
/// the message to go on with (an `eta` of `null` dropped, one that is not a number
/// replaced by `now`, as Python's worker changes it), its `eta` when it is to wait for it,
/// and the line Python's worker logs for an `eta` that is not a number, if any.
#[wasm_bindgen(js_name = handleEta)]
pub fn handle_eta(message: &Message, now: f64) -> Result<JsValue, JsValue> {
    if message.core().option("eta").is_none() {
        return Ok(JsValue::UNDEFINED);
    }
    let mut copy = message.core().clone();
    let out = js_sys::Object::new();
    if let Some(warning) = brokers::invalid_eta_warning(&copy) {
        js_sys::Reflect::set(&out, &"warning".into(), &warning.into())?;
    }
    if let brokers::Handling::Delay { eta_ms } = brokers::handle(&mut copy, now as i64) {
        js_sys::Reflect::set(&out, &"eta".into(), &eta_ms.into())?;
    }
    js_sys::Reflect::set(&out, &"message".into(), &Message::from_core(copy).into())?;
    Ok(out.into())
}

/// When a delayed message is due, or undefined.
#[wasm_bindgen(js_name = messageEta)]
pub fn message_eta(message: &Message) -> Option<f64> {
    queues::eta(message.core())
}

/// Python's error when a second actor takes a declared name.
#[wasm_bindgen(js_name = duplicateActorMessage)]
pub fn duplicate_actor_message(actor_name: &str) -> String {
    queues::duplicate_actor_message(actor_name)
}

/// What Python's consumer logs (ERROR) for a message of an actor no one declared.
#[wasm_bindgen(js_name = undefinedActorLine)]
pub fn undefined_actor_line(actor_name: &str) -> String {
    queues::undefined_actor_line(actor_name)
}

/// The delay queue of `queue`.
#[wasm_bindgen(js_name = delayQueueName)]
pub fn delay_queue_name(queue: &str) -> String {
    queues::delay_queue_name(queue)
}

/// The work queue of `queue` (without `.DQ` / `.XQ`).
#[wasm_bindgen(js_name = canonicalQueueName)]
pub fn canonical_queue_name(queue: &str) -> String {
    crate::model::key::canonical_queue_name(queue).to_owned()
}

/// `message` with `next` (already linked onward) as its pipeline target.
#[wasm_bindgen(js_name = pipeTo)]
pub fn pipe_to(message: &Message, next: &Message) -> Message {
    Message::from_core(pipelines::link_to(message.core(), next.core()))
}

/// The delay `pipeline.run({ delay })` enqueues `first` with (Dramatiq's rule: the larger of
/// `delay` and `first`'s own `delay` option, none when 0); a TypeError when that option is
/// no number.
#[wasm_bindgen(js_name = pipelineRunDelay)]
pub fn pipeline_run_delay(first: &Message, delay: Option<f64>) -> Result<Option<f64>, JsValue> {
    pipelines::run_delay(first.core(), delay).map_err(|e| type_error(&e.to_string()))
}

/// Whether `message` passes its result to a next pipeline step.
#[wasm_bindgen(js_name = pipesOnward)]
pub fn pipes_onward(message: &Message) -> bool {
    pipelines::pipes_onward(message.core())
}

/// The next pipeline step after `message` returned `result`: `{ message, delay }`, or
/// undefined at the end of the chain.
#[wasm_bindgen(js_name = pipeNext)]
pub fn pipe_next(
    message: &Message,
    result: JsValue,
    actor_pipe_ignore: bool,
    now: f64,
) -> Result<JsValue, JsValue> {
    let (result, marked) = if result.is_undefined() {
        (Value::Null, false)
    } else {
        value_from_js_keeping(&result)?
    };
    let fresh = || uuid4(random_bytes());
    let next = pipelines::next_step(
        message.core(),
        &result,
        marked,
        actor_pipe_ignore,
        now as i64,
        fresh,
    )
    .map_err(|e| type_error(&e.to_string()))?;
    let Some((next, delay)) = next else {
        return Ok(JsValue::UNDEFINED);
    };
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &"message".into(), &Message::from_core(next).into())?;
    if let Some(delay) = delay {
        js_sys::Reflect::set(&out, &"delay".into(), &delay.into())?;
    }
    Ok(out.into())
}

/// The actor option names each built-in middleware declares, by middleware.
#[wasm_bindgen(js_name = builtinActorOptions)]
pub fn builtin_actor_options() -> Result<JsValue, JsValue> {
    let out = js_sys::Object::new();
    let set = |name: &str, opts: &[&str]| {
        let arr: js_sys::Array = opts.iter().map(|o| JsValue::from_str(o)).collect();
        js_sys::Reflect::set(&out, &name.into(), &arr)
    };
    set("Results", &results::ACTOR_OPTIONS)?;
    set("Retries", &retries::ACTOR_OPTIONS)?;
    set("AgeLimit", &crate::worker::age_limit::ACTOR_OPTIONS)?;
    set("Pipelines", &pipelines::ACTOR_OPTIONS)?;
    set("TimeLimit", &interrupts::TIME_LIMIT_OPTIONS)?;
    set("Callbacks", &callbacks::ACTOR_OPTIONS)?;
    set("ShutdownNotifications", &interrupts::SHUTDOWN_OPTIONS)?;
    set("Broker", &queues::ACTOR_KEYWORDS)?;
    Ok(out.into())
}

/// A group's completion callbacks under one completion id, and the marking of its children
/// (`group.run()` with callbacks; see `crate::worker::group_callbacks`).
#[wasm_bindgen]
pub struct GroupCompletion {
    uuid: String,
    callbacks: Vec<Value>,
    /// Whether a callback's dict holds stand-ins for lone surrogates (a message read from
    /// bytes): a child carrying it must write them back.
    lone_surrogates: bool,
}

#[wasm_bindgen]
impl GroupCompletion {
    /// No callbacks yet, under a fresh completion id (a uuid4, as Dramatiq's, the barrier's
    /// key): a new one per run, so a group run twice never shares a barrier.
    #[wasm_bindgen(constructor)]
    pub fn new() -> GroupCompletion {
        GroupCompletion {
            uuid: uuid4(random_bytes()),
            callbacks: Vec::new(),
            lone_surrogates: false,
        }
    }

    /// The completion id.
    #[wasm_bindgen(getter)]
    pub fn uuid(&self) -> String {
        self.uuid.clone()
    }

    /// Adds `callback` (as its `asdict()`).
    pub fn add(&mut self, callback: &Message) {
        self.callbacks.push(callback.core().to_dict());
        self.lone_surrogates |= callback.core().lone_surrogates;
    }

    /// `child` as the group enqueues it: with the completion id and the callbacks.
    pub fn mark(&self, child: &Message) -> Message {
        let mut marked = group_callbacks::mark_child(child.core(), &self.uuid, &self.callbacks);
        marked.lone_surrogates |= self.lone_surrogates;
        Message::from_core(marked)
    }
}

/// What finishing `message` successfully completes: `{ uuid, callbacks, invalid? }` (the
/// barrier key, the callback messages, and why the one after them could not be read, if
/// one could not) when it is a member of a group with callbacks, else undefined.
#[wasm_bindgen(js_name = groupCompletionOf)]
pub fn group_completion_of(message: &Message, now: f64) -> Result<JsValue, JsValue> {
    let mut fresh = || uuid4(random_bytes());
    let Some(done) = group_callbacks::completion(message.core(), now as i64, &mut fresh)
        .map_err(|e| type_error(&e.to_string()))?
    else {
        return Ok(JsValue::UNDEFINED);
    };
    let out = js_sys::Object::new();
    let list: js_sys::Array = done
        .callbacks
        .into_iter()
        .map(|m| JsValue::from(Message::from_core(m)))
        .collect();
    js_sys::Reflect::set(&out, &"uuid".into(), &done.uuid.into())?;
    js_sys::Reflect::set(&out, &"callbacks".into(), &list)?;
    if let Some(invalid) = done.invalid {
        js_sys::Reflect::set(&out, &"invalid".into(), &invalid.0.into())?;
    }
    Ok(out.into())
}
