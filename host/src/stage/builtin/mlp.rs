//! `Mlp`: a small fully connected classifier whose weights are given in the pipeline.
//!
//! The inputs' rows are joined side by side into one feature vector, optionally standardized
//! (`(x - mean) / std`), then passed through the layers: `y = act(W x + b)` with `W` given
//! row by row as `[outputs][inputs]`, as PyTorch's `Linear` stores it. Each output is summed
//! in a fixed order (bias first, then inputs in order) in f32, so a row's result never depends
//! on the block it is in.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Stage, StageCall, StageError,
};
use crate::tensor::{DType, Tensor};

/// Parameters of `Mlp`.
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

/// Builds the operator for one or more f32 inputs.
pub fn build(params: &Params, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_some_inputs()?;
    let mut width = 0;
    for index in 0..ctx.inputs.len() {
        width += ctx.input(index, DType::F32)?.layout.row_len();
    }
    if let Some(Standardize { mean, std }) = &params.standardize {
        if mean.len() != width || std.len() != width {
            return Err(BuildError::Param(format!(
                "standardize has {} means and {} stds for {width} input features",
                mean.len(),
                std.len()
            )));
        }
        if let Some(bad) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(BuildError::Param(format!(
                "standardize std must be finite and > 0, found {bad}"
            )));
        }
    }
    if params.layers.is_empty() {
        return Err(BuildError::Param("needs at least one layer".into()));
    }
    let mut layers = Vec::with_capacity(params.layers.len());
    let mut fan_in = width;
    for (l, layer) in params.layers.iter().enumerate() {
        let outputs = layer.weights.len();
        if outputs == 0 || layer.bias.len() != outputs {
            return Err(BuildError::Param(format!(
                "layer {l} has {outputs} weight rows and {} biases (they must match and be > 0)",
                layer.bias.len()
            )));
        }
        if let Some((j, row)) = layer
            .weights
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != fan_in)
        {
            return Err(BuildError::Param(format!(
                "layer {l} weight row {j} has {} entries, but the layer has {fan_in} inputs",
                row.len()
            )));
        }
        let all_finite = layer
            .weights
            .iter()
            .flatten()
            .chain(&layer.bias)
            .all(|v| v.is_finite());
        if !all_finite {
            return Err(BuildError::Param(format!(
                "layer {l} has a weight or bias that is not finite"
            )));
        }
        layers.push(Dense {
            weights: layer.weights.iter().flatten().copied().collect(),
            bias: layer.bias.clone(),
            fan_in,
            activation: layer.activation,
        });
        fan_in = outputs;
    }
    Ok(Arc::new(MlpOp {
        net: Arc::new(Net {
            width,
            standardize: params.standardize.clone(),
            layers,
        }),
        output: Port::plain(DType::F32, vec![fan_in]),
    }))
}

#[derive(Debug)]
struct Dense {
    weights: Vec<f32>,
    bias: Vec<f32>,
    fan_in: usize,
    activation: Activation,
}

#[derive(Debug)]
struct Net {
    width: usize,
    standardize: Option<Standardize>,
    layers: Vec<Dense>,
}

impl Net {
    fn max_width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.bias.len())
            .chain([self.width])
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug)]
struct MlpOp {
    net: Arc<Net>,
    output: Port,
}

impl Operator for MlpOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        let max = self.net.max_width();
        Ok(Instance::Stage(Box::new(Mlp {
            net: Arc::clone(&self.net),
            a: vec![0.0; max],
            b: vec![0.0; max],
        })))
    }
}

struct Mlp {
    net: Arc<Net>,
    a: Vec<f32>,
    b: Vec<f32>,
}

fn activate(values: &mut [f32], activation: Activation) {
    match activation {
        Activation::Linear => {}
        Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
        Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
        Activation::Sigmoid => values
            .iter_mut()
            .for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
        Activation::Softmax => {
            let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for v in values.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            values.iter_mut().for_each(|v| *v /= sum);
        }
    }
}

