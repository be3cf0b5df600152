//! The rules of Dramatiq's worker side, pure: the decisions the JavaScript broker and worker
//! (`pkg/src/`) take, each one a function here so it is tested natively against Dramatiq's
//! behaviour.
//!
//! [`results`]: the `Results` middleware's policy (which `store_results` / `result_ttl`
//! apply, what each hook stores); [`retries`]: retry or fail, and the back-off;
//! [`age_limit`]: whether a message is too old; [`queues`]: queue names, the delayed-enqueue
//! copy, which actor options a broker accepts; [`pipelines`]: pipeline links and the next
//! step; [`callbacks`]: `Callbacks`' targets and the callback messages it and `Retries`
//! (`on_retry_exhausted`) send; [`interrupts`]: the attempts `TimeLimit` and
//! `ShutdownNotifications` may interrupt.

pub mod age_limit;
pub mod callbacks;
pub mod group_callbacks;
pub mod interrupts;
pub mod pipelines;
pub mod queues;
pub mod results;
pub mod retries;
