//! Every way a spec can be rejected gives its own message; the planner's choices.

use super::*;
use crate::machine::Machine;
use crate::spec::Spec;

fn spec(stages: &str) -> Spec {
    spec_with("", stages)
}

fn spec_with(settings: &str, stages: &str) -> Spec {
    let text = format!("(window: 64, hop: 16, sample_rate: 1000, {settings} stages: [{stages}])");
    match Spec::from_ron(&text, "test.ron") {
        Ok(spec) => spec,
        Err(e) => panic!("test spec does not parse: {e}"),
    }
}

fn rejected(spec: &Spec) -> String {
    match Plan::new(spec, None) {
        Ok(_) => panic!("plan accepted: {spec:?}"),
        Err(e) => e.to_string(),
    }
}

const FFT: &str = r#"(name: "fft", inputs: ["input"], op: WindowFft())"#;
const MAG: &str = r#"(name: "mag", inputs: ["fft"], op: Magnitude)"#;

#[test]
fn zero_sizes() {
    let mut s = spec(FFT);
    s.window = 0;
    assert_eq!(rejected(&s), "`window` must be at least 1");
    let mut s = spec(FFT);
    s.hop = 0;
    assert_eq!(rejected(&s), "`hop` must be at least 1");
    let mut s = spec(FFT);
    s.sample_rate = 0;
    assert_eq!(rejected(&s), "`sample_rate` must be at least 1");
    for (setting, field) in [
        ("block: 0,", "block"),
        ("checkpoint_every: 0,", "checkpoint_every"),
        ("checkpoint_slots: 0,", "checkpoint_slots"),
        ("max_workers: 0,", "max_workers"),
        ("input_buffer_blocks: 0,", "input_buffer_blocks"),
    ] {
        assert_eq!(
            rejected(&spec_with(setting, FFT)),
            format!("`{field}` must be at least 1")
        );
    }
}

#[test]
fn window_too_large() {
    let mut s = spec(FFT);
    s.window = (1 << 27) + 1;
    assert_eq!(
        rejected(&s),
        "window 134217729 is larger than the limit of 134217728 samples"
    );
}

