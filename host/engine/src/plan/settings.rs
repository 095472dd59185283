//! The settings of a plan, one function each: the mode, the block, how often checkpoints are
//! taken and how many are kept, workers, cache and input buffer. Each says why it chose what it
//! chose ([`Decision`]): given by the pipeline or the command line, or derived from the
//! machine, the graph and the stream length.

use super::{
    AUTO_BLOCK_MAX, CHECKPOINT_BUDGET, DEFAULT_CHECKPOINT_SLOTS, DEFAULT_INPUT_BUFFER,
    DEFAULT_LRU_BYTES, Decision, Node, PlanError,
};
use crate::machine::Machine;
use crate::spec::{ByteSize, Device, InputKind, Mode, Spec};

/// The decisions so far.
#[derive(Debug, Default)]
pub(super) struct Decisions(pub(super) Vec<Decision>);

impl Decisions {
    fn decide(&mut self, setting: &'static str, value: String, reason: String) {
        self.0.push(Decision {
            setting,
            value,
            reason,
        });
    }
}

/// The mode, and why.
pub(super) fn mode(spec: &Spec, decisions: &mut Decisions) -> Mode {
    let (mode, mode_reason) = match spec.mode {
        Mode::Auto if spec.input == InputKind::Lines => (
            Mode::Sqrt,
            "auto: sqrt, whose memory does not depend on the input's length (an input of \
         lines has no length known before it is read, so classic mode's peak cannot \
         be predicted)"
                .to_string(),
        ),
        Mode::Auto => (
            Mode::Sqrt,
            "auto: sqrt until a probe of the input predicts classic fits comfortably and is \
         not slower (`run` and `plan --input` probe; without an input, sqrt)"
                .to_string(),
        ),
        chosen => (chosen, spec.set_by("mode").to_string()),
    };
    decisions.decide("mode", mode.to_string(), mode_reason);
    mode
}

/// The device the spectral front end runs on, and why: the CPU unless the GPU is asked for;
/// asked for with `cuda`, a GPU that is not there (or a front end this build cannot run on it)
/// is an error; with `auto`, the CPU and the reason.
pub(super) fn device(spec: &Spec, decisions: &mut Decisions) -> Result<Device, PlanError> {
    let asked = spec.device;
    if asked == Device::Cpu {
        let reason = if spec.from_command_line.contains(&"device") {
            "on the command line".to_string()
        } else {
            "the default (--device cuda or auto asks for a GPU)".to_string()
        };
        decisions.decide("device", "cpu".into(), reason);
        return Ok(Device::Cpu);
    }
    // What keeps the GPU from this run: none found, or (found) no GPU front end yet.
    let why_not = match sqrtspace_gpu::probe() {
        Err(why) => why.to_string(),
        Ok(gpu) => format!(
            "found {gpu}, but this build has no GPU front end yet (window, FFT, band-pass and \
             magnitude on the CPU only)"
        ),
    };
    match asked {
        Device::Cuda => Err(PlanError::Device(format!(
            "--device cuda (or `device: Cuda`) cannot run here: {why_not}; run with --device cpu"
        ))),
        _ => {
            decisions.decide("device", "cpu".into(), format!("auto: cpu, as {why_not}"));
            Ok(Device::Cpu)
        }
    }
}

/// Windows per block: given, or the largest power of two whose rows across the graph
/// (`hot_row_bytes` per window) fit in a worker's share of cache.
pub(super) fn block(
    spec: &Spec,
    given: Option<usize>,
    hot_row_bytes: usize,
    machine: &Machine,
    max_workers: usize,
    decisions: &mut Decisions,
) -> Result<usize, PlanError> {
    let cache_budget = machine
        .l2_bytes
        .min((machine.llc_bytes as f64 * 0.6) as u64 / max_workers as u64)
        .max(1 << 16) as usize;
    let block = match given {
        Some(b) if (b as u64).saturating_mul(hot_row_bytes as u64) > machine.available_ram => {
            return Err(PlanError::Impossible(format!(
                "a block of {b} windows needs {} across the stages, more than the {} of \
             memory available; choose a smaller block",
                ByteSize((b as u64).saturating_mul(hot_row_bytes as u64)),
                ByteSize(machine.available_ram)
            )));
        }
        Some(b) => {
            decisions.decide("block", b.to_string(), spec.set_by("block").into());
            b
        }
        None => {
            let fit = (cache_budget / hot_row_bytes.max(1)).clamp(1, AUTO_BLOCK_MAX);
            let b = 1usize << fit.ilog2();
            decisions.decide(
                "block",
                b.to_string(),
                format!(
                    "largest power of two whose rows across the graph ({} per window) fit in \
                 {} of cache per worker (L2 {}, 0.6 x LLC {} over {max_workers} workers)",
                    ByteSize(hot_row_bytes as u64),
                    ByteSize(cache_budget as u64),
                    ByteSize(machine.l2_bytes),
                    ByteSize(machine.llc_bytes),
                ),
            );
            b
        }
    };
    Ok(block)
}

