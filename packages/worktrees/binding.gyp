{
  "targets": [
    {
      "target_name": "clear_tree",
      "sources": ["native/clear_tree.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