#[test]
fn names() {
    assert_eq!(rejected(&spec("")), "the pipeline has no stages");
    assert_eq!(
        rejected(&spec(&format!("{FFT}, {}", FFT))),
        "two stages are named `fft`"
    );
    assert_eq!(
        rejected(&spec(
            r#"(name: "input", inputs: ["input"], op: WindowFft())"#
        )),
        "stage name `input` is not allowed: \"input\" is the name of the input signal"
    );
    assert_eq!(
        rejected(&spec(r#"(name: "", inputs: ["input"], op: WindowFft())"#)),
        "stage name `` is not allowed: names cannot be empty"
    );
}

#[test]
fn inputs() {
    assert_eq!(
        rejected(&spec(r#"(name: "fft", inputs: [], op: WindowFft())"#)),
        "stage `fft` has no inputs (use \"input\" to read the input signal)"
    );
    assert_eq!(
        rejected(&spec(&format!(
            r#"{FFT}, (name: "mag", inputs: ["ftf"], op: Magnitude)"#
        ))),
        "stage `mag` reads `ftf`, which is not a stage or \"input\" (did you mean `fft`?)"
    );
    assert_eq!(
        rejected(&spec(
            r#"(name: "fft", inputs: ["microphone"], op: WindowFft())"#
        )),
        "stage `fft` reads `microphone`, which is not a stage or \"input\""
    );
}

#[test]
fn unknown_target() {
    assert_eq!(
        rejected(&spec_with(r#"target: "mgn","#, &format!("{FFT}, {MAG}"))),
        "target `mgn` is not a stage (did you mean `mag`?)"
    );
    assert_eq!(
        rejected(&spec_with(r#"target: "input","#, FFT)),
        "target `input` is not a stage"
    );
}

#[test]
fn cycles_are_named_in_data_order() {
    let two =
        spec(r#"(name: "a", inputs: ["b"], op: Concat), (name: "b", inputs: ["a"], op: Concat)"#);
    assert_eq!(rejected(&two), "stages form a cycle: a -> b -> a");
    let self_loop = spec(&format!(
        r#"{FFT}, (name: "c", inputs: ["fft", "c"], op: Concat)"#
    ));
    assert_eq!(rejected(&self_loop), "stages form a cycle: c -> c");
    let three = spec(
        r#"(name: "x", inputs: ["input"], op: Concat),
           (name: "a", inputs: ["x", "c"], op: Concat),
           (name: "b", inputs: ["a"], op: Concat),
           (name: "c", inputs: ["b"], op: Concat)"#,
    );
    assert_eq!(rejected(&three), "stages form a cycle: a -> b -> c -> a");
}

#[test]
fn arity_and_dtype_between_stages() {
    assert_eq!(
        rejected(&spec(r#"(name: "mag", inputs: ["input"], op: Magnitude)"#)),
        "stage `mag` (Magnitude): input 0 must be c32, but it is f32"
    );
    assert_eq!(
        rejected(&spec(&format!(
            r#"{FFT}, (name: "mag", inputs: ["fft", "fft"], op: Magnitude)"#
        ))),
        "stage `mag` (Magnitude): takes 1 input(s), got 2"
    );
    assert_eq!(
        rejected(&spec(&format!(
            r#"{FFT}, (name: "f", inputs: ["fft"], op: SpectralFeatures)"#
        ))),
        "stage `f` (SpectralFeatures): input 0 must be f32, but it is c32"
    );
    assert_eq!(
        rejected(&spec(
            r#"(name: "f", inputs: ["input"], op: SpectralFeatures)"#
        )),
        "stage `f` (SpectralFeatures): input 0: is not a spectrum (no frequency axis); use the Magnitude of a WindowFft"
    );
    assert_eq!(
        rejected(&spec(&format!(
            r#"{FFT}, (name: "b", inputs: ["fft"], op: Bandpass(lo_hz: 100.0, hi_hz: 600.0))"#
        ))),
        "stage `b` (Bandpass): hi_hz 600 is above the Nyquist frequency 500 Hz (sample_rate 1000)"
    );
    assert_eq!(
        rejected(&spec(
            r#"(name: "m", inputs: ["input"], op: Mlp(layers: [(weights: [[1.0, 2.0]], bias: [0.0])]))"#
        )),
        "stage `m` (Mlp): layer 0 weight row 0 has 2 entries, but the layer has 64 inputs"
    );
}

#[test]
fn resolves_the_graph() {
    let plan = match Plan::new(
        &spec(&format!(
            r#"{MAG}, {FFT}, (name: "unused", inputs: ["input"], op: RollingMean(rows: 3)),
               (name: "both", inputs: ["mag", "mag"], op: Concat)"#
        )),
        None,
    ) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    };
    let names: Vec<&str> = plan.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["input", "fft", "mag", "unused", "both"]);
    assert_eq!(
        plan.target_node().name,
        "both",
        "the last stage listed is the default target"
    );
    let unused = &plan.nodes()[3];
    assert!(!unused.needed && unused.op.is_some());
    assert_eq!(plan.nodes()[2].fan_out, 2);
    assert_eq!(plan.target_node().port.layout.row_shape, vec![66]);
}

#[test]
fn settings_and_their_reasons() {
    let plan = match Plan::new(&spec_with("block: 7, checkpoint_every: 16,", FFT), None) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((plan.block, plan.checkpoint_every), (7, 21));
    let k = plan
        .decisions
        .iter()
        .find(|d| d.setting == "checkpoint_every");
    assert_eq!(
        k.map(|d| d.reason.as_str()),
        Some(
            "16 from the pipeline, rounded up to a multiple of the block (7): checkpoints sit on block boundaries"
        )
    );
    assert_eq!(
        plan.mode,
        Mode::Sqrt,
        "auto is sqrt until a probe says otherwise"
    );
    assert_eq!(plan.checkpoint_every % plan.block, 0);
}

/// A machine with the given memory, caches and cores, touching fresh memory at 0.5 ns/byte.
fn machine(available: u64, l2: u64, llc: u64, cores: usize) -> Machine {
    Machine {
        total_ram: available.max(1 << 30),
        available_ram: available,
        l2_bytes: l2,
        llc_bytes: llc,
        cores,
        fresh_ns_per_byte: 0.5,
        source: "test".into(),
    }
}

fn planned(spec: &Spec, windows: Option<u64>, m: Machine) -> Plan {
    match Plan::for_machine(spec, windows, m) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    }
}

/// A probe that measured `ns` nanoseconds per window in every stage (and in reading).
fn probe(plan: &Plan, ns: f64) -> Probe {
    Probe {
        windows: 64,
        ns_per_window: vec![ns; plan.nodes().len()],
        baseline_rss: 8 << 20,
        baseline_file_rss: 4 << 20,
        worker_instance_bytes: 0,
        state_bytes: Vec::new(),
    }
}

#[test]
fn each_worker_beyond_the_first_adds_its_plugin_instances() {
    let s = spec(&format!("{FFT}, {MAG}"));
    let probed = |cores: usize, instance_mib: u64| {
        let mut plan = planned(
            &s,
            Some(100_000),
            machine(16 * GIB, 2 << 20, 32 << 20, cores),
        );
        let mut p = probe(&plan, 1000.0);
        p.worker_instance_bytes = instance_mib << 20;
        plan.apply_probe(&p);
        (
            plan.max_workers,
            plan.estimates.expect("estimates").sqrt_peak_bytes,
        )
    };
    let (workers, with) = probed(4, 40);
    let (_, without) = probed(4, 0);
    assert_eq!(workers, 4);
    assert_eq!(
        with - without,
        3 * (40 << 20),
        "three more sets of instances"
    );
    let (_, one_with) = probed(1, 40);
    let (_, one_without) = probed(1, 0);
    assert_eq!(
        one_with, one_without,
        "one worker: the probe's own instances are the baseline"
    );
}

const GIB: u64 = 1 << 30;

#[test]
fn block_size_respects_the_cache_budget() {
    let s = spec(&format!("{FFT}, {MAG}"));
    let row_bytes = 16 * 4 + 33 * 8 + 33 * 4;
    for (l2, llc, cores) in [
        (256 << 10, 32 << 20, 2),
        (2 << 20, 300 << 20, 2),
        (1 << 20, 4 << 20, 8),
    ] {
        let plan = planned(&s, Some(10_000), machine(16 * GIB, l2, llc, cores));
        let budget = (l2 as usize)
            .min((llc as f64 * 0.6) as usize / cores)
            .max(1 << 16);
        assert!(plan.block.is_power_of_two());
        assert!(
            plan.block * row_bytes <= budget,
            "{l2} {llc} {cores}: {}",
            plan.block
        );
        assert!(plan.block * 2 * row_bytes > budget || plan.block == AUTO_BLOCK_MAX);
        assert_eq!(plan.max_workers, cores, "workers default to the cores");
        assert!(plan.checkpoint_every >= 100, "k about sqrt(10000)");
    }
}

#[test]
fn auto_picks_classic_when_it_fits_easily_and_sqrt_when_it_barely_fits_or_spills() {
    let s = spec(&format!("{FFT}, {MAG}"));
    // A short input on one core: classic holds little, and sqrt's per-block work is extra.
    let mut plan = planned(&s, Some(500), machine(16 * GIB, 2 << 20, 32 << 20, 1));
    plan.apply_probe(&probe(&plan, 1000.0));
    let e = plan.estimates.clone().expect("estimates");
    assert_eq!(plan.mode, Mode::Classic, "{:?}", plan.decisions);
    assert!(e.classic_secs <= e.sqrt_secs && e.classic_peak_bytes < GIB);

    // 50 M windows: classic needs about 18 GiB (the input and the FFT whole), which
    // fits in 30 GiB but not comfortably, and does not fit in 8.
    let long = 50_000_000;
    for (available, why) in [(30 * GIB, "barely fits"), (8 * GIB, "spills")] {
        let mut plan = planned(&s, Some(long), machine(available, 2 << 20, 32 << 20, 1));
        plan.apply_probe(&probe(&plan, 1000.0));
        let e = plan.estimates.clone().expect("estimates");
        assert!(e.classic_peak_bytes > available / 2, "{why}: {e:?}");
        assert_eq!(plan.mode, Mode::Sqrt, "{why}");
        let reason = &plan.decisions[0].reason;
        assert!(reason.contains("more than half of the"), "{why}: {reason}");
        assert!(e.sqrt_peak_bytes < 64 << 20, "sqrt stays small: {e:?}");
    }

    // Fits, but sqrt on four cores is predicted faster.
    let mut plan = planned(&s, Some(100_000), machine(16 * GIB, 2 << 20, 32 << 20, 4));
    plan.apply_probe(&probe(&plan, 5000.0));
    assert_eq!(plan.mode, Mode::Sqrt);
    assert!(
        plan.decisions[0]
            .reason
            .contains("sqrt is predicted faster")
    );
}

#[test]
fn the_pipeline_overrides_the_planner() {
    let s = spec_with(
        "mode: Classic, block: 5, max_workers: 3, machine: (cores: 7, l2: \"1 MiB\"),",
        &format!("{FFT}, {MAG}"),
    );
    let mut plan = planned(
        &s,
        Some(50_000_000),
        machine(GIB, 2 << 20, 32 << 20, 2).with(s.machine.as_ref().expect("overrides")),
    );
    plan.apply_probe(&probe(&plan, 1000.0));
    assert_eq!(
        (plan.mode, plan.block, plan.max_workers),
        (Mode::Classic, 5, 3)
    );
    assert_eq!((plan.machine.cores, plan.machine.l2_bytes), (7, 1 << 20));
    assert!(
        plan.estimates.is_some(),
        "predictions are made all the same"
    );
}

#[test]
fn a_window_larger_than_memory_is_reported_not_attempted() {
    let s = spec(&format!("{FFT}, {MAG}"));
    let err = match Plan::for_machine(&s, Some(10), machine(200, 2 << 20, 32 << 20, 1)) {
        Ok(_) => panic!("planned"),
        Err(e) => e.to_string(),
    };
    assert_eq!(
        err,
        "cannot plan within memory: one window needs 460 B across the stages, more than the \
         200 B of memory available; shorten the window, drop stages or give the run more memory"
    );
}

/// A chain of 2,000 pass-through stages in blocks of one window costs 1.9 µs a stage call in
/// sqrt mode (57 s for 15,000 windows against 1 s in classic): the model sees it, so auto
/// picks classic where classic fits.
#[test]
fn the_model_counts_a_cost_per_stage_call_so_a_deep_chain_runs_classic() {
    let mut stages = vec![FFT.to_string(), MAG.to_string()];
    let mut last = "mag".to_string();
    for i in 0..2000 {
        stages.push(format!(r#"(name: "c{i}", inputs: ["{last}"], op: Concat)"#));
        last = format!("c{i}");
    }
    let s = spec_with("limits: (stages: 3000), block: 1,", &stages.join(", "));
    let mut plan = planned(&s, Some(15_000), machine(16 * GIB, 2 << 20, 32 << 20, 2));
    let probe = probe(&plan, 10.0);
    plan.apply_probe(&probe);
    let e = plan.estimates.clone().expect("estimates");
    assert!(
        e.sqrt_secs > 15_000.0 * 2000.0 * 1.5e-6,
        "sqrt predicted {} s",
        e.sqrt_secs
    );
    assert_eq!(plan.mode, Mode::Classic, "{:?}", plan.decisions);
}

#[test]
fn a_batch_holds_each_part_once_and_the_prefix_rows_only_read_inside_it_once_per_worker() {
    // fft is read only inside the pure prefix; mag crosses into the kernel after it, and the
    // kernel's rows are the target: both live until the batch is done.
    let iir =
        r#"(name: "smooth", inputs: ["mag"], op: Iir(filter: Lowpass(cutoff_hz: 5.0, q: 0.7)))"#;
    let s = spec_with("block: 32,", &format!("{FFT}, {MAG}, {iir}"));
    let plan = planned(&s, Some(100_000), machine(16 * GIB, 2 << 20, 32 << 20, 2));
    let held = plan.sweep_bytes();
    // The input's windows share samples: a hop (16 f32) a window.
    assert_eq!(held.per_part, 32 * (16 * 4 + 33 * 4 + 33 * 4));
    assert_eq!(held.per_worker, 32 * 33 * 8);
    for workers in [1, 2, 3] {
        let parts = plan.parts_per_batch(workers);
        assert_eq!(parts % workers, 0, "whole parts a worker");
        let each = parts / workers;
        assert_eq!(
            each,
            (BATCH_BYTES / workers / held.per_part)
                .clamp(MIN_PARTS_PER_WORKER, MAX_PARTS_PER_WORKER)
        );
    }
    // Parts larger than the batch's budget: still two a worker.
    let text = format!(
        "(window: 65536, hop: 65536, sample_rate: 1000, block: 16, stages: [{FFT}, {MAG}])"
    );
    let big = Spec::from_ron(&text, "test.ron").expect("parses");
    let plan = planned(&big, Some(1000), machine(16 * GIB, 2 << 20, 32 << 20, 2));
    assert!(plan.sweep_bytes().per_part > BATCH_BYTES);
    assert_eq!(plan.parts_per_batch(2), 2 * MIN_PARTS_PER_WORKER);
    // A stage that reads mag with context keeps mag's rows past the part; fft, read only by
    // mag, still lives in the worker.
    let rolling = r#"(name: "rolling", inputs: ["mag"], op: RollingMean(rows: 3))"#;
    let s = spec_with("block: 32,", &format!("{FFT}, {MAG}, {rolling}"));
    let plan = planned(&s, Some(100_000), machine(16 * GIB, 2 << 20, 32 << 20, 2));
    let held = plan.sweep_bytes();
    assert_eq!(held.per_part, 32 * (16 * 4 + 33 * 4 + 33 * 4));
    assert_eq!(held.per_worker, 32 * 33 * 8);
    // With the fft the target, nothing is only the prefix's.
    let s = spec_with("block: 32, target: \"fft\",", &format!("{FFT}, {MAG}"));
    let plan = planned(&s, Some(100_000), machine(16 * GIB, 2 << 20, 32 << 20, 2));
    let held = plan.sweep_bytes();
    assert_eq!(
        (held.per_part, held.per_worker),
        (32 * (16 * 4 + 33 * 8), 0)
    );
}

#[test]
fn a_window_fft_read_only_by_a_bandpass_is_fused_into_it() {
    let band = r#"(name: "band", inputs: ["fft"], op: Bandpass(lo_hz: 100.0, hi_hz: 300.0))"#;
    let mag = r#"(name: "mag", inputs: ["band"], op: Magnitude)"#;
    let plan = match Plan::new(&spec(&format!("{FFT}, {band}, {mag}")), None) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    };
    let [input, fft, band_node, ..] = plan.nodes() else {
        panic!("four nodes")
    };
    assert_eq!((fft.fused_into, fft.needed), (Some(2), false));
    assert_eq!(band_node.inputs, [INPUT_NODE]);
    // 33 bins 15.625 Hz apart; 100..=300 Hz keeps bins 7 to 19.
    assert_eq!(band_node.port.layout.row_shape, [13]);
    assert_eq!(input.port.layout.row_shape, [64]);
    let fused: Vec<&str> = plan
        .decisions
        .iter()
        .filter(|d| d.setting == "fused")
        .map(|d| d.value.as_str())
        .collect();
    assert_eq!(fused, ["fft+band"]);
    assert!(plan.to_string().contains("[fft (WindowFft) fused in]"));

    // Not when the spectrum is wanted for itself: read by another stage, checkpointed, or the
    // target.
    for (settings, stages) in [
        ("", format!("{FFT}, {band}, {MAG}")),
        (
            "",
            format!("{FFT}, {band}, {mag}")
                .replace("op: WindowFft()", "op: WindowFft(), checkpoint: true"),
        ),
        ("target: \"fft\",", format!("{FFT}, {band}")),
    ] {
        let plan = match Plan::new(&spec_with(settings, &stages), None) {
            Ok(plan) => plan,
            Err(e) => panic!("{e}"),
        };
        assert!(
            plan.nodes().iter().all(|n| n.fused_into.is_none())
                && !plan.decisions.iter().any(|d| d.setting == "fused"),
            "{stages}"
        );
        assert_eq!(plan.nodes()[2].inputs, [1], "{stages}");
    }
}
