# shellcheck shell=bash
# `ops/test --sanitize thread|address`: the suite under ThreadSanitizer or AddressSanitizer (with
# LeakSanitizer). Sourced by ops/test after lib/common.sh, with ROOT set.
#
#   sanitize_setup NAME      picks the build folder, prepares what the sanitizer needs and sets
#                            SWIFT_FLAGS for `swift build` / `swift test`
#   sanitize_run_tests ARGS  runs `swift test` with ARGS, then fails the run if any process (the
#                            test runner or a worker or CLI it started) wrote a sanitizer report;
#                            exits either way
#
# Each sanitizer builds into a folder of its own (.build-tsan, .build-asan), so switching between
# them and the normal build never rebuilds the others.

# sanitize_setup thread|address
sanitize_setup() {
  case $1 in
    thread) SANITIZE_SCRATCH=$ROOT/.build-tsan SANITIZE_RUNTIME=tsan ;;
    address) SANITIZE_SCRATCH=$ROOT/.build-asan SANITIZE_RUNTIME=asan ;;
    *) die "--sanitize takes thread or address, not '$1'" ;;
  esac
  SANITIZE_NAME=$1
  SANITIZE_STARTED=$SECONDS
  SANITIZE_REPORTS=$SANITIZE_SCRATCH/sanitizer-reports
  rm -rf "$SANITIZE_REPORTS"
  mkdir -p "$SANITIZE_REPORTS"
  SWIFT_FLAGS=(--sanitize="$1" --scratch-path "$SANITIZE_SCRATCH")
  if [ "$1" = thread ]; then
    sanitize_tsan_mutex  # sets SANITIZE_TSAN_MUTEX
    SWIFT_FLAGS+=(-Xlinker "$SANITIZE_TSAN_MUTEX")
  fi
}

# Builds ops/sanitizers/tsan_mutex.c (why: see that file) into SANITIZE_TSAN_MUTEX, after checking
# that this toolchain's Synchronization library still has the three slow paths it replaces. The
# object is named after the source's hash: SwiftPM does not track a file passed with -Xlinker, but
# relinks when its flags change, so an edited source reaches every binary.
sanitize_tsan_mutex() {
  local toolchain library symbol exported source=$ROOT/ops/sanitizers/tsan_mutex.c
  ensure_packages binutils
  toolchain=$(dirname "$(dirname "$(command -v swift)")")
  library=$toolchain/lib/swift/linux/libswiftSynchronization.so
  [ -r "$library" ] || die "no $library: ops/sanitizers/tsan_mutex.c expects Swift 6.3's Synchronization library there"
  exported=$(nm -D --defined-only "$library") || die "nm cannot read $library"
  # shellcheck disable=SC2016 # Swift's mangled names begin with a literal '$'
  for symbol in '$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF' \
    '$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF' '$s15Synchronization12_MutexHandleV11_unlockSlowyyF'; do
    grep -qF " $symbol" <<<"$exported" ||
      die "$library no longer defines $symbol: update ops/sanitizers/tsan_mutex.c for this toolchain"
  done
  SANITIZE_TSAN_MUTEX=$SANITIZE_SCRATCH/tsan_mutex-$(sha256sum "$source" | cut -c1-16).o
  [ -s "$SANITIZE_TSAN_MUTEX" ] ||
    "$toolchain/bin/clang" -O1 -g -Wall -Werror -c "$source" -o "$SANITIZE_TSAN_MUTEX" ||
    die "cannot compile ops/sanitizers/tsan_mutex.c"
}

# sanitize_run_tests [swift test arguments...]
sanitize_run_tests() {
  local status=0 tests_started=$SECONDS reports=() file
  # log_path: each process writes <prefix>.<pid>, so reports of children that are killed, or whose
  # exit status no test looks at, are still found below. A TSan report does not stop the process
  # (every race in one run), but makes it exit 66; ASan stops at the first error, as it must.
  case $SANITIZE_NAME in
    thread)
      export TSAN_OPTIONS="log_path=$SANITIZE_REPORTS/tsan:halt_on_error=0:second_deadlock_stack=1"
      ;;
    address)
      export ASAN_OPTIONS="log_path=$SANITIZE_REPORTS/asan:detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1"
      export LSAN_OPTIONS="suppressions=$ROOT/ops/sanitizers/lsan.supp:print_suppressions=0"
      ;;
  esac
  # The binaries the tests start come from CONVEYOR_BIN_DIR: make sure they carry the runtime,
  # so a child's race or leak cannot go unseen because it ran an unsanitized build.
  for file in conveyor-worker conveyor; do
    nm "$CONVEYOR_BIN_DIR/$file" 2>/dev/null | grep -c " __${SANITIZE_RUNTIME}_init\$" >/dev/null ||
      die "$CONVEYOR_BIN_DIR/$file is not built with the $SANITIZE_NAME sanitizer"
  done
  log "running tests under the $SANITIZE_NAME sanitizer (reports: $SANITIZE_REPORTS)"
  swift test --skip-build "${SWIFT_FLAGS[@]}" "$@" || status=$?

  for file in "$SANITIZE_REPORTS"/*; do
    [ -s "$file" ] && reports+=("$file")
  done
  log "$SANITIZE_NAME sanitizer: tests took $((SECONDS - tests_started)) s, build and tests $((SECONDS - SANITIZE_STARTED)) s"
  if ((${#reports[@]} > 0)); then
    for file in "${reports[@]}"; do
      printf '\n===== %s\n' "$file" >&2
      head -n 400 "$file" >&2
    done
    log "FAILED: ${#reports[@]} process(es) wrote $SANITIZE_NAME sanitizer reports (above; full files in $SANITIZE_REPORTS)"
    exit 1
  fi
  ((status == 0)) || die "FAILED: swift test exited $status (no sanitizer report from any process)"
  log "passed: no $SANITIZE_NAME sanitizer report from any process"
  exit 0
}
