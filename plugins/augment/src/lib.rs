//! Seeded time and frequency masking of patches (SpecAugment), the numeric core and the Wasm
//! stage around it.
//!
//! Each row is a patch of `[time, bands]` values. The masks of the patch at window `t` come from
//! a SplitMix64 stream seeded with `seed` and `t` alone: the same window gets the same masks in
//! every mode, at every block size and on every worker. Masked values become `fill`.

use serde::Deserialize;

/// Parameters of the stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The seed of every mask.
    pub seed: u64,
    /// Time masks per patch.
    #[serde(default = "one")]
    pub time_masks: usize,
    /// Longest time mask, in rows of the patch.
    #[serde(default = "two")]
    pub max_time: usize,
    /// Frequency masks per patch.
    #[serde(default = "two")]
    pub freq_masks: usize,
    /// Widest frequency mask, in bands.
    #[serde(default = "eight")]
    pub max_freq: usize,
    /// The value masked elements take.
    #[serde(default)]
    pub fill: f32,
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn eight() -> usize {
    8
}

/// SplitMix64: a tiny generator whose whole state is one word, seeded per window.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    fn up_to(&mut self, max: usize) -> usize {
        (self.next() % (max as u64 + 1)) as usize
    }
}

/// Masks the patch of window `t` (`time` rows of `bands` values) in place.
pub fn augment(patch: &mut [f32], time: usize, bands: usize, t: u64, params: &Params) {
    let mut rng = SplitMix(params.seed ^ t.wrapping_mul(0xd1b5_4a32_d192_ed03));
    for _ in 0..params.time_masks {
        let width = rng.up_to(params.max_time.min(time));
        let start = rng.up_to(time - width);
        for row in patch.chunks_exact_mut(bands).skip(start).take(width) {
            row.fill(params.fill);
        }
    }
    for _ in 0..params.freq_masks {
        let width = rng.up_to(params.max_freq.min(bands));
        let start = rng.up_to(bands - width);
        for row in patch.chunks_exact_mut(bands) {
            row[start..start + width].fill(params.fill);
        }
    }
}

/// The Wasm component: patches in, masked patches out.
#[cfg(target_arch = "wasm32")]
mod component {
    use sqrtspace_sdk::ndarray::{ArrayD, IxDyn};
    use sqrtspace_sdk::{Block, Error};

    fn spec_augment(block: &Block, params: &super::Params) -> Result<ArrayD<f32>, Error> {
        let layout = block
            .layout(0)
            .ok_or_else(|| Error::Input("augment reads one input".into()))?;
        let [time, bands] = layout.row_shape[..] else {
            return Err(Error::Input(format!(
                "augment needs patches of [time, bands], not rows of shape {:?}",
                layout.row_shape
            )));
        };
        let out = sqrtspace_sdk::map_rows(block.f32(0)?, time * bands, |r, row, patch| {
            patch.copy_from_slice(row);
            super::augment(patch, time, bands, block.t0 + r as u64, params);
        })?;
        let rows = out.nrows();
        out.into_shape_with_order(IxDyn(&[rows, time, bands]))
            .map_err(|e| Error::Failed(e.to_string()))
    }

    sqrtspace_sdk::export_stage!(
        spec_augment,
        name = "augment",
        version = env!("CARGO_PKG_VERSION"),
        description = "seeded time and frequency masking of [time, bands] patches"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(seed: u64) -> Params {
        Params {
            seed,
            time_masks: 1,
            max_time: 2,
            freq_masks: 2,
            max_freq: 8,
            fill: 0.0,
        }
    }

    #[test]
    fn masks_depend_on_the_seed_and_the_window_only() {
        let masked = |seed, t| {
            let mut patch = vec![1.0f32; 8 * 64];
            augment(&mut patch, 8, 64, t, &params(seed));
            patch
        };
        assert_eq!(masked(7, 100), masked(7, 100));
        assert_ne!(masked(7, 100), masked(7, 101));
        assert_ne!(masked(7, 100), masked(8, 100));
        let zeros = masked(7, 100).iter().filter(|&&v| v == 0.0).count();
        assert!(zeros > 0 && zeros <= 2 * 64 + 2 * 8 * 8, "{zeros} masked");
    }

    #[test]
    fn masks_are_whole_rows_and_whole_bands() {
        for t in 0..200 {
            let mut patch = vec![1.0f32; 4 * 16];
            augment(&mut patch, 4, 16, t, &params(1));
            let rows: Vec<&[f32]> = patch.chunks_exact(16).collect();
            for band in 0..16 {
                let column: Vec<f32> = rows.iter().map(|r| r[band]).collect();
                // A band is masked in every row, or masked only where whole rows are.
                let whole_rows = rows.iter().filter(|r| r.iter().all(|&v| v == 0.0)).count();
                let zeros = column.iter().filter(|&&v| v == 0.0).count();
                assert!(zeros == 4 || zeros == whole_rows, "t {t} band {band}");
            }
        }
    }
}
