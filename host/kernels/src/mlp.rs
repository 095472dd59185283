//! A small dense classifier whose weights come from the pipeline: the numeric core, plain Rust
//! that the host's native `Mlp` stage and the `classify` plugin both run.
//!
//! A row's input is its inputs joined side by side, optionally standardized
//! (`(x - mean) / std`), then passed through the layers: `y = act(W x + b)`, `W` given row by
//! row as `[outputs][inputs]` (as PyTorch's `Linear` stores it). Each output is summed in a
//! fixed order (bias first, then inputs in order) in f32, and the activations use `libm`, so
//! a row's result is the same bits natively, in Wasm, and in any block.

use serde::{Deserialize, Serialize};

/// Parameters of the classifier, as the pipeline writes them.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Per-feature standardization applied before the first layer.
    #[serde(default)]
    pub standardize: Option<Standardize>,
    /// The layers, first to last.
    pub layers: Vec<Layer>,
}

/// `(x - mean) / std`, per input feature.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Standardize {
    /// Subtracted from each feature.
    pub mean: Vec<f32>,
    /// Each feature is divided by this (must be > 0).
    pub std: Vec<f32>,
}

/// One dense layer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// `[outputs][inputs]`.
    pub weights: Vec<Vec<f32>>,
    /// One per output.
    pub bias: Vec<f32>,
    /// Applied to the layer's outputs.
    #[serde(default)]
    pub activation: Activation,
}

/// Activation functions.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum Activation {
    /// Identity.
    #[default]
    Linear,
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `e^(x_i - max) / Σ e^(x_j - max)` over the layer's outputs.
    Softmax,
}

#[derive(Clone, Debug)]
struct Dense {
    weights: Vec<f32>,
    bias: Vec<f32>,
    fan_in: usize,
    activation: Activation,
}

/// A validated network for inputs of a given width.
#[derive(Clone, Debug)]
pub struct Network {
    width: usize,
    standardize: Option<Standardize>,
    layers: Vec<Dense>,
}

/// Work space for [`Network::run`], one per thread of evaluation.
#[derive(Clone, Debug)]
pub struct Work {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Network {
    /// Checks `params` against inputs of `width` features. The message says what is wrong.
    pub fn new(params: &Params, width: usize) -> Result<Network, String> {
        if let Some(Standardize { mean, std }) = &params.standardize {
            if mean.len() != width || std.len() != width {
                return Err(format!(
                    "standardize has {} means and {} stds for {width} input features",
                    mean.len(),
                    std.len()
                ));
            }
            if let Some(bad) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                return Err(format!(
                    "standardize std must be finite and > 0, found {bad}"
                ));
            }
        }
        if params.layers.is_empty() {
            return Err("needs at least one layer".into());
        }
        let mut layers = Vec::with_capacity(params.layers.len());
        let mut fan_in = width;
        for (l, layer) in params.layers.iter().enumerate() {
            let outputs = layer.weights.len();
            if outputs == 0 || layer.bias.len() != outputs {
                return Err(format!(
                    "layer {l} has {outputs} weight rows and {} biases (they must match and be > 0)",
                    layer.bias.len()
                ));
            }
            if let Some((j, row)) = layer
                .weights
                .iter()
                .enumerate()
                .find(|(_, r)| r.len() != fan_in)
            {
                return Err(format!(
                    "layer {l} weight row {j} has {} entries, but the layer has {fan_in} inputs",
                    row.len()
                ));
            }
            if !layer
                .weights
                .iter()
                .flatten()
                .chain(&layer.bias)
                .all(|v| v.is_finite())
            {
                return Err(format!("layer {l} has a weight or bias that is not finite"));
            }
            layers.push(Dense {
                weights: layer.weights.iter().flatten().copied().collect(),
                bias: layer.bias.clone(),
                fan_in,
                activation: layer.activation,
            });
            fan_in = outputs;
        }
        Ok(Network {
            width,
            standardize: params.standardize.clone(),
            layers,
        })
    }

    /// Input features per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.bias.len())
    }

    /// Work space sized for this network.
    pub fn work(&self) -> Work {
        let max = self
            .layers
            .iter()
            .map(|l| l.bias.len())
            .chain([self.width])
            .max()
            .unwrap_or(0);
        Work {
            a: vec![0.0; max],
            b: vec![0.0; max],
        }
    }

    /// The slice of `work` to fill with one row's input features before [`Network::run`].
    pub fn input<'w>(&self, work: &'w mut Work) -> &'w mut [f32] {
        &mut work.a[..self.width]
    }

    /// Evaluates the row placed in [`Network::input`] and writes the outputs to `out`.
    pub fn run(&self, work: &mut Work, out: &mut [f32]) {
        if let Some(Standardize { mean, std }) = &self.standardize {
            for ((x, m), s) in work.a.iter_mut().zip(mean).zip(std) {
                *x = (*x - m) / s;
            }
        }
        for layer in &self.layers {
            let x = &work.a[..layer.fan_in];
            for ((y, w), bias) in work
                .b
                .iter_mut()
                .zip(layer.weights.chunks_exact(layer.fan_in))
                .zip(&layer.bias)
            {
                let mut acc = *bias;
                for (wi, xi) in w.iter().zip(x) {
                    acc += wi * xi;
                }
                *y = acc;
            }
            activate(&mut work.b[..layer.bias.len()], layer.activation);
            std::mem::swap(&mut work.a, &mut work.b);
        }
        let n = self.outputs();
        out[..n].copy_from_slice(&work.a[..n]);
    }
}

fn activate(values: &mut [f32], activation: Activation) {
    match activation {
        Activation::Linear => {}
        Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Tanh => values.iter_mut().for_each(|v| *v = libm::tanhf(*v)),
        Activation::Sigmoid => values
            .iter_mut()
            .for_each(|v| *v = 1.0 / (1.0 + libm::expf(-*v))),
        Activation::Softmax => {
            let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for v in values.iter_mut() {
                *v = libm::expf(*v - max);
                sum += *v;
            }
            values.iter_mut().for_each(|v| *v /= sum);
        }
    }
}
