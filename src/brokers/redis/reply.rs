//! What the script's replies mean.

use crate::brokers::BrokerError;
use crate::resp::Reply;

/// Whether a failed call's error text is the `NOSCRIPT` error EVALSHA gets when the server
/// lacks the script: then resend the call with EVAL. Clients may prefix the server's text
/// (`ReplyError: NOSCRIPT …`), so the code is looked for as a word anywhere in it.
pub fn is_noscript(error_text: &str) -> bool {
    error_text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| word == "NOSCRIPT")
}

fn unexpected(command: &str, want: &str, got: &Reply) -> BrokerError {
    BrokerError::MalformedReply(format!(
        "{command} should reply {want}, got {}",
        got.describe()
    ))
}

/// The bodies a `fetch` returned, in queue order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// The encoded messages.
    pub bodies: Vec<Vec<u8>>,
    /// The id each of `bodies` is stored under (same order): what its ack or nack names,
    /// since a hostile or buggy producer's body may carry another `redis_message_id`.
    pub ids: Vec<Vec<u8>>,
    /// Ids whose body was missing from the hash (nil entries). Dramatiq logs a warning and
    /// skips them; their ids stay in this worker's ack set until it dies.
    pub missing: usize,
    /// Messages taken but not sent, being over the fetch's `max_message_bytes`: their ids
    /// and sizes, for the worker to dead-letter.
    pub oversize: Vec<(String, u64)>,
}

/// Reads a `fetch` reply: an array of `[id, body]`, nil where a body was missing, and
/// `[id, size]` for a body too big to send.
pub fn parse_fetch(reply: &Reply) -> Result<Fetched, BrokerError> {
    into_fetched(reply.clone())
}

/// [`parse_fetch`] taking the reply, so the bodies move instead of being copied (a fetch
/// may hold megabytes of them, in wasm memory that never shrinks).
pub fn into_fetched(reply: Reply) -> Result<Fetched, BrokerError> {
    let Reply::Array(items) = reply else {
        return Err(unexpected("fetch", "an array", &reply));
    };
    let mut fetched = Fetched::default();
    for item in items {
        match item {
            Reply::Nil => fetched.missing += 1,
            Reply::Array(pair) => match <[Reply; 2]>::try_from(pair) {
                Ok([Reply::Bytes(id), Reply::Bytes(body)]) => {
                    fetched.ids.push(id);
                    fetched.bodies.push(body);
                }
                Ok([Reply::Bytes(id), Reply::Int(size)]) if size >= 0 => {
                    let id = String::from_utf8_lossy(&id).into_owned();
                    fetched.oversize.push((id, size as u64));
                }
                Ok(pair) => return Err(unexpected_entry(&Reply::Array(pair.into()))),
                Err(pair) => return Err(unexpected_entry(&Reply::Array(pair))),
            },
            other => return Err(unexpected_entry(&other)),
        }
    }
    Ok(fetched)
}

fn unexpected_entry(got: &Reply) -> BrokerError {
    BrokerError::MalformedReply(format!(
        "fetch should reply [id, body], [id, size] or nil for each message, got {} among them",
        got.describe()
    ))
}

/// Reads the reply of `enqueue`, `ack`, `nack`, `requeue` or `purge`: nil when done.
pub fn parse_done(reply: &Reply) -> Result<(), BrokerError> {
    match reply {
        Reply::Nil => Ok(()),
        other => Err(unexpected("the command", "nil", other)),
    }
}

/// Reads a `qsize` reply: a non-negative count.
pub fn parse_qsize(reply: &Reply) -> Result<u64, BrokerError> {
    match reply {
        Reply::Int(n) => {
            u64::try_from(*n).map_err(|_| BrokerError::MalformedReply(format!("qsize replied {n}")))
        }
        other => Err(unexpected("qsize", "an integer", other)),
    }
}
