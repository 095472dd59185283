//! The ML preprocessing pipeline (`pipelines/ml-preproc.ron`): log-mel bands, patches with
//! context, seeded masking and standardization give the same bits in classic and sqrt mode at
//! any block size and worker count, and as shards equal to the single-file output; a run
//! killed mid-shard leaves only complete shards under shard names.

use crate::cli::Start;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqrtspace::spec::OpSpec;
use sqrtspace::{Mode, Spec, WindowRange};
use sqrtspace_test_artifacts as artifacts;

use crate::cli::{command, ok};
use crate::common::{assert_modes_agree, chirp_noise, run, spec};

const ML: &str = include_str!("../pipelines/ml-preproc.ron");

/// The pipeline at 8 kHz with 256-sample windows, its plugins from the test build.
fn small_ml() -> Spec {
    let mut s = spec(ML);
    s.window = 256;
    s.hop = 128;
    s.sample_rate = 8000;
    for stage in &mut s.stages {
        if let OpSpec::Plugin(plugin) = &mut stage.op {
            plugin.path = plugin
                .path
                .as_ref()
                .map(|p| Path::new(artifacts::DIR).join(p));
            if stage.name == "mel" {
                plugin.params = Some(
                    ron::value::RawValue::from_boxed_ron(
                        "(bands: 24, fmin_hz: 30.0, fmax_hz: 3800.0)".into(),
                    )
                    .expect("ron"),
                );
            }
        }
    }
    s
}

#[test]
fn classic_and_sqrt_agree_at_any_block_with_patches_across_blocks() {
    let samples = chirp_noise(128 * 300 + 128, 41);
    let mut first = None;
    for block in [1, 3, 7, 64] {
        let mut s = small_ml();
        s.block = Some(block);
        let rows = assert_modes_agree(&s, &samples);
        assert_eq!(rows.rows(), 300);
        assert_eq!(rows.row_shape(), [8, 24]);
        let first = first.get_or_insert_with(|| rows.clone());
        assert!(rows.bit_identical(first), "block {block}");
    }
    // Masking is a function of the seed and the window: a range late in the stream is the
    // same rows as in the whole run.
    let (late, _) = run(
        &small_ml(),
        Mode::Sqrt,
        &samples,
        WindowRange::new(250, 260),
    );
    let whole = first.expect("ran");
    assert!(late.bit_identical(&whole.slice_rows(250..260).to_tensor()));
    // And something was masked: a masked time step is one value across all its bands (the
    // fill, standardized), where a real spectrum varies.
    let view = whole.view();
    let rows = view.typed::<f32>().expect("f32");
    let masked = rows
        .iter()
        .skip(8) // the first patches start with zeros from before the stream
        .filter(|patch| {
            patch
                .chunks_exact(24)
                .any(|r| r.iter().all(|&v| v.to_bits() == r[0].to_bits()))
        })
        .count();
    assert!(
        masked > 100,
        "{masked} of 300 patches have a masked time step"
    );
}

fn npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let file = npyz::NpyFile::new(std::fs::File::open(path).expect("open")).expect("npy");
    let shape = file.shape().to_vec();
    (shape, file.into_vec::<f32>().expect("f32"))
}

fn shards_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut shards: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| sqrtspace::io::is_shard(p))
        .collect();
    shards.sort();
    shards
}

fn pipeline_file(dir: &Path) -> PathBuf {
    let path = dir.join("ml.ron");
    std::fs::write(&path, ML).expect("write");
    path
}

fn audio(dir: &Path, seconds: &str) -> PathBuf {
    let path = dir.join("audio.wav");
    ok(&[
        "gen",
        "audio",
        "--seconds",
        seconds,
        "--out",
        &path.to_string_lossy(),
    ]);
    path
}

#[test]
fn shards_hold_the_single_file_output_in_numbered_pieces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ron, wav) = (pipeline_file(dir.path()), audio(dir.path(), "12"));
    let single = dir.path().join("all.npy");
    let shards = dir.path().join("shards");
    let (ron, wav) = (ron.to_string_lossy(), wav.to_string_lossy());
    ok(&[
        "run",
        &ron,
        "--input",
        &wav,
        "--output",
        &single.to_string_lossy(),
    ]);
    ok(&[
        "run",
        &ron,
        "--input",
        &wav,
        "--output-shards",
        &shards.to_string_lossy(),
        "--shard-windows",
        "128",
        "--mode",
        "sqrt",
        "--block",
        "48",
    ]);
    let (shape, all) = npy(&single);
    assert_eq!(shape, [561, 8, 64]);
    let pieces = shards_in(&shards);
    assert_eq!(pieces.len(), 5, "561 windows in shards of 128");
    let mut joined = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        assert!(piece.ends_with(sqrtspace::io::shard_name(i as u64)));
        let (shape, values) = npy(piece);
        assert_eq!(shape, [if i < 4 { 128 } else { 49 }, 8, 64]);
        joined.extend(values);
    }
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&joined), bits(&all));
    assert_eq!(
        std::fs::read_dir(&shards).expect("dir").count(),
        5,
        "nothing else"
    );
    // A second run into the same directory is refused, not mixed in.
    let again = command(&[
        "run",
        &ron,
        "--input",
        &wav,
        "--output-shards",
        &shards.to_string_lossy(),
        "--shard-windows",
        "128",
    ])
    .run()
    .expect("runs");
    assert_eq!(again.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds 5 shard files"));
}

#[test]
fn a_run_killed_mid_shard_leaves_only_complete_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ron, wav) = (pipeline_file(dir.path()), audio(dir.path(), "600"));
    let shards = dir.path().join("shards");
    let mut child = command(&[
        "run",
        &ron.to_string_lossy(),
        "--input",
        &wav.to_string_lossy(),
        "--output-shards",
        &shards.to_string_lossy(),
        "--shard-windows",
        "1000",
        "--mode",
        "sqrt",
    ])
    .stderr(Stdio::null())
    .start()
    .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    while shards_in(&shards).len() < 2 {
        assert!(Instant::now() < deadline, "no shards appeared");
        assert!(
            child.try_wait().expect("polls").is_none(),
            "it finished first"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    assert!(crate::common::killed(child.wait().expect("ends")));
    let pieces = shards_in(&shards);
    assert!(
        pieces.len() >= 2 && pieces.len() < 29,
        "{} shards",
        pieces.len()
    );
    for piece in &pieces {
        let (shape, values) = npy(piece);
        assert_eq!(shape, [1000, 8, 64], "{}", piece.display());
        assert_eq!(values.len(), 1000 * 8 * 64);
    }
    // What else may be there is the hidden temporary file of the shard in progress.
    for entry in std::fs::read_dir(&shards).expect("dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("shard-")
                || (name.starts_with(".shard-") && name.ends_with(".partial")),
            "{name}"
        );
    }
}