impl Stage for Mlp {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let inputs = call
            .inputs
            .iter()
            .map(|view| view.typed::<f32>())
            .collect::<Result<Vec<_>, _>>()?;
        let net = &*self.net;
        let outputs = net.layers.last().map_or(0, |l| l.bias.len());
        let output = out.reset::<f32>(call.rows, &[outputs]);
        for (r, dst) in output.chunks_exact_mut(outputs.max(1)).enumerate() {
            let mut at = 0;
            for input in &inputs {
                let part = input.row(r);
                self.a[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            if let Some(Standardize { mean, std }) = &net.standardize {
                for ((x, m), s) in self.a.iter_mut().zip(mean).zip(std) {
                    *x = (*x - m) / s;
                }
            }
            for layer in &net.layers {
                let x = &self.a[..layer.fan_in];
                for ((y, w), bias) in self
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
                activate(&mut self.b[..layer.bias.len()], layer.activation);
                std::mem::swap(&mut self.a, &mut self.b);
            }
            dst.copy_from_slice(&self.a[..outputs]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::{call_stage, seeded_f32};
    use ndarray::{Array1, Array2};

    fn layer(outputs: usize, inputs: usize, seed: u64, activation: Activation) -> Layer {
        let w = seeded_f32(outputs * inputs, seed);
        Layer {
            weights: w.chunks(inputs).map(<[f32]>::to_vec).collect(),
            bias: seeded_f32(outputs, seed + 100),
            activation,
        }
    }

    /// The same network in f64 with ndarray matrix products.
    fn reference(params: &Params, x: &[f32]) -> Vec<f64> {
        let mut v = Array1::from_iter(x.iter().map(|&v| f64::from(v)));
        if let Some(s) = &params.standardize {
            for i in 0..v.len() {
                v[i] = (v[i] - f64::from(s.mean[i])) / f64::from(s.std[i]);
            }
        }
        for l in &params.layers {
            let rows = l.weights.len();
            let cols = l.weights[0].len();
            let w = Array2::from_shape_fn((rows, cols), |(j, i)| f64::from(l.weights[j][i]));
            let b = Array1::from_iter(l.bias.iter().map(|&v| f64::from(v)));
            v = w.dot(&v) + b;
            v = match l.activation {
                Activation::Linear => v,
                Activation::Relu => v.mapv(|x| x.max(0.0)),
                Activation::Tanh => v.mapv(f64::tanh),
                Activation::Sigmoid => v.mapv(|x| 1.0 / (1.0 + (-x).exp())),
                Activation::Softmax => {
                    let e = v.mapv(f64::exp);
                    let s = e.sum();
                    e / s
                }
            };
        }
        v.to_vec()
    }

    #[test]
    fn matches_a_matrix_product_reference_over_two_inputs() {
        let params = Params {
            standardize: Some(Standardize {
                mean: seeded_f32(6, 1),
                std: seeded_f32(6, 2).iter().map(|v| v.abs() + 0.5).collect(),
            }),
            layers: vec![
                layer(8, 6, 3, Activation::Relu),
                layer(8, 8, 4, Activation::Tanh),
                layer(5, 8, 5, Activation::Sigmoid),
                layer(3, 5, 6, Activation::Softmax),
            ],
        };
        let rows = 20;
        let a = Tensor::new(rows, vec![4], seeded_f32(rows * 4, 10)).expect("valid");
        let b = Tensor::new(rows, vec![2], seeded_f32(rows * 2, 11)).expect("valid");
        let out = call_stage(|ctx| build(&params, ctx), &[&a, &b], 1.0).expect("runs");
        let (av, bv, ov) = (a.view(), b.view(), out.view());
        let (ar, br, or) = (
            av.typed::<f32>().expect("f32"),
            bv.typed::<f32>().expect("f32"),
            ov.typed::<f32>().expect("f32"),
        );
        for r in 0..rows {
            let x: Vec<f32> = ar.row(r).iter().chain(br.row(r)).copied().collect();
            let expected = reference(&params, &x);
            let sum: f32 = or.row(r).iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "softmax sums to 1");
            for (g, e) in or.row(r).iter().zip(&expected) {
                assert!((f64::from(*g) - e).abs() < 1e-5, "row {r}: {g} vs {e}");
            }
        }
    }

    #[test]
    fn rejects_inconsistent_weights() {
        let input = Tensor::new(1, vec![3], vec![0.0f32; 3]).expect("valid");
        let bad_fan_in = Params {
            standardize: None,
            layers: vec![layer(2, 4, 1, Activation::Linear)],
        };
        let err = call_stage(|ctx| build(&bad_fan_in, ctx), &[&input], 1.0).unwrap_err();
        assert_eq!(
            err,
            "layer 0 weight row 0 has 4 entries, but the layer has 3 inputs"
        );
        let mut bad_bias = layer(2, 3, 1, Activation::Linear);
        bad_bias.bias.pop();
        let params = Params {
            standardize: None,
            layers: vec![bad_bias],
        };
        let err = call_stage(|ctx| build(&params, ctx), &[&input], 1.0).unwrap_err();
        assert_eq!(
            err,
            "layer 0 has 2 weight rows and 1 biases (they must match and be > 0)"
        );
        let params = Params {
            standardize: Some(Standardize {
                mean: vec![0.0; 3],
                std: vec![1.0, 0.0, 1.0],
            }),
            layers: vec![layer(2, 3, 1, Activation::Linear)],
        };
        let err = call_stage(|ctx| build(&params, ctx), &[&input], 1.0).unwrap_err();
        assert_eq!(err, "standardize std must be finite and > 0, found 0");
        let none = Params {
            standardize: None,
            layers: vec![],
        };
        let err = call_stage(|ctx| build(&none, ctx), &[&input], 1.0).unwrap_err();
        assert_eq!(err, "needs at least one layer");
    }
}