/// Windows between checkpoints: given (rounded up to a multiple of the block), or about the
/// square root of the stream's length.
pub(super) fn checkpoint_every(
    spec: &Spec,
    given: Option<usize>,
    block: usize,
    input_windows: Option<u64>,
    decisions: &mut Decisions,
) -> Result<usize, PlanError> {
    let checkpoint_every = match given {
        Some(k) if k % block == 0 => {
            decisions.decide(
                "checkpoint_every",
                k.to_string(),
                spec.set_by("checkpoint_every").into(),
            );
            k
        }
        Some(k) => {
            let Some(rounded) = k.div_ceil(block).checked_mul(block) else {
                return Err(PlanError::Inconsistent(format!(
                    "checkpoint_every {k} cannot be rounded up to a multiple of the block \
                 ({block}): it is too large"
                )));
            };
            decisions.decide(
            "checkpoint_every",
            rounded.to_string(),
            format!(
                "{k} {}, rounded up to a multiple of the block ({block}): checkpoints sit on block boundaries",
                if spec.from_command_line.contains(&"checkpoint_every") {
                    "from the command line"
                } else {
                    "from the pipeline"
                }
            ),
        );
            rounded
        }
        None => match input_windows {
            Some(t) => {
                let sqrt_t = (t as f64).sqrt().ceil() as usize;
                let k = sqrt_t.max(1).div_ceil(block) * block;
                decisions.decide(
                    "checkpoint_every",
                    k.to_string(),
                    format!(
                        "about sqrt({t} windows) = {sqrt_t}, rounded up to a multiple of the block"
                    ),
                );
                k
            }
            None => {
                let k = 16 * block;
                decisions.decide(
                    "checkpoint_every",
                    k.to_string(),
                    "16 blocks (the stream length is not known in advance)".into(),
                );
                k
            }
        },
    };
    Ok(checkpoint_every)
}

/// Checkpoints kept: given, or all of them while their output blocks fit in the budget.
pub(super) fn checkpoint_slots(
    spec: &Spec,
    given: Option<usize>,
    nodes: &[Node],
    block: usize,
    checkpoint_every: usize,
    input_windows: Option<u64>,
    decisions: &mut Decisions,
) -> usize {
    match (given, input_windows) {
        (Some(slots), _) => {
            decisions.decide(
                "checkpoint_slots",
                slots.to_string(),
                spec.set_by("checkpoint_slots").into(),
            );
            slots
        }
        (None, Some(t)) => {
            let all = usize::try_from(t.div_ceil(checkpoint_every as u64))
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let output_bytes: usize = nodes
                .iter()
                .filter(|n| n.needed && n.checkpoint_output)
                .map(|n| n.port.layout.row_bytes().saturating_mul(block))
                .fold(0, usize::saturating_add);
            let affordable = CHECKPOINT_BUDGET
                .checked_div(output_bytes)
                .map_or(usize::MAX, |n| n.max(DEFAULT_CHECKPOINT_SLOTS));
            let slots = all.min(affordable);
            let reason = if slots == all {
                format!(
                    "every checkpoint of the {t} windows, so random access and backward passes \
                 restore from the nearest one"
                )
            } else {
                format!(
                    "as many checkpointed output blocks ({}) as fit in {}",
                    ByteSize(output_bytes as u64),
                    ByteSize(CHECKPOINT_BUDGET as u64)
                )
            };
            decisions.decide("checkpoint_slots", slots.to_string(), reason);
            slots
        }
        (None, None) => {
            decisions.decide(
                "checkpoint_slots",
                DEFAULT_CHECKPOINT_SLOTS.to_string(),
                "default (the stream length is not known in advance)".into(),
            );
            DEFAULT_CHECKPOINT_SLOTS
        }
    }
}

/// Workers, the block cache and the input buffer: given, or the defaults. Returns
/// `(lru_bytes, input_buffer_blocks)`.
pub(super) fn the_rest(
    spec: &Spec,
    max_workers: usize,
    cores: usize,
    input_buffer_blocks: Option<usize>,
    decisions: &mut Decisions,
) -> (u64, usize) {
    let lru_bytes = spec.lru_bytes.map_or(DEFAULT_LRU_BYTES, |b| b.0);
    let input_buffer_blocks = input_buffer_blocks.unwrap_or(DEFAULT_INPUT_BUFFER);
    decisions.decide(
        "max_workers",
        max_workers.to_string(),
        if spec.max_workers.is_some() {
            spec.set_by("max_workers").into()
        } else {
            format!(
                "every core ({cores}); runs from the start sweep forward on all of them, \
             random access and backward passes use one"
            )
        },
    );
    for (setting, value, given) in [
        (
            "lru_bytes",
            ByteSize(lru_bytes).to_string(),
            spec.lru_bytes.is_some(),
        ),
        (
            "input_buffer_blocks",
            input_buffer_blocks.to_string(),
            spec.input_buffer_blocks.is_some(),
        ),
    ] {
        let reason = if given {
            spec.set_by(setting)
        } else {
            "default"
        };
        decisions.decide(setting, value, reason.into());
    }

    (lru_bytes, input_buffer_blocks)
}
