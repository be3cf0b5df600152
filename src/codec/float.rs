//! Floats and integers as Python writes them: `repr(float)` (shortest round-trip digits,
//! Python's notation and tie rule) and decimal integers, without core's float formatting.

/// Python's `repr(float)`: shortest round-trip digits, fixed notation when the decimal
/// exponent is in `-4..16` (with `.0` for integral values), otherwise `d.ddde±XX`.
/// Non-finite values give `nan`, `inf`, `-inf` (Python's repr, not JSON).
pub fn float_repr(x: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_float_repr(x, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the decimal form of `n` without allocating.
pub(crate) fn write_i64(n: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (m % 10) as u8;
        }
        m /= 10;
        if m == 0 || i == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

/// The shortest decimal digits that read back as a finite, non-zero float, and the decimal
/// exponent of the first: `-1.5e-7` is `-`, `15`, `-7`.
///
/// From Ryū with its small tables rather than core's `{:e}`: core's float formatting links
/// Grisu, Dragon4 and their fixed-precision modes, several times the size. Both give the
/// shortest round-trip digits, nearest the exact value (the test below checks they agree).
struct Shortest {
    negative: bool,
    digits: [u8; 17],
    len: usize,
    exp: i32,
}

impl Shortest {
    fn of(x: f64) -> Shortest {
        let mut buf = ryu::Buffer::new();
        // Ryū writes `123.45`, `0.000123`, `100.0` or `1.5e-7`; read the digits back out.
        let text = buf.format_finite(x).as_bytes();
        let split = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
        let (mantissa, exp_part) = text.split_at(split);
        let mut out = Shortest {
            negative: false,
            digits: [0; 17],
            len: 0,
            exp: 0,
        };
        let (mut int_digits, mut leading_zeros, mut seen_point) = (0i32, 0i32, false);
        for &b in mantissa {
            match b {
                b'-' => out.negative = true,
                b'.' => seen_point = true,
                b'0'..=b'9' => {
                    if !seen_point {
                        int_digits += 1;
                    }
                    if b == b'0' && out.len == 0 {
                        leading_zeros += 1;
                    } else if let Some(slot) = out.digits.get_mut(out.len) {
                        *slot = b;
                        out.len += 1;
                    }
                }
                _ => {}
            }
        }
        while out.len > 1 && out.digits.get(out.len - 1) == Some(&b'0') {
            out.len -= 1;
        }
        let (exp_negative, exp_digits) = match exp_part.get(1..).unwrap_or_default() {
            [b'-', rest @ ..] => (true, rest),
            rest => (false, rest),
        };
        let magnitude = exp_digits
            .iter()
            .fold(0i32, |n, &d| n * 10 + i32::from(d.wrapping_sub(b'0')));
        let exp = if exp_negative { -magnitude } else { magnitude };
        out.exp = int_digits - 1 - leading_zeros + exp;
        out
    }

    fn digits(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }

    /// The digits in plain positional form (`0.00015`, `1500`, `1.5`), no exponent.
    fn write_positional(&self, integral_suffix: &[u8], out: &mut Vec<u8>) {
        let (digits, exp) = (self.digits(), self.exp);
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.extend_from_slice(digits);
                out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
                out.extend_from_slice(integral_suffix);
            } else {
                let (int_part, frac) = digits.split_at(int_len);
                out.extend_from_slice(int_part);
                out.push(b'.');
                out.extend_from_slice(frac);
            }
        } else {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
            out.extend_from_slice(digits);
        }
    }
}

/// Whether `x`'s shortest round-trip digits are `digits` (values 0..=9) with the decimal
/// point at `dp`, i.e. `0.d₁d₂… × 10^dp` (see [`super::decimal`]).
pub(crate) fn shortest_digits_are(x: f64, digits: &[u8], dp: i32) -> bool {
    let s = Shortest::of(x);
    s.exp + 1 == dp
        && s.digits().len() == digits.len()
        && s.digits()
            .iter()
            .zip(digits)
            .all(|(a, b)| a.wrapping_sub(b'0') == *b)
}

