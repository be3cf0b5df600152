//! Decimal text to the nearest `f64` (round half to even), as Python's `float()` and
//! JavaScript's `Number()` read it.
//!
//! Core's `str::parse::<f64>` links Eisel–Lemire's 10 KB table of powers of five; this is a
//! fraction of that. Three ways, fastest first: Clinger's exact fast path (at most 15
//! digits, exponent within ±22); a guess checked by Ryū, which settles any float that
//! Python's `repr` or JavaScript's `String` wrote (those are the shortest digits of the
//! float, so the float whose shortest digits they are is the answer); and, for anything
//! else, exact arithmetic on the decimal digits (the algorithm of Go's former `strconv`).

/// Digits kept. An exact halfway point between two doubles has at most 767 significant
/// digits, so 800 plus a flag for any non-zero digit dropped decide every rounding.
const MAX_DIGITS: usize = 800;

/// The most bits shifted at once: a digit shifted by 60 plus a carry stays below 2^64.
const MAX_SHIFT: u32 = 60;

/// `0.d₁d₂d₃… × 10^dp`, digits 0..=9, no leading or trailing zeros.
struct Decimal {
    digits: Vec<u8>,
    dp: i32,
    truncated: bool,
}

impl Decimal {
    fn trim(&mut self) {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
    }

    fn digit(&self, i: usize) -> u64 {
        self.digits.get(i).copied().map_or(0, u64::from)
    }

    /// Multiplies by 2^k, k ≤ [`MAX_SHIFT`].
    fn left_shift(&mut self, k: u32) {
        let mut out: Vec<u8> = Vec::with_capacity(self.digits.len() + 19);
        let mut carry = 0u64;
        for &d in self.digits.iter().rev() {
            let v = (u64::from(d) << k) + carry;
            out.push((v % 10) as u8);
            carry = v / 10;
        }
        while carry > 0 {
            out.push((carry % 10) as u8);
            carry /= 10;
        }
        self.dp += (out.len() - self.digits.len()) as i32;
        out.reverse();
        if out.len() > MAX_DIGITS {
            self.truncated |= out.iter().skip(MAX_DIGITS).any(|&d| d != 0);
            out.truncate(MAX_DIGITS);
        }
        self.digits = out;
        self.trim();
    }

    /// Divides by 2^k, k ≤ [`MAX_SHIFT`]: long division, written over the digits read.
    fn right_shift(&mut self, k: u32) {
        let nd = self.digits.len();
        let (mut r, mut w, mut n) = (0usize, 0usize, 0u64);
        while n >> k == 0 {
            if r >= nd {
                if n == 0 {
                    self.digits.clear();
                    return;
                }
                while n >> k == 0 {
                    n *= 10;
                    r += 1;
                }
                break;
            }
            n = n * 10 + self.digit(r);
            r += 1;
        }
        self.dp -= r as i32 - 1;
        let mask = (1u64 << k) - 1;
        while r < nd {
            let c = self.digit(r);
            if let Some(slot) = self.digits.get_mut(w) {
                *slot = (n >> k) as u8;
            }
            w += 1;
            n = (n & mask) * 10 + c;
            r += 1;
        }
        self.digits.truncate(w);
        while n > 0 {
            let d = (n >> k) as u8;
            if self.digits.len() < MAX_DIGITS {
                self.digits.push(d);
            } else if d > 0 {
                self.truncated = true;
            }
            n = (n & mask) * 10;
        }
        self.trim();
    }

    /// Multiplies by 2^k (divides when `k` is negative).
    fn shift(&mut self, k: i32) {
        let mut left = k.unsigned_abs();
        while left > 0 && !self.digits.is_empty() {
            let step = left.min(MAX_SHIFT);
            if k > 0 {
                self.left_shift(step);
            } else {
                self.right_shift(step);
            }
            left -= step;
        }
    }

