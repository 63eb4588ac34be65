#include "CFuzzing.h"

/* libFuzzer's entry point for programs that own main() (FuzzerDriver.cpp). Weak, so that the same
   program links without libFuzzer: SwiftPM's executables own main() (it is renamed for test
   linking), so libFuzzer's own main() cannot be used, and ops/fuzz links the runtime without it
   (libclang_rt.fuzzer_no_main), whole-archive, which makes this reference resolve. */
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, conveyor_fuzz_callback callback) __attribute__((weak));

int conveyor_fuzzer_linked(void) { return LLVMFuzzerRunDriver != 0; }

int conveyor_fuzzer_run(int *argc, char ***argv, conveyor_fuzz_callback callback) {
  if (LLVMFuzzerRunDriver == 0) return -1;
  return LLVMFuzzerRunDriver(argc, argv, callback);
}
