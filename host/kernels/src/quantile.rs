//! Quantiles as numpy computes them by default (method "linear", Hyndman–Fan type 7), which
//! simple-statistics computes too: for `n` values and `p` in `[0, 1]` the quantile is the value
//! at rank `h = p (n - 1)` in sorted order, `x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋ + 1] - x[⌊h⌋])`, in f64.
//!
//! Two entry points share that arithmetic, so every plugin and built-in gets the same bits:
//! [`quantile_sorted`] reads already sorted values (several quantiles of one row),
//! [`quantile`] selects the two order statistics it needs in linear time (one quantile of an
//! unsorted buffer it may reorder).

/// The rank of the `p` quantile among `n` values: its whole part and its fraction.
fn rank(n: usize, p: f64) -> (usize, f64) {
    let h = p.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = h.floor() as usize;
    (lo, h - lo as f64)
}

/// Interpolates between the order statistics at `⌊h⌋` and `⌊h⌋ + 1`.
fn between(below: f64, above: impl FnOnce() -> f64, frac: f64) -> f64 {
    if frac == 0.0 {
        below
    } else {
        below + (above() - below) * frac
    }
}

/// The `p` quantile of sorted, non-empty `x` (`p` is clamped to `[0, 1]`).
///
/// ```
/// use sqrtspace_kernels::quantile::quantile_sorted;
/// // numpy.quantile([1, 2, 4, 8], [0.25, 0.5, 0.75]) = 1.75, 3, 5
/// let x = [1.0, 2.0, 4.0, 8.0];
/// assert_eq!([0.25, 0.5, 0.75].map(|p| quantile_sorted(&x, p)), [1.75, 3.0, 5.0]);
/// ```
pub fn quantile_sorted(x: &[f64], p: f64) -> f64 {
    let (lo, frac) = rank(x.len(), p);
    between(x[lo], || x[lo + 1], frac)
}

/// The `q` quantile of `values` in any order (`q` clamped to `[0, 1]`); reorders `values`;
/// NaN when empty.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let (lo, frac) = rank(values.len(), q);
    let (_, &mut below, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    between(
        below,
        || {
            above
                .iter()
                .copied()
                .min_by(f64::total_cmp)
                .unwrap_or(below)
        },
        frac,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_entry_points_give_the_same_bits() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in 1..60 {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 11) as f64 / (1u64 << 53) as f64 * 200.0 - 100.0
                })
                .collect();
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            for p in [0.0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0, 1.0 / 3.0] {
                let mut scratch = values.clone();
                assert_eq!(
                    quantile(&mut scratch, p).to_bits(),
                    quantile_sorted(&sorted, p).to_bits(),
                    "n {n}, p {p}"
                );
            }
        }
    }
}