    /// The integer part, rounded half to even on the first fractional digit and the rest.
    fn rounded_integer(&self) -> u64 {
        if self.dp > 20 {
            return u64::MAX;
        }
        let dp = self.dp.max(0) as usize;
        let mut n = (0..dp).fold(0u64, |n, i| n * 10 + self.digit(i));
        let nd = self.digits.len();
        if self.dp >= 0 && dp < nd {
            let next = self.digit(dp);
            let round_up = if next == 5 && dp + 1 == nd {
                // Exactly half (unless digits were dropped): to even.
                self.truncated || (dp > 0 && self.digit(dp - 1) % 2 == 1)
            } else {
                next >= 5
            };
            if round_up {
                n += 1;
            }
        }
        n
    }

    /// The nearest double (its magnitude), by scaling into [1/2, 1) in exact binary steps.
    fn into_f64(mut self) -> f64 {
        /// Bits to shift so that 10^dp, for dp = index, stays in range.
        const POWERS: [i32; 9] = [1, 3, 6, 9, 13, 16, 19, 23, 26];
        let step = |dp: i32| {
            POWERS
                .get(dp.unsigned_abs() as usize)
                .copied()
                .unwrap_or(27)
        };
        if self.digits.is_empty() || self.dp < -330 {
            return 0.0;
        }
        if self.dp > 310 {
            return f64::INFINITY;
        }
        let mut exp = 0i32;
        while self.dp > 0 {
            let n = step(self.dp);
            self.shift(-n);
            exp += n;
        }
        while self.dp < 0 || (self.dp == 0 && self.digit(0) < 5) {
            let n = step(self.dp);
            self.shift(n);
            exp -= n;
        }
        // Now in [1/2, 1); a double's significand is in [1, 2).
        exp -= 1;
        if exp < -1022 {
            // Subnormal: fewer significant bits.
            let n = -1022 - exp;
            self.shift(-n);
            exp += n;
        }
        if exp > 1023 {
            return f64::INFINITY;
        }
        self.shift(53);
        let mut mantissa = self.rounded_integer();
        if mantissa == 2 << 52 {
            mantissa >>= 1;
            exp += 1;
            if exp > 1023 {
                return f64::INFINITY;
            }
        }
        let biased = if mantissa & (1 << 52) == 0 {
            0
        } else {
            (exp + 1023) as u64
        };
        f64::from_bits((mantissa & ((1 << 52) - 1)) | (biased << 52))
    }
}

/// `10^e` for `0 ≤ e ≤ 22`, exactly.
fn pow10(e: i32) -> f64 {
    (0..e).fold(1.0, |p, _| p * 10.0)
}

/// Reads `[+-]digits[.digits][(e|E)[+-]digits]` (either side of the point may be empty,
/// not both) to the nearest double; `None` when the text is not of that form.
pub fn parse_f64(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, rest) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    let mut d = Decimal {
        digits: Vec::new(),
        dp: 0,
        truncated: false,
    };
    let (mut seen_digit, mut seen_point, mut i) = (false, false, 0);
    while let Some(&b) = rest.get(i) {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let v = b - b'0';
                if d.digits.is_empty() && v == 0 {
                    if seen_point {
                        d.dp -= 1;
                    }
                } else {
                    if !seen_point {
                        d.dp += 1;
                    }
                    if d.digits.len() < MAX_DIGITS {
                        d.digits.push(v);
                    } else if v != 0 {
                        d.truncated = true;
                    }
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return None,
        }
        i += 1;
    }
    if !seen_digit {
        return None;
    }
    if i < rest.len() {
        let exp_text = rest.get(i + 1..).unwrap_or_default();
        let (exp_negative, exp_digits) = match exp_text {
            [b'-', digits @ ..] => (true, digits),
            [b'+', digits @ ..] => (false, digits),
            digits => (false, digits),
        };
        if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // Saturates: beyond ±100 000 every value is zero or infinite anyway.
        let exp = exp_digits
            .iter()
            .fold(0i32, |e, &c| (e * 10 + i32::from(c - b'0')).min(100_000));
        d.dp += if exp_negative { -exp } else { exp };
    }
    d.trim();
    let magnitude = magnitude(d);
    Some(if negative { -magnitude } else { magnitude })
}

