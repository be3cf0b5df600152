//! The store fast path against the tree path: for random texts written the way
//! `JSON.stringify` writes them (numbers in JS's `Number#toString` form, JS string escapes,
//! marker strings), `transcode::python_bytes` gives exactly the bytes of
//! `encoder::encode(interchange::from_js_json(text))`.
#![cfg(not(target_arch = "wasm32"))]

use dramatiq_results::codec::encode;
use dramatiq_results::codec::interchange::from_js_json;
use dramatiq_results::codec::interchange::plain_json;
use dramatiq_results::codec::interchange::transcode::{
    python_bytes, python_bytes_checked, python_bytes_checked_as, python_bytes_checked_utf8,
    python_bytes_owned, Form, Origin,
};
use dramatiq_results::testing::Rng;

/// `Number.prototype.toString()` of a finite double, as the ECMAScript spec defines it.
fn js_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Ryū, not core's `{:e}`: on an exact tie between two shortest candidates, JS (like
    // Python) takes the even digit, and core rounds up.
    let mut buf = ryu::Buffer::new();
    let pretty = buf.format_finite(x.abs());
    let (mantissa, exp) = pretty.split_once('e').unwrap_or((pretty, "0"));
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int_part}{frac}");
    let digits = all.trim_start_matches('0');
    let leading_zeros = (all.len() - digits.len()) as i32;
    let digits: String = digits.trim_end_matches('0').into();
    let k = digits.len() as i32;
    let n = int_part.len() as i32 - leading_zeros + exp.parse::<i32>().unwrap();
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e = if e >= 0 {
            format!("+{e}")
        } else {
            e.to_string()
        };
        if k == 1 {
            format!("{digits}e{e}")
        } else {
            format!("{}.{}e{e}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

/// `JSON.stringify` of a string.
fn js_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn random_string(rng: &mut Rng) -> String {
    const POOL: &[&str] = &[
        "a",
        "Z",
        "0",
        " ",
        "\"",
        "\\",
        "/",
        "\n",
        "\t",
        "\u{1}",
        "\u{1f}",
        "\u{7f}",
        "é",
        "ÿ",
        "\u{80}",
        "漢",
        "\u{ffff}",
        "😀",
        "\u{10ffff}",
        "__t",
        "exn",
        "\u{0}",
    ];
    let len = rng.below(8);
    let mut s = String::new();
    if rng.below(10) == 0 {
        s.push_str("\u{0}\u{1}");
        if rng.below(2) == 0 {
            // A real string that starts with the marker travels escaped.
            return format!("\u{0}\u{1}s\u{0}\u{1}{s}x");
        }
        return match rng.below(5) {
            0 => s + "NaN",
            1 => s + "Infinity",
            2 => s + "-Infinity",
            3 => s + "-0",
            _ => format!(
                "{s}n{}{}",
                if rng.below(2) == 0 { "-" } else { "" },
                rng.next_u64() as u128 * rng.next_u64() as u128
            ),
        };
    }
    for _ in 0..len {
        s.push_str(POOL[rng.below(POOL.len())]);
    }
    if s.starts_with("\u{0}\u{1}") {
        // As the JS side escapes a real string that looks like a marker.
        return format!("\u{0}\u{1}s{s}");
    }
    s
}

fn random_number(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => (rng.next_u64() as i64 >> rng.below(64)).to_string(),
        1 => ((rng.below(2_000_001) as i64) - 1_000_000).to_string(),
        _ => {
            let x = f64::from_bits(rng.next_u64());
            let x = if x.is_finite() {
                x
            } else {
                rng.below(1000) as f64 / 8.0
            };
            let scaled = (rng.below(1000) as f64 + 0.5) * 10f64.powi(rng.below(60) as i32 - 30);
            js_number(if rng.below(2) == 0 { x } else { scaled })
        }
    }
}

/// Whether the JS walk (`plain` in `interchange.js`) would vouch for a number:
/// `Origin::PlainNumbersAlike` holds only when every number of the value passes this.
fn number_alike(spelt: &str) -> bool {
    let x: f64 = spelt.parse().unwrap_or(f64::NAN);
    let plain = x.is_finite() && !(x == 0.0 && x.is_sign_negative());
    plain && x.abs() < 1e15 && (x == 0.0 || x.abs() >= 0.001 || x.fract() == 0.0)
}

/// Writes a random value's `JSON.stringify` text to `out`; false when the JS walk would not
/// vouch for it as `Origin::PlainNumbersAlike` (a marker string value, a number spelt
/// differently).
fn random_value(rng: &mut Rng, depth: u32, out: &mut String) -> bool {
    let pick = if depth > 4 {
        rng.below(5)
    } else {
        rng.below(7)
    };
    match pick {
        0 => {
            out.push_str(["true", "false", "null"][rng.below(3)]);
            true
        }
        1 | 2 => {
            let number = random_number(rng);
            out.push_str(&number);
            number_alike(&number)
        }
        3 | 4 => {
            let s = random_string(rng);
            js_string(&s, out);
            !s.starts_with("\u{0}\u{1}")
        }
        5 => {
            let mut simple = true;
            out.push('[');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                simple &= random_value(rng, depth + 1, out);
            }
            out.push(']');
            simple
        }
        _ => {
            let mut simple = true;
            out.push('{');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                // Distinct keys, as a JS object has them.
                js_string(&format!("{}{i}", random_string(rng)), out);
                out.push(':');
                simple &= random_value(rng, depth + 1, out);
            }
            out.push('}');
            simple
        }
    }
}

