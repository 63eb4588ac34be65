#ifndef CONVEYOR_CFUZZING_H
#define CONVEYOR_CFUZZING_H

#include <stddef.h>
#include <stdint.h>

/* One fuzz input in, 0 out (libFuzzer's LLVMFuzzerTestOneInput signature). */
typedef int (*conveyor_fuzz_callback)(const uint8_t *data, size_t size);

/* Whether libFuzzer is linked into this binary (ops/fuzz links it; a plain swift build does not). */
int conveyor_fuzzer_linked(void);

/* Runs libFuzzer's driver with these arguments; -1 when libFuzzer is not linked in. */
int conveyor_fuzzer_run(int *argc, char ***argv, conveyor_fuzz_callback callback);

#endif
