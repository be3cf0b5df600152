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

/// Arguments of this many bytes or more are worth writing from where they are (see
/// [`encode_pieces`]): 1 MiB, as for the replies a driver keeps out of wasm
/// ([`super::parser::HOLD_MIN_BYTES`]).
pub const DIRECT_MIN_BYTES: usize = 1 << 20;

/// A part of an encoded command (see [`encode_pieces`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The bytes of argument `n`, as they are.
    Arg(usize),
}

/// [`encode`]'s bytes in pieces, each argument of `min` bytes or more left where it is
/// ([`Piece::Arg`]): a driver copies a large value straight to the socket instead of
/// through one more buffer of its size (wasm memory never shrinks).
pub fn encode_pieces<A: AsRef<[u8]>>(argv: &[A], min: usize) -> Vec<Piece> {
    encode_pieces_with(argv, min, None)
}

/// [`encode_pieces`], where argument `n` of `external = Some((n, len))` is `len` bytes the
/// driver holds elsewhere (its entry in `argv` is not read): always a [`Piece::Arg`].
pub fn encode_pieces_with<A: AsRef<[u8]>>(
    argv: &[A],
    min: usize,
    external: Option<(usize, usize)>,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut out = Vec::new();
    push_header(&mut out, b'*', argv.len());
    for (n, arg) in argv.iter().enumerate() {
        let bytes = arg.as_ref();
        let outside = external.filter(|&(at, _)| at == n).map(|(_, len)| len);
        push_header(&mut out, b'$', outside.unwrap_or(bytes.len()));
        if outside.is_some() || bytes.len() >= min {
            pieces.push(Piece::Bytes(std::mem::take(&mut out)));
            pieces.push(Piece::Arg(n));
        } else {
            out.extend_from_slice(bytes);
        }
        out.extend_from_slice(b"\r\n");
    }
    pieces.push(Piece::Bytes(out));
    pieces
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
    fn pieces_put_together_are_the_command() {
        let big = vec![b'v'; 100];
        let argv: [&[u8]; 5] = [b"EVAL", b"script", b"1", &big, b"600000"];
        let mut whole = Vec::new();
        encode(&argv, &mut whole);
        for min in [0, 1, 5, 99, 100, 101, usize::MAX] {
            let pieces = encode_pieces(&argv, min);
            let joined: Vec<u8> = pieces
                .iter()
                .flat_map(|p| match p {
                    Piece::Bytes(b) => b.clone(),
                    Piece::Arg(n) => argv[*n].to_vec(),
                })
                .collect();
            assert_eq!(joined, whole, "min {min}");
            let held = pieces.iter().filter(|p| matches!(p, Piece::Arg(_))).count();
            assert_eq!(held, argv.iter().filter(|a| a.len() >= min).count());
        }
    }

    #[test]
    fn commands_append() {
        let mut out = Vec::new();
        encode(&["PING"], &mut out);
        encode::<&str>(&[], &mut out);
        assert_eq!(out, b"*1\r\n$4\r\nPING\r\n*0\r\n");
    }
}