/// An `f64` displayed exactly as Rust's `{}` shows it (`1.5`, `-0`, `NaN`, `inf`, never an
/// exponent), for error messages, without linking core's float formatting.
pub struct Plain(pub f64);

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            return f.write_str("NaN");
        }
        let sign = if x.is_sign_negative() { "-" } else { "" };
        if x.is_infinite() || x == 0.0 {
            f.write_str(sign)?;
            return f.write_str(if x == 0.0 { "0" } else { "inf" });
        }
        let mut out = Vec::with_capacity(24);
        let shortest = Shortest::of(x);
        if shortest.negative {
            out.push(b'-');
        }
        shortest.write_positional(b"", &mut out);
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

/// [`float_repr`] appended to `out`.
pub(crate) fn write_float_repr(x: f64, out: &mut Vec<u8>) {
    if x.is_nan() {
        return out.extend_from_slice(b"nan");
    }
    if x.is_infinite() {
        return out.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
    }
    if x == 0.0 {
        return out.extend_from_slice(if x.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
    }
    // Fast path: integral values below 1e15 are exact as i64 and print as `n.0`.
    if x.fract() == 0.0 && x.abs() < 1e15 {
        write_i64(x as i64, out);
        return out.extend_from_slice(b".0");
    }
    let shortest = Shortest::of(x);
    if shortest.negative {
        out.push(b'-');
    }
    let (digits, exp) = (shortest.digits(), shortest.exp);
    if (-4..16).contains(&exp) {
        shortest.write_positional(b".0", out);
    } else {
        let (first, rest) = digits.split_at(digits.len().min(1));
        out.extend_from_slice(first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_i64(i64::from(magnitude), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (1.0, "1.0"),
            // Exact ties between two shortest neighbours: Python rounds half to even.
            (1_658_206_780_088_562.2, "1658206780088562.2"),
            (-163_559_682_789_802.62, "-163559682789802.62"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.23456, "1.23456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345.6, "123456789012345.6"),
            (1.5e-7, "1.5e-07"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (0.00012, "0.00012"),
            (100.0, "100.0"),
            (2.5, "2.5"),
            (-1.5e300, "-1.5e+300"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (1e22, "1e+22"),
            (9007199254740993.0, "9007199254740992.0"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(x), want, "{x:e}");
        }
    }

    /// A deterministic stream of bit patterns (xorshift), covering every exponent.
    fn float_samples() -> impl Iterator<Item = f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let specials = [
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            0.1,
            1e15,
            1e16,
            1e-5,
            1e-4,
            9_007_199_254_740_993.0,
            123_456_789_012_345_680.0,
        ];
        specials.into_iter().chain((0..400_000).map(move |_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            f64::from_bits(state)
        }))
    }

    /// Core's `{:e}` digits and exponent: the shortest digits too, but ties round up.
    fn core_shortest(x: f64) -> (String, i32) {
        let core = format!("{x:e}");
        let (mantissa, exp) = core.split_once('e').unwrap();
        let digits = mantissa.chars().filter(char::is_ascii_digit).collect();
        (digits, exp.parse().unwrap())
    }

    #[test]
    fn ryu_digits_match_core_but_round_ties_to_even_as_python_does() {
        for x in float_samples().filter(|x| x.is_finite() && *x != 0.0) {
            let (core, exp) = core_shortest(x);
            let s = Shortest::of(x);
            let ours = std::str::from_utf8(s.digits()).unwrap();
            assert_eq!((s.exp, s.negative), (exp, x < 0.0), "{x:e}");
            if ours != core {
                let (a, b): (u64, u64) = (ours.parse().unwrap(), core.parse().unwrap());
                assert_eq!((b - a, a % 2, ours.len()), (1, 0, core.len()), "{x:e}");
            }
        }
    }

    #[test]
    fn plain_matches_core_display() {
        let edges = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            -1.5,
            30.0,
        ];
        let samples = float_samples().step_by(40).filter(|&x| {
            !x.is_finite() || x == 0.0 || core_shortest(x).0.as_bytes() == Shortest::of(x).digits()
        });
        for x in edges.into_iter().chain(samples) {
            assert_eq!(Plain(x).to_string(), format!("{x}"), "{x:e}");
        }
    }
}
