{
  "targets": [
    {
      "target_name": "watchdog",
      "sources": ["watchdog.cc"],
      "cflags_cc": ["-Wno-cast-function-type"]
    }
  ]
}
