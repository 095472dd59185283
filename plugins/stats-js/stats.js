// Robust statistics of each spectrum, a sqrtspace stage written in JavaScript.
//
// For each row of magnitudes: the quantiles named by the `quantiles` parameter (numpy's default
// linear interpolation) and the median absolute deviation, all from the npm package
// simple-statistics, as f32. Built into a component with ComponentizeJS (see README.md here).
//
// Data crosses as typed arrays (`list<f32>` is a Float32Array); a thrown `{tag, val}` becomes
// the `error` variant the host reports with the stage and window range.

import { quantile, medianAbsoluteDeviation } from "simple-statistics";

const DEFAULT_QUANTILES = [0.25, 0.5, 0.75];
let quantiles = DEFAULT_QUANTILES;
let bins = 0;

function fail(tag, message) {
  throw { tag, val: message };
}

export const stage = {
  describe() {
    return {
      name: "spectral-stats",
      version: "0.1.0",
      description: "quantiles and median absolute deviation of each spectrum (JavaScript, simple-statistics)",
      stateful: false,
    };
  },

  configure(params, inputs, _signal) {
    const p = JSON.parse(params.json);
    if (p !== null && typeof p !== "object") fail("params", "parameters must be a map");
    const unknown = Object.keys(p ?? {}).filter((k) => k !== "quantiles");
    if (unknown.length > 0) fail("params", `unknown parameter \`${unknown[0]}\` (expected \`quantiles\`)`);
    if (p?.quantiles !== undefined) {
      const q = p.quantiles;
      if (!Array.isArray(q) || q.length === 0 || q.some((x) => typeof x !== "number" || !(x >= 0 && x <= 1))) {
        fail("params", "`quantiles` must be a non-empty list of numbers in [0, 1]");
      }
      quantiles = q;
    }
    if (inputs.length !== 1) fail("input", `spectral-stats reads one input, not ${inputs.length}`);
    const [input] = inputs;
    if (input.dtype !== "f32" || input.rowShape.length !== 1 || input.rowShape[0] < 1) {
      fail("input", "spectral-stats needs rows of f32 magnitudes");
    }
    bins = input.rowShape[0];
    return {
      output: { dtype: "f32", rowShape: [quantiles.length + 1], frequency: undefined },
      context: 0,
    };
  },

  process(block, inputs) {
    const [input] = inputs;
    if (inputs.length !== 1 || input.data.tag !== "f32" || input.shape[0] !== block.rows || input.shape[1] !== bins) {
      fail("input", "spectral-stats expects one f32 block of `rows` spectra");
    }
    const width = quantiles.length + 1;
    const out = new Float32Array(block.rows * width);
    const data = input.data.val;
    for (let r = 0; r < block.rows; r++) {
      const row = data.subarray(r * bins, (r + 1) * bins);
      const qs = quantile(row, quantiles);
      out.set(qs, r * width);
      out[r * width + quantiles.length] = medianAbsoluteDeviation(row);
    }
    return { shape: [block.rows, width], data: { tag: "f32", val: out } };
  },

  initState() {
    fail("failed", "spectral-stats is a pure stage, not a kernel");
  },

  step(_block, _inputs, _state) {
    fail("failed", "spectral-stats is a pure stage, not a kernel");
  },
};
