//! Random access to the last minute of an hour of audio through the native audio pipeline,
//! whose smoothing kernel carries state from window 0: cold (a fresh evaluator steps the
//! kernel's inputs from the start, leaving a checkpoint every k windows) and warm (the same
//! evaluator again, restoring the checkpoint before the minute).
//!
//! The hour is written to a temporary WAV file first and read back as a stream, as the CLI
//! reads it: `cargo bench -p sqrtspace-bench --bench random_access`.

use criterion::{Criterion, criterion_group, criterion_main};
use sqrtspace::io::{Framer, open_source};
use sqrtspace::{Evaluator, Plan, Spec, WindowRange};
use sqrtspace_testdata::{AudioFormat, write_audio};

fn last_minute(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wav = dir.path().join("hour.wav");
    write_audio(&wav, AudioFormat::Wav16, 3600 * 48_000, 48_000, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let spec = Spec::from_ron(
        include_str!("../../pipelines/audio-native.ron"),
        "audio-native.ron",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let framer = || {
        let source = open_source(&wav, None, None).unwrap_or_else(|e| panic!("{e}"));
        Framer::new(source, spec.window, spec.hop)
    };
    let total = framer().total_windows().unwrap_or(0);
    let plan = Plan::new(&spec, Some(total)).unwrap_or_else(|e| panic!("{e}"));
    // 60 s at 46.875 windows per second.
    let minute = WindowRange::new(total - 2813, total);

    let mut group = c.benchmark_group("last_minute_of_an_hour");
    group.sample_size(10);
    group.bench_function("cold", |b| {
        b.iter(|| {
            let mut at = Evaluator::new(&plan, framer()).unwrap_or_else(|e| panic!("{e}"));
            at.evaluate(minute).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    let mut at = Evaluator::new(&plan, framer()).unwrap_or_else(|e| panic!("{e}"));
    at.evaluate(minute).unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("warm", |b| {
        b.iter(|| at.evaluate(minute).unwrap_or_else(|e| panic!("{e}")))
    });
    group.finish();
    let recomputed = at.last_request().checkpoints.windows_recomputed;
    println!(
        "warm request: {recomputed} windows recomputed (k = {}), {} rows out",
        plan.checkpoint_every,
        minute.end.unwrap_or(0) - minute.start
    );
}

criterion_group!(benches, last_minute);
criterion_main!(benches);
