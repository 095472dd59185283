//! A cascade of biquad sections run along time: the numeric core of a stateful kernel, plain
//! Rust that the host's native `Iir` kernel and the `iir` plugin both run.
//!
//! Each element of a row is its own signal, one value per window, sampled at the frame rate
//! (`sample_rate / hop`). The cascade runs in f64, transposed direct form II, one value at a
//! time, so stepping over blocks of any size gives the same bits as one pass; filter design
//! uses `libm`, so native and Wasm builds get the same coefficients. The state (two f64 per
//! element per section) serializes to bytes for checkpoints.

use serde::{Deserialize, Serialize};

/// How the filter is given in a pipeline.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub enum Filter {
    /// Second-order sections `(b0, b1, b2, a0, a1, a2)`, as `scipy.signal` writes them:
    /// `Sos(sections: [(1.0, 2.0, 1.0, 1.0, -0.5, 0.1)])`.
    Sos {
        /// One tuple per section, applied in order.
        sections: Vec<[f64; 6]>,
    },
    /// An RBJ-cookbook low-pass biquad.
    Lowpass {
        /// Cutoff, in Hz of the frame rate.
        cutoff_hz: f64,
        /// Quality factor (1/√2 is Butterworth).
        q: f64,
    },
    /// An RBJ-cookbook high-pass biquad.
    Highpass {
        /// Cutoff, in Hz of the frame rate.
        cutoff_hz: f64,
        /// Quality factor (1/√2 is Butterworth).
        q: f64,
    },
}

/// Parameters of the kernel.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The filter.
    pub filter: Filter,
    /// How the filter starts.
    #[serde(default)]
    pub start: Start,
}

/// The state a cascade starts in.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Start {
    /// All delays zero: as if the signal had been zero forever before its first value.
    #[default]
    Zero,
    /// Steady state for the first value: as if the signal had held its first value forever
    /// (scipy's `lfilter_zi` scaled by `x[0]`), so a constant offset gives no start-up
    /// transient. Needs every section to have a finite gain at DC.
    Steady,
}

/// Checks that `sections` can start as `start` asks.
pub fn check_start(sections: &[Section], start: Start) -> Result<(), String> {
    if start == Start::Steady {
        for (i, &[_, _, _, a1, a2]) in sections.iter().enumerate() {
            if (1.0 + a1 + a2).abs() < 1e-12 {
                return Err(format!(
                    "section {i} has a pole at DC (1 + a1 + a2 = 0), so it has no steady state \
                     to start from; use start: Zero"
                ));
            }
        }
    }
    Ok(())
}

/// One normalized section: `[b0, b1, b2, a1, a2]` with `a0 = 1`.
pub type Section = [f64; 5];

impl Filter {
    /// The normalized sections for a signal of `rate` values per second.
    pub fn sections(&self, rate: f64) -> Result<Vec<Section>, String> {
        let rbj = |cutoff_hz: f64, q: f64, high: bool| {
            let nyquist = rate / 2.0;
            if !(cutoff_hz > 0.0 && cutoff_hz < nyquist && q > 0.0 && q.is_finite()) {
                return Err(format!(
                    "needs 0 < cutoff_hz < {nyquist} (half the frame rate {rate} windows/s) and q > 0, \
                     got cutoff_hz {cutoff_hz}, q {q}"
                ));
            }
            let w0 = 2.0 * std::f64::consts::PI * cutoff_hz / rate;
            let (sin, cos) = (libm::sin(w0), libm::cos(w0));
            let alpha = sin / (2.0 * q);
            let (b0, b1) = if high {
                ((1.0 + cos) / 2.0, -(1.0 + cos))
            } else {
                ((1.0 - cos) / 2.0, 1.0 - cos)
            };
            let a0 = 1.0 + alpha;
            Ok(vec![[
                b0 / a0,
                b1 / a0,
                b0 / a0,
                -2.0 * cos / a0,
                (1.0 - alpha) / a0,
            ]])
        };
        match *self {
            Filter::Lowpass { cutoff_hz, q } => rbj(cutoff_hz, q, false),
            Filter::Highpass { cutoff_hz, q } => rbj(cutoff_hz, q, true),
            Filter::Sos { ref sections } => {
                if sections.is_empty() {
                    return Err("Sos needs at least one section".into());
                }
                sections
                    .iter()
                    .enumerate()
                    .map(|(i, &[b0, b1, b2, a0, a1, a2])| {
                        if a0 == 0.0 || ![b0, b1, b2, a0, a1, a2].iter().all(|c| c.is_finite()) {
                            return Err(format!(
                                "section {i} needs finite coefficients and a0 != 0"
                            ));
                        }
                        Ok([b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0])
                    })
                    .collect()
            }
        }
    }
}

/// The cascade's delay values for `width` signals: the whole state of the kernel.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct State {
    width: u64,
    sections: u64,
    /// `z[(element * sections + s) * 2 ..][..2]`.
    z: Vec<f64>,
    /// Set the delays to the steady state of the next value before filtering it.
    settle: bool,
}

impl State {
    /// The zero state of a cascade of `sections` sections over `width` signals.
    pub fn zero(width: usize, sections: usize) -> State {
        State::new(width, sections, Start::Zero)
    }

    /// The initial state of a cascade that starts as `start` says.
    pub fn new(width: usize, sections: usize, start: Start) -> State {
        State {
            width: width as u64,
            sections: sections as u64,
            z: vec![0.0; width * sections * 2],
            settle: start == Start::Steady,
        }
    }

    /// The state as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing integers and a vector of floats into memory cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    /// A state from [`State::to_bytes`], checked against the cascade's dimensions.
    pub fn from_bytes(bytes: &[u8], width: usize, sections: usize) -> Result<State, String> {
        let state: State = postcard::from_bytes(bytes).map_err(|e| e.to_string())?;
        if state.width != width as u64
            || state.sections != sections as u64
            || state.z.len() != width * sections * 2
        {
            return Err(format!(
                "state is for {} signals x {} sections, this filter has {width} x {sections}",
                state.width, state.sections
            ));
        }
        Ok(state)
    }
}

/// Filters one row of values (one per signal) through `sections`, advancing `state`.
pub fn filter_row(sections: &[Section], state: &mut State, row: &[f32], out: &mut [f32]) {
    let per = sections.len() * 2;
    if state.settle {
        state.settle = false;
        for (x, z) in row.iter().zip(state.z.chunks_exact_mut(per)) {
            // Each section in transposed direct form II at rest with input u and output
            // y = gain * u: z0 = y - b0 u, z1 = b2 u - a2 y; its output feeds the next.
            let mut u = f64::from(*x);
            for (&[b0, b1, b2, a1, a2], z) in sections.iter().zip(z.chunks_exact_mut(2)) {
                let y = u * (b0 + b1 + b2) / (1.0 + a1 + a2);
                z[0] = y - b0 * u;
                z[1] = b2 * u - a2 * y;
                u = y;
            }
        }
    }
    for ((x, y), z) in row
        .iter()
        .zip(out.iter_mut())
        .zip(state.z.chunks_exact_mut(per))
    {
        let mut v = f64::from(*x);
        for (&[b0, b1, b2, a1, a2], z) in sections.iter().zip(z.chunks_exact_mut(2)) {
            let out = b0 * v + z[0];
            z[0] = b1 * v - a1 * out + z[1];
            z[1] = b2 * v - a2 * out;
            v = out;
        }
        *y = v as f32;
    }
}
