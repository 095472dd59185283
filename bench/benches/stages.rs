//! Per-block throughput of the built-in stages at the audio pipeline's sizes: one block of
//! 64 windows of 4096 samples at 48 kHz.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sqrtspace::internals::{BuildContext, Instance, Operator, StageCall, build_operator};
use sqrtspace::plan::Port;
use sqrtspace::spec::{BandpassParams, OpSpec, WindowFftParams};
use sqrtspace::tensor::{Data, Tensor};
use sqrtspace_kernels::{iir, mlp};
use sqrtspace_testdata::AudioGenerator;

const ROWS: usize = 64;
const WINDOW: usize = 4096;
const HOP: usize = 1024;

fn build(op: &OpSpec, inputs: &[Port]) -> std::sync::Arc<dyn Operator> {
    let ctx = BuildContext {
        inputs,
        sample_rate: 48_000.0,
        window: WINDOW,
        hop: HOP,
        base_dir: None,
    };
    build_operator("bench", op, &ctx)
        .map(|(op, _)| op)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `op` once on `inputs` and returns its output (to feed the next stage).
fn call(op: &dyn Operator, inputs: &[&Tensor], out: &mut Tensor) {
    let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
    let call = StageCall {
        t0: 0,
        rows: ROWS,
        context_rows: 0,
        inputs: &views,
    };
    match op.instantiate() {
        Ok(Instance::Pure(mut s)) => s.process(&call, out),
        Ok(Instance::Kernel(mut k)) => k.step(&call, out),
        Err(e) => panic!("{e}"),
    }
    .unwrap_or_else(|e| panic!("{e}"));
}

fn stages(c: &mut Criterion) {
    let mut samples = vec![0.0f32; (ROWS - 1) * HOP + WINDOW];
    AudioGenerator::new(48_000, 1).fill(&mut samples);
    let input = Tensor::strided(Data::F32(samples), ROWS, vec![WINDOW], HOP)
        .unwrap_or_else(|e| panic!("{e}"));
    let input_port = Port::plain(sqrtspace::DType::F32, vec![WINDOW]);

    let fft = build(
        &OpSpec::WindowFft(WindowFftParams::default()),
        &[input_port],
    );
    let band = build(
        &OpSpec::Bandpass(BandpassParams {
            lo_hz: 80.0,
            hi_hz: 2000.0,
        }),
        &[fft.output().clone()],
    );
    let mag = build(&OpSpec::Magnitude, &[band.output().clone()]);
    let features = build(&OpSpec::SpectralFeatures, &[mag.output().clone()]);
    let smooth = build(
        &OpSpec::Iir(iir::Params {
            filter: iir::Filter::Lowpass {
                cutoff_hz: 1.5,
                q: std::f64::consts::FRAC_1_SQRT_2,
            },
            start: iir::Start::Zero,
        }),
        &[features.output().clone()],
    );
    let layer = |outputs: usize, inputs: usize| mlp::Layer {
        weights: vec![vec![0.1; inputs]; outputs],
        bias: vec![0.0; outputs],
        activation: mlp::Activation::Relu,
    };
    let classify = build(
        &OpSpec::Mlp(mlp::Params {
            standardize: None,
            layers: vec![layer(6, 8), layer(3, 6)],
        }),
        &[features.output().clone(), smooth.output().clone()],
    );

    // Each stage's input is the previous stage's real output.
    let mut outputs: Vec<Tensor> = Vec::new();
    let chain: [(&str, &std::sync::Arc<dyn Operator>, Vec<usize>); 6] = [
        ("WindowFft", &fft, vec![usize::MAX]),
        ("Bandpass", &band, vec![0]),
        ("Magnitude", &mag, vec![1]),
        ("SpectralFeatures", &features, vec![2]),
        ("Iir", &smooth, vec![3]),
        ("Mlp", &classify, vec![3, 4]),
    ];
    let mut group = c.benchmark_group("stage_block_of_64_windows");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, op, from) in chain {
        let inputs: Vec<&Tensor> = from
            .iter()
            .map(|&i| if i == usize::MAX { &input } else { &outputs[i] })
            .collect();
        let mut out = Tensor::empty(&op.output().layout);
        call(op.as_ref(), &inputs, &mut out);
        let instance = op.instantiate().unwrap_or_else(|e| panic!("{e}"));
        let views: Vec<_> = inputs.iter().map(|t| t.view()).collect();
        let mut scratch = Tensor::empty(&op.output().layout);
        match instance {
            Instance::Pure(mut stage) => group.bench_function(name, |b| {
                b.iter(|| {
                    let call = StageCall {
                        t0: 0,
                        rows: ROWS,
                        context_rows: 0,
                        inputs: &views,
                    };
                    stage
                        .process(black_box(&call), &mut scratch)
                        .unwrap_or_else(|e| panic!("{e}"));
                })
            }),
            Instance::Kernel(mut kernel) => group.bench_function(name, |b| {
                b.iter(|| {
                    let call = StageCall {
                        t0: 0,
                        rows: ROWS,
                        context_rows: 0,
                        inputs: &views,
                    };
                    kernel
                        .step(black_box(&call), &mut scratch)
                        .unwrap_or_else(|e| panic!("{e}"));
                })
            }),
        };
        outputs.push(out);
    }
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
