//! What running a stage as a Wasm plugin costs: the call itself for blocks of 1, 64 and 1024
//! windows, and the features and IIR stages natively against the same crates in Wasm.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqrtspace::internals::{BuildContext, Instance, Operator, StageCall, build_operator};
use sqrtspace::plan::{FreqAxis, Port};
use sqrtspace::spec::OpSpec;
use sqrtspace::spec::PluginSpec;
use sqrtspace::tensor::{DType, Layout, Tensor};
use sqrtspace_kernels::iir;
use sqrtspace_test_artifacts as artifacts;

fn build(op: &OpSpec, input: &Port) -> Arc<dyn Operator> {
    let inputs = [input.clone()];
    let ctx = BuildContext {
        inputs: &inputs,
        sample_rate: 48_000.0,
        window: 4096,
        hop: 1024,
        base_dir: None,
    };
    build_operator("bench", op, &ctx)
        .map(|(op, _)| op)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn plugin(path: &str, params: Option<&str>) -> OpSpec {
    OpSpec::Plugin(PluginSpec {
        path: Some(PathBuf::from(path)),
        oci: None,
        params: params.map(|p| {
            ron::value::RawValue::from_boxed_ron(p.into()).unwrap_or_else(|e| panic!("{e}"))
        }),
        deadline_ms: None,
        memory_limit: None,
        max_state: None,
        sha256: None,
    })
}

/// Times `op` on `input` (one block), as a stage or a kernel.
fn bench_op(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    op: &dyn Operator,
    input: &Tensor,
) {
    let views = [input.view()];
    let mut out = Tensor::empty(&op.output().layout);
    match op.instantiate().unwrap_or_else(|e| panic!("{e}")) {
        Instance::Pure(mut stage) => group.bench_function(id, |b| {
            b.iter(|| {
                let call = StageCall {
                    t0: 0,
                    rows: input.rows(),
                    context_rows: 0,
                    inputs: &views,
                };
                stage
                    .process(black_box(&call), &mut out)
                    .unwrap_or_else(|e| panic!("{e}"));
            })
        }),
        Instance::Kernel(mut kernel) => {
            kernel.reset().unwrap_or_else(|e| panic!("{e}"));
            group.bench_function(id, |b| {
                b.iter(|| {
                    let call = StageCall {
                        t0: 0,
                        rows: input.rows(),
                        context_rows: 0,
                        inputs: &views,
                    };
                    kernel
                        .step(black_box(&call), &mut out)
                        .unwrap_or_else(|e| panic!("{e}"));
                })
            })
        }
    };
}

fn rows(n: usize, width: usize) -> Tensor {
    let values: Vec<f32> = (0..n * width)
        .map(|i| (i % 97) as f32 * 0.25 + 1.0)
        .collect();
    Tensor::new(n, vec![width], values).unwrap_or_else(|e| panic!("{e}"))
}

/// A plugin that returns its input: the cost of crossing the boundary, in and out.
fn call_overhead(c: &mut Criterion) {
    let mut group = c.benchmark_group("plugin_call_identity_4_floats_per_row");
    let port = Port::plain(DType::F32, vec![4]);
    let op = build(&plugin(artifacts::IDENTITY, None), &port);
    for n in [1usize, 64, 1024] {
        group.throughput(Throughput::Elements(n as u64));
        bench_op(
            &mut group,
            BenchmarkId::from_parameter(n),
            op.as_ref(),
            &rows(n, 4),
        );
    }
    group.finish();
}

/// The same crates, native (the built-in stages) and as Wasm plugins, on a block of 64
/// windows of the audio pipeline.
fn native_vs_wasm(c: &mut Criterion) {
    let spectrum = Port {
        layout: Layout::new(DType::F32, vec![164]),
        freq_axis: Some(FreqAxis {
            first_hz: 82.03125,
            step_hz: 11.71875,
        }),
    };
    let features_in = rows(64, 164);
    let mut group = c.benchmark_group("features_block_of_64");
    group.throughput(Throughput::Elements(64));
    let native = build(&OpSpec::SpectralFeatures, &spectrum);
    let wasm = build(&plugin(artifacts::FEATURES, None), &spectrum);
    bench_op(
        &mut group,
        BenchmarkId::from_parameter("native"),
        native.as_ref(),
        &features_in,
    );
    bench_op(
        &mut group,
        BenchmarkId::from_parameter("wasm"),
        wasm.as_ref(),
        &features_in,
    );
    group.finish();

    let feature_port = Port::plain(DType::F32, vec![4]);
    let iir_in = rows(64, 4);
    let params = "(filter: Lowpass(cutoff_hz: 1.5, q: 0.75))";
    let mut group = c.benchmark_group("iir_block_of_64");
    group.throughput(Throughput::Elements(64));
    let native = build(
        &OpSpec::Iir(iir::Params {
            filter: iir::Filter::Lowpass {
                cutoff_hz: 1.5,
                q: 0.75,
            },
            start: iir::Start::Zero,
        }),
        &feature_port,
    );
    let wasm = build(&plugin(artifacts::IIR, Some(params)), &feature_port);
    bench_op(
        &mut group,
        BenchmarkId::from_parameter("native"),
        native.as_ref(),
        &iir_in,
    );
    bench_op(
        &mut group,
        BenchmarkId::from_parameter("wasm"),
        wasm.as_ref(),
        &iir_in,
    );
    group.finish();
}

criterion_group!(benches, call_overhead, native_vs_wasm);
criterion_main!(benches);
