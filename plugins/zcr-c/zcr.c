// Zero-crossing rate, a sqrtspace stage written in C.
//
// For each window of samples: the fraction of neighbouring pairs whose signs differ (a sample
// of zero counts as positive), as one f32. Written against wit/sqrtspace.wit with wit-bindgen's
// C generator; `make` in this directory builds zcr.wasm (see README.md here).
//
// Ownership follows wit-bindgen's C conventions: arguments belong to the function (it frees
// them), results are heap memory the generated post-return code frees after the host copied
// them out.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

typedef exports_sqrtspace_pipeline_stage_error_t stage_error_t;
typedef exports_sqrtspace_pipeline_stage_tensor_t tensor_t;

static void set_error(stage_error_t *err, uint8_t tag, const char *message) {
  err->tag = tag;
  // Every variant case holds a string at the same place.
  plugin_string_dup(&err->val.failed, message);
}

void exports_sqrtspace_pipeline_stage_describe(
    exports_sqrtspace_pipeline_stage_stage_info_t *ret) {
  plugin_string_dup(&ret->name, "zcr");
  plugin_string_dup(&ret->version, "0.1.0");
  plugin_string_dup(&ret->description,
                    "zero-crossing rate of each window (C)");
  ret->stateful = false;
}

bool exports_sqrtspace_pipeline_stage_configure(
    exports_sqrtspace_pipeline_stage_params_t *params,
    exports_sqrtspace_pipeline_stage_list_layout_t *inputs,
    exports_sqrtspace_pipeline_stage_signal_t *signal,
    exports_sqrtspace_pipeline_stage_configured_t *ret, stage_error_t *err) {
  (void)signal;
  bool ok = true;
  if (inputs->len != 1) {
    set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_INPUT,
              "zcr reads exactly one input");
    ok = false;
  } else if (inputs->ptr[0].dtype != EXPORTS_SQRTSPACE_PIPELINE_STAGE_DTYPE_F32 ||
             inputs->ptr[0].row_shape.len != 1 ||
             inputs->ptr[0].row_shape.ptr[0] < 2) {
    set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_INPUT,
              "zcr needs rows of at least two f32 samples");
    ok = false;
  } else if (params->json.len > 2) {
    // "{}" or "null": no parameters.
    set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_PARAMS,
              "zcr takes no parameters");
    ok = false;
  }
  if (ok) {
    ret->output.dtype = EXPORTS_SQRTSPACE_PIPELINE_STAGE_DTYPE_F32;
    ret->output.row_shape.len = 1;
    ret->output.row_shape.ptr = malloc(sizeof(uint32_t));
    if (ret->output.row_shape.ptr == NULL) abort();
    ret->output.row_shape.ptr[0] = 1;
    ret->output.frequency.is_some = false;
    ret->context = 0;
  }
  exports_sqrtspace_pipeline_stage_params_free(params);
  exports_sqrtspace_pipeline_stage_list_layout_free(inputs);
  return ok;
}

// The zero-crossing rate of `n` samples.
static float zcr(const float *x, size_t n) {
  size_t crossings = 0;
  for (size_t i = 1; i < n; i++) {
    crossings += (x[i - 1] >= 0.0f) != (x[i] >= 0.0f);
  }
  return (float)((double)crossings / (double)(n - 1));
}

bool exports_sqrtspace_pipeline_stage_process(
    exports_sqrtspace_pipeline_stage_block_t *block,
    exports_sqrtspace_pipeline_stage_list_tensor_t *inputs, tensor_t *ret,
    stage_error_t *err) {
  bool ok = false;
  tensor_t *in = inputs->len == 1 ? &inputs->ptr[0] : NULL;
  if (in == NULL || in->data.tag != EXPORTS_SQRTSPACE_PIPELINE_STAGE_DATA_F32 ||
      in->shape.len != 2 || in->shape.ptr[0] != block->rows ||
      in->shape.ptr[1] < 2 ||
      in->data.val.f32.len != (size_t)in->shape.ptr[0] * in->shape.ptr[1]) {
    set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_INPUT,
              "zcr expects one f32 block of `rows` windows");
  } else {
    size_t rows = in->shape.ptr[0], n = in->shape.ptr[1];
    // One spare byte: malloc(0) may return NULL.
    float *out = malloc(rows * sizeof(float) + 1);
    uint32_t *shape = malloc(2 * sizeof(uint32_t));
    if (out == NULL || shape == NULL) abort();
    for (size_t r = 0; r < rows; r++) {
      out[r] = zcr(in->data.val.f32.ptr + r * n, n);
    }
    shape[0] = (uint32_t)rows;
    shape[1] = 1;
    ret->shape.ptr = shape;
    ret->shape.len = 2;
    ret->data.tag = EXPORTS_SQRTSPACE_PIPELINE_STAGE_DATA_F32;
    ret->data.val.f32.ptr = out;
    ret->data.val.f32.len = rows;
    ok = true;
  }
  exports_sqrtspace_pipeline_stage_list_tensor_free(inputs);
  return ok;
}

bool exports_sqrtspace_pipeline_stage_init_state(plugin_list_u8_t *ret,
                                                 stage_error_t *err) {
  (void)ret;
  set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_FAILED,
            "zcr is a pure stage, not a kernel");
  return false;
}

bool exports_sqrtspace_pipeline_stage_step(
    exports_sqrtspace_pipeline_stage_block_t *block,
    exports_sqrtspace_pipeline_stage_list_tensor_t *inputs,
    plugin_list_u8_t *state,
    exports_sqrtspace_pipeline_stage_tuple2_tensor_list_u8_t *ret,
    stage_error_t *err) {
  (void)block;
  (void)ret;
  exports_sqrtspace_pipeline_stage_list_tensor_free(inputs);
  plugin_list_u8_free(state);
  set_error(err, EXPORTS_SQRTSPACE_PIPELINE_STAGE_ERROR_FAILED,
            "zcr is a pure stage, not a kernel");
  return false;
}
