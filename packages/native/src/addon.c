/* Entry point of the tsvisor native addon: each area (one C file) registers its own functions. */
#include "napi_util.h"

static napi_value init(napi_env env, napi_value exports) {
  if (tsv_register_task(env, exports) != napi_ok) return NULL;
  if (tsv_register_notif(env, exports) != napi_ok) return NULL;
  if (tsv_register_ptrace(env, exports) != napi_ok) return NULL;
  if (tsv_register_memory(env, exports) != napi_ok) return NULL;
  if (tsv_register_fd(env, exports) != napi_ok) return NULL;
  if (tsv_register_mount(env, exports) != napi_ok) return NULL;
  if (tsv_register_packet(env, exports) != napi_ok) return NULL;
  if (tsv_register_caps(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
