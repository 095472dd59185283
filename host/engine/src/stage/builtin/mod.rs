//! The native built-in operators, one file each, and the table that builds them from a spec
//! (plugins are built by [`crate::plugin::build`]).

pub mod bandpass;
pub mod concat;
pub mod iir;
pub mod log_parse;
pub mod magnitude;
pub mod mlp;
pub mod patches;
pub mod rolling_mean;
pub mod spectral_features;
pub mod window_fft;

use std::sync::Arc;

use crate::spec::OpSpec;
use crate::stage::{BuildContext, BuildError, Operator, Port};

/// Builds the operator a spec names, validated against its inputs.
pub fn build(op: &OpSpec, ctx: &BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError> {
    match op {
        OpSpec::WindowFft(params) => window_fft::build(params, ctx),
        OpSpec::Bandpass(params) => bandpass::build(params, ctx),
        OpSpec::Magnitude => magnitude::build(ctx),
        OpSpec::SpectralFeatures => spectral_features::build(ctx),
        OpSpec::Mlp(params) => mlp::build(params, ctx),
        OpSpec::Iir(params) => iir::build(params, ctx),
        OpSpec::RollingMean(params) => rolling_mean::build(params, ctx),
        OpSpec::Patches(params) => patches::build(params, ctx),
        OpSpec::Concat => concat::build(ctx),
        OpSpec::LogParse(params) => log_parse::build(params, ctx),
        OpSpec::Plugin(spec) => Err(BuildError::Plugin(format!(
            "{} is a plugin: the plugin host builds it, not the built-ins",
            spec.named()
        ))),
        OpSpec::Host(host) => Err(BuildError::Param(format!(
            "`{}` is a host stage: the plan's host operators build it, not the built-ins",
            host.name
        ))),
        OpSpec::Filtfilt(_) => Err(BuildError::Param(
            "Filtfilt stands for two stages; plan the expanded spec (Spec::expanded)".into(),
        )),
    }
}

/// The row length of an input whose rows must be one-dimensional.
fn expect_rank1(port: &Port, index: usize) -> Result<usize, BuildError> {
    match port.layout.row_shape.as_slice() {
        [n] => Ok(*n),
        shape => Err(BuildError::Input {
            index,
            message: format!("rows must be 1-D, but their shape is {shape:?}"),
        }),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers the built-ins' tests share: seeded data and a one-call harness.

    use rand_chacha::ChaCha8Rng;
    use rand_chacha::rand_core::{Rng, SeedableRng};

    use crate::stage::{BuildContext, BuildError, Instance, Operator, Port, StageCall};
    use crate::tensor::Tensor;
    use std::sync::Arc;

    /// `len` uniform values in [-1, 1) from `seed`.
    pub fn seeded_f32(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..len)
            .map(|_| (rng.next_u32() >> 8) as f32 / (1u32 << 23) as f32 - 1.0)
            .collect()
    }

    /// Builds an operator over the inputs' layouts and runs it once over all their rows.
    pub fn call_stage(
        build: impl FnOnce(&BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError>,
        inputs: &[&Tensor],
        sample_rate: f64,
    ) -> Result<Tensor, String> {
        let ports: Vec<Port> = inputs
            .iter()
            .map(|t| Port::plain(t.dtype(), t.row_shape().to_vec()))
            .collect();
        call_with_ports(build, inputs, &ports, sample_rate)
    }

    /// Like [`call_stage`], with explicit input ports (to give a spectrum its axis).
    pub fn call_with_ports(
        build: impl FnOnce(&BuildContext<'_>) -> Result<Arc<dyn Operator>, BuildError>,
        inputs: &[&Tensor],
        ports: &[Port],
        sample_rate: f64,
    ) -> Result<Tensor, String> {
        let ctx = BuildContext {
            inputs: ports,
            sample_rate,
            window: 1,
            hop: 1,
            base_dir: None,
        };
        let op = build(&ctx).map_err(|e| e.to_string())?;
        let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
        let rows = inputs.first().map_or(0, |t| t.rows());
        let call = StageCall {
            t0: 0,
            rows,
            context_rows: 0,
            inputs: &views,
        };
        let mut out = Tensor::empty(&op.output().layout);
        match op.instantiate().map_err(|e| e.to_string())? {
            Instance::Pure(mut stage) => stage.process(&call, &mut out),
            Instance::Kernel(mut kernel) => {
                kernel.reset().and_then(|()| kernel.step(&call, &mut out))
            }
        }
        .map_err(|e| e.to_string())?;
        assert_eq!(out.layout(), op.output().layout, "output layout");
        assert_eq!(out.rows(), rows, "output rows");
        Ok(out)
    }
}