fn magnitude(d: Decimal) -> f64 {
    let nd = d.digits.len() as i32;
    if nd > 17 {
        return d.into_f64();
    }
    // The digits as an integer N (below 10^17): the value is N × 10^(dp - nd).
    let n = d.digits.iter().fold(0u64, |n, &v| n * 10 + u64::from(v));
    let e = d.dp - nd;
    if nd <= 15 && (-22..=22).contains(&e) {
        // Clinger: N and 10^|e| are exact doubles, so one rounding gives the nearest.
        return if e >= 0 {
            n as f64 * pow10(e)
        } else {
            n as f64 / pow10(-e)
        };
    }
    if (-342..=308).contains(&d.dp) {
        if let Some(x) = shortest_match(&d, n) {
            return x;
        }
    }
    d.into_f64()
}

/// The double whose shortest digits are exactly `d`'s (`n` being those digits as an
/// integer), if one of the doubles next to a quick estimate is it.
fn shortest_match(d: &Decimal, n: u64) -> Option<f64> {
    // An estimate within a few ulps: N × 10^e in steps that each round once.
    let mut e = d.dp - d.digits.len() as i32;
    let mut guess = n as f64;
    while e > 0 {
        let step = e.min(22);
        guess *= pow10(step);
        e -= step;
    }
    while e < 0 {
        let step = (-e).min(22);
        guess /= pow10(step);
        e += step;
    }
    if !guess.is_finite() || guess == 0.0 {
        return None;
    }
    // Nearest first: the estimate is usually right or one off.
    let bits = guess.to_bits();
    [0i64, -1, 1, -2, 2]
        .into_iter()
        .map(|offset| f64::from_bits(bits.wrapping_add_signed(offset)))
        .find(|&c| c.is_finite() && crate::codec::float::shortest_digits_are(c, &d.digits, d.dp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) {
        let core: f64 = text.parse().unwrap();
        let ours = parse_f64(text).unwrap();
        assert_eq!(ours.to_bits(), core.to_bits(), "{text}");
    }

    #[test]
    fn agrees_with_core_on_edges() {
        for t in [
            "0",
            "-0",
            "0.0",
            "1",
            "-1",
            "1.5",
            "0.1",
            "0.30000000000000004",
            "1e16",
            "1e+16",
            "1.5e-07",
            "1E5",
            "123456789012345678901234567890",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "1e309",
            "2e-308",
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "5e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1e-400",
            "9007199254740993",
            "9007199254740992.5",
            "0.000001",
            "00012.50",
            "1e100000",
            "1e-100000",
            "662936471232937.25",
            "7.2057594037927933e16",
            "0.1000000000000000055511151231257827021181583404541015625",
            "0.10000000000000000555111512312578270211815834045410156250000000001",
            "1.00000000000000011102230246251565404236316680908203125",
            "1.00000000000000011102230246251565404236316680908203124",
        ] {
            check(t);
        }
        let long_half = format!("1.{}1e-300", "0".repeat(900));
        check(&long_half);
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        for t in [
            "", "-", ".", "e5", "1e", "1e+", "1.2.3", "1x", "--1", "inf", "NaN",
        ] {
            assert_eq!(parse_f64(t), None, "{t}");
        }
    }

    #[test]
    fn agrees_with_core_on_random_doubles_and_digit_strings() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..10_000 {
            let x = f64::from_bits(next());
            if x.is_finite() {
                // The shortest repr, and 17 and 25 significant digits (off the fast paths).
                check(&format!("{x:e}"));
                check(&format!("{x:.16e}"));
                check(&format!("{x:.24e}"));
            }
            // Random digit strings with random exponents.
            let digits = next() % 10_000_000_000_000_000_000;
            let exp = (next() % 700) as i32 - 350;
            check(&format!("{digits}e{exp}"));
            check(&format!("0.{digits}e{exp}"));
        }
    }
}
