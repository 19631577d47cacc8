{
  "targets": [
    {
      "target_name": "tsvisor_native",
      "sources": [
        "src/addon.c",
        "src/napi_util.c",
        "src/task.c",
        "src/notif.c",
        "src/ptrace.c",
        "src/memory.c",
        "src/fd.c",
        "src/mount.c",
        "src/packet.c",
        "src/caps.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"]
    }
  ]
}
