/* ptrace: (not written yet) */
#include "napi_util.h"

napi_status tsv_register_ptrace(napi_env env, napi_value exports) {
  return napi_ok;
}