#[test]
fn js_number_emulation_matches_known_outputs() {
    for (x, js) in [
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (0.000001, "0.000001"),
        (-0.1, "-0.1"),
        (123.456, "123.456"),
        (5e-324, "5e-324"),
        (662_936_471_232_937.3, "662936471232937.2"),
        (-1_688_163_809_159_573.3, "-1688163809159573.2"),
    ] {
        assert_eq!(js_number(x), js);
    }
}

#[test]
fn fast_path_equals_tree_path_on_random_js_texts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut numbers_rewritten = 0;
    let mut verbatim = 0;
    let (mut simple_verbatim, mut simple_rewritten) = (0, 0);
    for _ in 0..30_000 {
        let mut text = String::new();
        let simple = random_value(&mut rng, 0, &mut text);
        let tree = encode(&from_js_json(&text).unwrap_or_else(|e| panic!("{e} in {text}")));
        let fast = python_bytes(&text).unwrap_or_else(|e| panic!("{e} in {text}"));
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&tree),
            "for {text}"
        );
        // The owned form (what the JS store path calls) gives the same bytes, copied or not.
        let owned = python_bytes_owned(text.clone()).unwrap_or_else(|e| panic!("{e} in {text}"));
        assert_eq!(owned, fast, "owned, for {text}");
        // What the check says of a text kept as it is: its bytes are the text, and `plain`
        // is what the read side's `plain_json` would say of them (a store keeping the text
        // skips that check on reads).
        match python_bytes_checked(text.clone()).unwrap_or_else(|e| panic!("{e} in {text}")) {
            (bytes, Form::Verbatim { plain }) => {
                assert_eq!(bytes, text.as_bytes(), "verbatim, for {text}");
                assert!(text.is_ascii(), "verbatim but not ASCII: {text}");
                assert_eq!(plain, plain_json(&bytes).is_some(), "plain, for {text}");
                verbatim += 1;
            }
            (bytes, Form::Rewritten) => assert_eq!(bytes, fast, "rewritten, for {text}"),
        }
        let from_utf8 = python_bytes_checked_utf8(text.clone().into_bytes());
        assert_eq!(
            from_utf8.ok(),
            python_bytes_checked(text.clone()).ok(),
            "utf8, for {text}"
        );
        if fast.len() != text.len() {
            numbers_rewritten += 1;
        }
        if simple {
            // The byte-only check the JS walk's verdict allows: the same bytes and the same
            // form, and a `plain` that never says more than the token scan's.
            let exact = python_bytes_checked(text.clone()).ok();
            let bytes_only =
                python_bytes_checked_as(text.clone().into_bytes(), Origin::PlainNumbersAlike).ok();
            match (exact, bytes_only) {
                (
                    Some((exact, Form::Verbatim { plain: p })),
                    Some((quick, Form::Verbatim { plain: q })),
                ) => {
                    assert_eq!(quick, exact, "bytes only, for {text}");
                    assert!(!q || p, "bytes only says plain, the scan does not: {text}");
                    simple_verbatim += 1;
                }
                (Some(exact), Some(quick)) => {
                    assert_eq!(quick, exact, "bytes only, for {text}");
                    simple_rewritten += 1;
                }
                (exact, quick) => panic!("{exact:?} against {quick:?} for {text}"),
            }
        }
    }
    assert!(
        simple_verbatim > 1000 && simple_rewritten > 1000,
        "the generator exercises the byte-only check ({simple_verbatim}, {simple_rewritten})"
    );
    assert!(
        numbers_rewritten > 1000,
        "the generator exercises rewriting"
    );
    assert!(
        verbatim > 1000,
        "the generator exercises the copy path ({verbatim})"
    );
}
