/* Shared N-API helpers: argument conversion and errno errors. */
#include "napi_util.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

napi_status tsv_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, name, fn);
}

napi_value tsv_throw_errno(napi_env env, const char *call, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", call, strerror(err));
  const char *code = strerrorname_np(err);
  napi_value e, m, c, n;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, call, NAPI_AUTO_LENGTH, &m);
  napi_set_named_property(env, e, "syscall", m);
  napi_throw(env, e);
  return NULL;
}

napi_value tsv_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

bool tsv_arg_i32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) { tsv_throw_type(env, "expected an integer"); return false; }
  return true;
}

bool tsv_arg_i64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    if (napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok) return true;
  } else if (napi_get_value_int64(env, v, out) == napi_ok) {
    return true;
  }
  tsv_throw_type(env, "expected an integer or bigint");
  return false;
}

bool tsv_arg_u64(napi_env env, napi_value v, uint64_t *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    if (napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok) return true;
  } else if (t == napi_number) {
    int64_t i;
    if (napi_get_value_int64(env, v, &i) == napi_ok) { *out = (uint64_t)i; return true; }
  }
  tsv_throw_type(env, "expected an unsigned integer or bigint");
  return false;
}

bool tsv_arg_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) == napi_ok && is) {
    return napi_get_buffer_info(env, v, data, len) == napi_ok;
  }
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type; size_t length, offset; napi_value ab; void *base;
    if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) return false;
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: break;
    }
    *data = base; *len = length * elem;
    return true;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok;
  }
  tsv_throw_type(env, "expected a Buffer, Uint8Array or ArrayBuffer");
  return false;
}

bool tsv_arg_string(napi_env env, napi_value v, char **out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) { tsv_throw_type(env, "expected a string"); return false; }
  char *s = malloc(len + 1);
  if (!s) { tsv_throw_errno(env, "malloc", ENOMEM); return false; }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  *out = s;
  return true;
}

napi_value tsv_i32(napi_env env, int32_t v) { napi_value r; napi_create_int32(env, v, &r); return r; }
napi_value tsv_i64(napi_env env, int64_t v) { napi_value r; napi_create_int64(env, v, &r); return r; }
napi_value tsv_bigint_u64(napi_env env, uint64_t v) { napi_value r; napi_create_bigint_uint64(env, v, &r); return r; }
napi_value tsv_undefined(napi_env env) { napi_value r; napi_get_undefined(env, &r); return r; }

size_t tsv_args(napi_env env, napi_callback_info info, napi_value *argv, size_t max) {
  size_t argc = max;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc;
}
