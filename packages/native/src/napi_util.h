/* Shared N-API helpers for the tsvisor addon. Errors from system calls are thrown as JavaScript
 * errors carrying `errno` (number) and `code` (e.g. "ENOENT"), so TypeScript can map them to typed errnos. */
#ifndef TSV_NAPI_UTIL_H
#define TSV_NAPI_UTIL_H
#include <node_api.h>
#include <stdint.h>
#include <stdbool.h>

/* Each area of the addon registers its functions on `exports` (one C file per area). */
napi_status tsv_register_task(napi_env env, napi_value exports);
napi_status tsv_register_notif(napi_env env, napi_value exports);
napi_status tsv_register_ptrace(napi_env env, napi_value exports);
napi_status tsv_register_memory(napi_env env, napi_value exports);
napi_status tsv_register_fd(napi_env env, napi_value exports);
napi_status tsv_register_mount(napi_env env, napi_value exports);
napi_status tsv_register_packet(napi_env env, napi_value exports);
napi_status tsv_register_caps(napi_env env, napi_value exports);

/* Define a function property on exports. */
napi_status tsv_export(napi_env env, napi_value exports, const char *name, napi_callback cb);
/* Throw an Error for `err` (an errno value) with the failing call's name; returns NULL for convenience. */
napi_value tsv_throw_errno(napi_env env, const char *call, int err);
/* Throw a TypeError with a message; returns NULL. */
napi_value tsv_throw_type(napi_env env, const char *msg);

/* Argument accessors: each returns false after throwing a TypeError if the argument is missing or mistyped. */
bool tsv_arg_i32(napi_env env, napi_value v, int32_t *out);
bool tsv_arg_i64(napi_env env, napi_value v, int64_t *out);
bool tsv_arg_u64(napi_env env, napi_value v, uint64_t *out); /* number or bigint */
bool tsv_arg_buffer(napi_env env, napi_value v, void **data, size_t *len); /* Buffer, Uint8Array or ArrayBuffer */
/* Copies a JS string into a malloc'ed NUL-terminated C string (caller frees). */
bool tsv_arg_string(napi_env env, napi_value v, char **out);

napi_value tsv_i32(napi_env env, int32_t v);
napi_value tsv_i64(napi_env env, int64_t v);
napi_value tsv_bigint_u64(napi_env env, uint64_t v);
napi_value tsv_undefined(napi_env env);

/* Fetch up to `max` callback arguments; returns argc. */
size_t tsv_args(napi_env env, napi_callback_info info, napi_value *argv, size_t max);
#endif
