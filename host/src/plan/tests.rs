//! Every way a spec can be rejected gives its own message; the planner's choices.

use super::*;
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
    assert_eq!(plan.mode, Mode::Sqrt, "auto picks sqrt for now");

    // Automatic block: a power of two whose hot bytes fit the budget; k about sqrt(T).
    let plan = match Plan::new(&spec(&format!("{FFT}, {MAG}")), Some(10_000)) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    };
    let row_bytes = 16 * 4 + 33 * 8 + 33 * 4;
    assert!(plan.block.is_power_of_two());
    assert!(plan.block * row_bytes <= AUTO_BLOCK_BYTES);
    assert!(plan.block * 2 * row_bytes > AUTO_BLOCK_BYTES || plan.block == AUTO_BLOCK_MAX);
    assert_eq!(plan.checkpoint_every % plan.block, 0);
    assert!(plan.checkpoint_every >= 100);
}
