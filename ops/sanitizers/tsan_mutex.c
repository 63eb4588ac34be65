// Teaches ThreadSanitizer about Swift's Synchronization.Mutex on Linux. Linked into every binary
// of the `ops/test --sanitize thread` build only (never into a normal build).
//
// Why: Mutex.withLock inlines its uncontended path (an atomic compare-exchange, which TSan sees as
// an acquire/release) into our code, but a contended lock or unlock calls _lockSlow/_unlockSlow in
// libswiftSynchronization.so, which is not instrumented: it spins on raw compare-exchanges and then
// lets the kernel hand the lock over (FUTEX_LOCK_PI/FUTEX_UNLOCK_PI). TSan sees no happens-before
// edge across such a hand-over and reports every access to the protected value as a race: in the
// first run, all 27 reports in the test process were inside Mutex.withLock closures (CommandQueue,
// DeliveryInbox, AMQPConnection, Worker). Suppressing them by name is not possible (the stacks
// are our own code) and would hide real races.
//
// How: the three slow paths are defined here under their mangled names. A definition in the
// executable takes precedence over the shared library's, so every contended Mutex in a sanitized
// binary comes here. Each does what the library does (the same futex operations, without the
// spinning) and tells TSan about the hand-over: a release before the unlock, an acquire after the
// lock. The inline fast paths keep working as before, on the same address TSan keys the lock by.
//
// The Swift calling convention passes `self` (the address of the lock word) in the swiftself
// register, which clang's swift_context attribute names; ops/test checks that the library still
// exports these three symbols, so a toolchain that renames them fails loudly instead of silently.

#include <errno.h>
#include <linux/futex.h>
#include <sanitizer/tsan_interface.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFT_SELF __attribute__((swift_context))

static void die(const char *what, int error) {
  fprintf(stderr, "tsan_mutex: %s failed: errno %d\n", what, error);
  abort();
}

// Synchronization._MutexHandle._lockSlow(_ selfId: UInt32)
SWIFTCALL void conveyor_tsan_mutex_lock_slow(uint32_t self_id, void *SWIFT_SELF lock)
    __asm__("$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF");
SWIFTCALL void conveyor_tsan_mutex_lock_slow(uint32_t self_id, void *SWIFT_SELF lock) {
  (void)self_id;  // FUTEX_LOCK_PI stores the caller's tid itself
  for (;;) {
    if (syscall(SYS_futex, lock, FUTEX_LOCK_PI_PRIVATE, 0, NULL) == 0) break;
    if (errno != EINTR && errno != EAGAIN) die("FUTEX_LOCK_PI", errno);
  }
  __tsan_acquire(lock);
}

// Synchronization._MutexHandle._tryLockSlow() -> Bool
SWIFTCALL bool conveyor_tsan_mutex_try_lock_slow(void *SWIFT_SELF lock)
    __asm__("$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF");
SWIFTCALL bool conveyor_tsan_mutex_try_lock_slow(void *SWIFT_SELF lock) {
  if (syscall(SYS_futex, lock, FUTEX_TRYLOCK_PI, 0, NULL) != 0) return false;
  __tsan_acquire(lock);
  return true;
}

// Synchronization._MutexHandle._unlockSlow()
SWIFTCALL void conveyor_tsan_mutex_unlock_slow(void *SWIFT_SELF lock)
    __asm__("$s15Synchronization12_MutexHandleV11_unlockSlowyyF");
SWIFTCALL void conveyor_tsan_mutex_unlock_slow(void *SWIFT_SELF lock) {
  __tsan_release(lock);
  for (;;) {
    if (syscall(SYS_futex, lock, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL) == 0) return;
    if (errno != EINTR) die("FUTEX_UNLOCK_PI", errno);
  }
}
