//! Helpers the integration tests share: generated signals, pipelines, runs.

use sqrtspace::io::{Framer, MemorySink, MemorySource};
use sqrtspace::{Mode, Plan, RunStats, Spec, Tensor, WindowRange};
use sqrtspace_testdata::AudioGenerator;

/// The repository's top directory (the tests run from the CLI package, `host/cli`).
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The all-native audio pipeline shipped in `pipelines/`.
pub const AUDIO_NATIVE: &str = include_str!("../pipelines/audio-native.ron");

/// Chirp, tones and seeded noise: never constant, so a stale block shows.
/// The path of `pipelines/NAME`, as a command-line argument.
pub fn pipeline(name: &str) -> String {
    root().join("pipelines").join(name).display().to_string()
}

pub fn chirp_noise(samples: usize, seed: u64) -> Vec<f32> {
    let mut out = vec![0.0; samples];
    AudioGenerator::new(8000, seed).fill(&mut out);
    out
}

/// Parses a pipeline, panicking with the parser's message.
pub fn spec(text: &str) -> Spec {
    Spec::from_ron(text, "test.ron").unwrap_or_else(|e| panic!("{e}"))
}

/// The native audio pipeline resized for fast tests: 8 kHz, the given window and hop.
pub fn small_audio(window: usize, hop: usize) -> Spec {
    let mut s = spec(AUDIO_NATIVE);
    s.window = window;
    s.hop = hop;
    s.sample_rate = 8000;
    for stage in &mut s.stages {
        if let sqrtspace::spec::OpSpec::Bandpass(band) = &mut stage.op {
            band.lo_hz = 0.0;
            band.hi_hz = 2000.0;
        }
    }
    s
}

/// Runs `spec` in `mode` over `samples`, returning the target's rows and the counters.
pub fn run(spec: &Spec, mode: Mode, samples: &[f32], range: WindowRange) -> (Tensor, RunStats) {
    let mut spec = spec.clone();
    spec.mode = mode;
    let plan = Plan::new(&spec, None).unwrap_or_else(|e| panic!("{e}"));
    let mut framer = Framer::new(
        Box::new(MemorySource::new(samples.to_vec())),
        plan.window,
        plan.hop,
    );
    let mut sink = MemorySink::new(&plan.target_node().port.layout);
    let stats =
        sqrtspace::run(&plan, &mut framer, range, &mut sink).unwrap_or_else(|e| panic!("{e}"));
    (sink.tensor, stats)
}

/// Sqrt mode's depth-first executor over every window of `samples` (what random access
/// uses: a whole-stream run sweeps forward), returning the target's rows and the counters.
pub fn run_depth_first(spec: &Spec, samples: &[f32]) -> (Tensor, RunStats) {
    let mut spec = spec.clone();
    spec.mode = Mode::Sqrt;
    let plan = Plan::new(&spec, None).unwrap_or_else(|e| panic!("{e}"));
    let framer = Framer::new(
        Box::new(MemorySource::new(samples.to_vec())),
        plan.window,
        plan.hop,
    );
    let mut at = sqrtspace::Evaluator::new(&plan, framer).unwrap_or_else(|e| panic!("{e}"));
    let rows = at
        .evaluate(WindowRange::all())
        .unwrap_or_else(|e| panic!("{e}"));
    (rows, at.last_request().clone())
}

/// Classic and sqrt over the same samples; panics unless their bits agree. Sqrt runs
/// depth-first and as a forward sweep with the pipeline's worker count and, when the
/// pipeline leaves it open, with 1 and 3. Returns the rows.
pub fn assert_modes_agree(spec: &Spec, samples: &[f32]) -> Tensor {
    let (classic, _) = run(spec, Mode::Classic, samples, WindowRange::all());
    let same = |sqrt: &Tensor, how: &str| {
        assert_eq!(classic.rows(), sqrt.rows(), "row counts differ ({how})");
        assert!(
            classic.bit_identical(sqrt),
            "classic and sqrt {how} differ for block {:?}, k {:?}, lru {:?}",
            spec.block,
            spec.checkpoint_every,
            spec.lru_bytes
        );
    };
    same(&run_depth_first(spec, samples).0, "depth-first");
    let workers = match spec.max_workers {
        Some(n) => vec![n],
        None => vec![1, 3],
    };
    for n in workers {
        let mut s = spec.clone();
        s.max_workers = Some(n);
        let (sqrt, _) = run(&s, Mode::Sqrt, samples, WindowRange::all());
        same(&sqrt, &format!("on {n} workers"));
    }
    classic
}

/// The stats of one stage by name.
pub fn stage<'a>(stats: &'a RunStats, name: &str) -> &'a sqrtspace::exec::StageStats {
    stats
        .stages
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

/// Whether a child ended by `Child::kill` (SIGKILL on Unix; on Windows `TerminateProcess`,
/// which leaves exit code 1).
pub fn killed(status: std::process::ExitStatus) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
    }
    #[cfg(not(unix))]
    {
        status.code() == Some(1)
    }
}
