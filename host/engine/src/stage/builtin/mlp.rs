//! `Mlp`: a small fully connected classifier whose weights are given in the pipeline. The
//! network is the `classify` plugin crate's, so this native stage and the Wasm plugin compute
//! the same bits; its documentation gives the arithmetic.

use std::sync::Arc;

use sqrtspace_kernels::mlp::Params;
use sqrtspace_kernels::mlp::{Network, Work};

use crate::stage::{
    BuildContext, BuildError, Instance, Operator, Port, Pure, StageCall, StageError,
};
use crate::tensor::{DType, Tensor};

/// Builds the operator for one or more f32 inputs, joined side by side.
pub fn build(params: &Params, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    ctx.expect_some_inputs()?;
    let mut width = 0;
    for index in 0..ctx.inputs.len() {
        width += ctx.input(index, DType::F32)?.layout.row_len();
    }
    let net = Network::new(params, width).map_err(BuildError::Param)?;
    Ok(Arc::new(MlpOp {
        output: Port::plain(DType::F32, vec![net.outputs()]),
        net: Arc::new(net),
    }))
}

#[derive(Debug)]
struct MlpOp {
    net: Arc<Network>,
    output: Port,
}

impl Operator for MlpOp {
    fn output(&self) -> &Port {
        &self.output
    }

    fn instantiate(&self) -> Result<Instance, StageError> {
        Ok(Instance::Pure(Box::new(Mlp {
            work: self.net.work(),
            net: Arc::clone(&self.net),
        })))
    }
}

struct Mlp {
    net: Arc<Network>,
    work: Work,
}

impl Pure for Mlp {
    fn process(&mut self, call: &StageCall<'_>, out: &mut Tensor) -> Result<(), StageError> {
        let inputs = call
            .inputs
            .iter()
            .map(|view| view.typed::<f32>())
            .collect::<Result<Vec<_>, _>>()?;
        let outputs = self.net.outputs();
        let output = out.reset::<f32>(call.rows, &[outputs]);
        for (r, dst) in output.chunks_exact_mut(outputs.max(1)).enumerate() {
            let x = self.net.input(&mut self.work);
            let mut at = 0;
            for input in &inputs {
                let part = input.row(r);
                x[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            self.net.run(&mut self.work, dst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::builtin::testing::{call_stage, seeded_f32};
    use ndarray::{Array1, Array2};
    use sqrtspace_kernels::mlp::{Activation, Layer, Standardize};

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
