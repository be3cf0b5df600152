//! Commands as RESP writes them: an array of bulk strings, binary-safe (a stored value's
//! bytes go out as they are, CR, LF and NUL included).

use super::reply::Arg;

/// Appends `argv` (command name first) to `out` as one RESP command.
pub fn encode<A: AsRef<[u8]>>(argv: &[A], out: &mut Vec<u8>) {
    let size: usize = argv.iter().map(|a| a.as_ref().len() + 16).sum();
    out.reserve(size + 16);
    push_header(out, b'*', argv.len());
    for arg in argv {
        let bytes = arg.as_ref();
        push_header(out, b'$', bytes.len());
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends a command given as the store's [`Arg`]s.
pub fn encode_args(argv: &[Arg<'_>], out: &mut Vec<u8>) {
    let bytes: Vec<&[u8]> = argv.iter().map(arg_bytes).collect();
    encode(&bytes, out);
}

/// An [`Arg`]'s bytes.
pub fn arg_bytes<'a>(arg: &Arg<'a>) -> &'a [u8] {
    match *arg {
        Arg::Text(text) => text.as_bytes(),
        Arg::Bytes(bytes) => bytes,
    }
}

fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    out.extend_from_slice(n.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode(&["SET", "k", "v"], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    }

    #[test]
    fn arguments_are_binary_safe_and_may_be_empty() {
        let mut out = Vec::new();
        encode_args(
            &[
                Arg::Text("LPUSH"),
                Arg::Text(""),
                Arg::Bytes(b"a\r\n\0\xff"),
            ],
            &mut out,
        );
        assert_eq!(out, b"*3\r\n$5\r\nLPUSH\r\n$0\r\n\r\n$5\r\na\r\n\0\xff\r\n");
    }

    #[test]
    fn commands_append() {
        let mut out = Vec::new();
        encode(&["PING"], &mut out);
        encode::<&str>(&[], &mut out);
        assert_eq!(out, b"*1\r\n$4\r\nPING\r\n*0\r\n");
    }
}
