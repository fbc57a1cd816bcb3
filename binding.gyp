# tsmpi_native: the optional native addon (build/Release/tsmpi_native.node), built by
# native/build.mjs during `npm install`. native/detect-cuda.mjs decides whether CUDA is compiled
# in: then the .cu files go through nvcc (the rule below) and libcudart_static.a is linked;
# otherwise only the C++ CPU code builds. The driver API and NVRTC are never linked (dlopen).
{
  "variables": {
    "with_cuda%": "<!(node native/detect-cuda.mjs --enabled)",
    "cuda_home%": "<!(node native/detect-cuda.mjs --home)",
    "cuda_libdir%": "<!(node native/detect-cuda.mjs --libdir)",
  },
  "targets": [
    {
      "target_name": "tsmpi_native",
      "sources": [
        "native/addon.cc",
        "native/bridge.cc",
        "native/builtins.cc",
        "native/device_memory.cc",
        "native/driver.cc",
        "native/kernels_cpu.cc",
        "native/peer_memory.cc",
        "native/probe.cc",
        "native/shm_channel.cc",
        "native/socket_options.cc",
        "native/user_kernels.cc",
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc!": ["-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-ffp-contract=off"],
      "libraries": ["-ldl"],
      "conditions": [
        ["with_cuda=='true'", {
          "sources": ["native/gpu_runtime.cu", "native/kernels_gpu.cu"],
          "defines": ["TSMPI_WITH_CUDA=1", "TSMPI_CUDA_HOME=\"<(cuda_home)\""],
          "libraries": ["<(cuda_libdir)/libcudart_static.a", "-ldl", "-lrt", "-lpthread"],
          "rules": [
            {
              "rule_name": "nvcc",
              "extension": "cu",
              "message": "nvcc <(RULE_INPUT_PATH)",
              "inputs": ["<(RULE_INPUT_PATH)"],
              "outputs": ["<(INTERMEDIATE_DIR)/<(RULE_INPUT_ROOT).o"],
              "process_outputs_as_sources": 1,
              "action": [
                "<(cuda_home)/bin/nvcc", "-c", "<(RULE_INPUT_PATH)", "-o", "<@(_outputs)",
                "-std=c++17", "-O3", "-Xcompiler", "-fPIC", "-DTSMPI_WITH_CUDA=1",
                "-I<(module_root_dir)/native",
                "<!@(node native/detect-cuda.mjs --gencode)",
              ],
            },
          ],
        }, {
          "sources": ["native/gpu_stub.cc"],
          "defines": ["TSMPI_WITH_CUDA=0"],
        }],
      ],
    },
  ],
}
