//! What the executors themselves cost: the sqrt executor's overhead per block on a pipeline
//! of near-free stages, and classic against sqrt on the audio pipeline.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sqrtspace::{Mode, Plan, Spec, WindowRange, evaluate};
use sqrtspace_testdata::AudioGenerator;

fn plan(text: &str, mode: Mode, block: usize) -> Plan {
    let mut spec = Spec::from_ron(text, "bench.ron").unwrap_or_else(|e| panic!("{e}"));
    spec.mode = mode;
    spec.block = Some(block);
    Plan::new(&spec, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Four stages that do almost nothing with one-sample windows, one of them read twice: the
/// time is the executor's (framing, cache, checkpoints, calls), divided per block.
fn per_block_overhead(c: &mut Criterion) {
    const CHEAP: &str = r#"(window: 1, hop: 1, sample_rate: 1000, stages: [
        (name: "a", inputs: ["input"], op: RollingMean(rows: 1)),
        (name: "b", inputs: ["a"], op: Iir(filter: Sos(sections: [(1.0, 0.0, 0.0, 1.0, 0.0, 0.0)]))),
        (name: "c", inputs: ["a", "b"], op: Concat),
        (name: "d", inputs: ["c"], op: RollingMean(rows: 2)),
    ])"#;
    let samples = vec![0.5f32; 1 << 16];
    let mut group = c.benchmark_group("sqrt_executor_per_block");
    for block in [1usize, 16, 256] {
        let plan = plan(CHEAP, Mode::Sqrt, block);
        group.throughput(Throughput::Elements((samples.len() / block) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(block), &plan, |b, plan| {
            b.iter(|| {
                evaluate(plan, black_box(samples.clone()), WindowRange::all())
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

/// Ten seconds of 48 kHz audio through the audio pipeline, both modes.
fn audio_modes(c: &mut Criterion) {
    let text = include_str!("../../pipelines/audio-native.ron");
    let mut samples = vec![0.0f32; 480_000];
    AudioGenerator::new(48_000, 1).fill(&mut samples);
    let mut group = c.benchmark_group("audio_10s");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        ((samples.len() - 4096) / 1024 + 1) as u64,
    ));
    for mode in [Mode::Classic, Mode::Sqrt] {
        let plan = plan(text, mode, 64);
        group.bench_with_input(BenchmarkId::from_parameter(mode), &plan, |b, plan| {
            b.iter(|| {
                evaluate(plan, black_box(samples.clone()), WindowRange::all())
                    .unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_block_overhead, audio_modes);
criterion_main!(benches);
