# shellcheck shell=bash
# Shared helpers for the ops/ scripts. Source it; do not run it.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#
# Set LOG_PREFIX before sourcing (or after) to name the calling script in messages.
# Every helper here is bounded in time and safe under `set -euo pipefail`.

: "${LOG_PREFIX:=ops}"

# How every ops script builds release binaries: the Swift runtime and Foundation linked into
# the binary (--static-swift-stdlib), so a worker needs only the system's C libraries
# (librabbitmq, libhiredis, libcurl, libstdc++) on the hosts it is copied to. Measured with
# ops/cpu-per-task and idle RSS against the dynamic build: worker CPU per task 37 -> 33 us
# (direct calls into the runtime instead of through the PLT), idle RSS 35.1 -> 29.1 MB, ready
# 0.045-0.050 -> 0.037-0.039 s. One set of flags for all scripts: they share .build/release,
# and different flags would rebuild it each time.
# Linked by the toolchain's lld, for a smaller resident worker (idle RSS 4 s after ready, from
# /proc/PID/status, alternating builds; worker CPU per task unchanged in ops/cpu-per-task):
# - packed relative relocations (DT_RELR, glibc >= 2.36) instead of gold's 2.2 MB table of 93,000
#   RELA entries that the loader reads at every start: 31.3 -> 27.2 MB;
# - the functions a worker runs laid out together (ops/link-order writes the list): 27.2 -> 24.1;
# - no dynamic symbol table of the executable's own 16,000 symbols (the toolchain's static-stdlib
#   link asks for -export-dynamic; nothing looks Conveyor's symbols up at run time, the archives'
#   were already hidden by --exclude-libs ALL): 24.1 -> 22.0 MB.
ORDER_FILE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/conveyor-worker.order"
# shellcheck disable=SC2034 # used by the scripts that source this file
RELEASE_BUILD=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
  -Xlinker "--symbol-ordering-file=$ORDER_FILE" -Xlinker --no-warn-symbol-ordering -Xlinker --no-export-dynamic)

# Absolute path of the repository: the parent of ops/ (this file lives in ops/lib/).
repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
}

# log MESSAGE... — one line on stderr, prefixed with the script's name.
log() {
  printf '%s: %s\n' "$LOG_PREFIX" "$*" >&2
}

# die MESSAGE... — log the reason and exit non-zero.
die() {
  log "$*"
  exit 1
}

# port_open HOST PORT — true if something accepts TCP connections on HOST:PORT (1 s bound).
# Uses bash's /dev/tcp, so it needs neither nc nor python.
port_open() {
  local host=$1 port=$2
  # shellcheck disable=SC2016 # $1 and $2 expand in the child bash
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_SECONDS — wait until HOST:PORT accepts connections.
# Returns non-zero (without exiting) when the time runs out.
wait_for_port() {
  local host=$1 port=$2 limit=$3
  local deadline=$((SECONDS + limit))
  while ! port_open "$host" "$port"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# process_alive PID — true if PID runs (a zombie waiting to be reaped does not count).
process_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1  # "pid (comm) S ..."
  [ "$state" != Z ]
}

# wait_for_exit PID TIMEOUT_SECONDS — wait until process PID is gone. Non-zero on timeout.
wait_for_exit() {
  local pid=$1 limit=$2
  local deadline=$((SECONDS + limit))
  while process_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# as_root CMD... — run CMD as root: directly when we are root, through sudo otherwise.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for '$*' and sudo is not installed"
  fi
}

# package_installed PKG — true if the Debian package PKG is installed.
package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ensure_packages PKG... — install the Debian packages that are missing, and only those.
# Runs `apt-get update` at most once per run (the marker is exported to child scripts too).
ensure_packages() {
  local missing=() pkg out
  for pkg in "$@"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0

  log "installing ${missing[*]}"
  if [ -z "${OPS_APT_UPDATED:-}" ]; then
    out=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1) ||
      die "apt-get update failed: $(printf '%s' "$out" | tail -n 1)"
    export OPS_APT_UPDATED=1
  fi
  out=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" 2>&1) ||
    die "apt-get install ${missing[*]} failed: $(printf '%s' "$out" | tail -n 1)"
}

# pid_from_file PIDFILE PATTERN — print the pid in PIDFILE if that process is alive and its
# command line contains PATTERN (guards against a stale file whose pid was reused).
pid_from_file() {
  local file=$1 pattern=$2 pid
  [ -r "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file" 2>/dev/null) || return 1
  [ -n "$pid" ] && process_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  printf '%s\n' "$pid"
}

# detached CMD... — becomes CMD with no file descriptor above 2 open. A daemon must not keep what
# its starter had open: `flock FILE ops/test` hands its lock on to every child, and a server that
# ops/test started kept it for as long as it lived, so every later `flock FILE …` waited forever.
# It replaces the shell it runs in, so run it in the background (`detached CMD &`) or in a
# subshell (`(detached CMD)`), never in the script's own shell.
detached() {
  [ "$BASHPID" != "$$" ] || die "detached must run in a subshell or in the background"
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if ((fd > 2)); then eval "exec $fd>&-"; fi
  done
  exec "$@"
}

# start_rabbit_node LOGFILE — starts rabbitmq-server (configured by the caller's RABBITMQ_*
# environment) in a session of its own, in the background; $! is its launcher. As root it runs
# as the rabbitmq user, as Debian's wrapper does. Either way the node gets the hard limit of
# open files, at most 65,536: su leaves it PAM's soft 1,024, and a node with a few thousand durable
# queues needs more (one was still recovering 2,423 queues when ops/services gave up after 120 s);
# Erlang sizes its port table by the limit, so a container's huge hard limit is not passed on.
start_rabbit_node() {
  # shellcheck disable=SC2016 # expanded by the node's shell, not this one
  local raise='n=$(ulimit -Hn); if [ "$n" = unlimited ] || [ "$n" -gt 65536 ]; then n=65536; fi; ulimit -n "$n" 2>/dev/null;'
  if [ "$(id -u)" -eq 0 ]; then
    detached setsid nohup su rabbitmq -s /bin/sh -c "$raise cd /var/lib/rabbitmq && exec /usr/lib/rabbitmq/bin/rabbitmq-server" \
      </dev/null >"$1" 2>&1 &
  else
    detached setsid nohup /bin/sh -c "$raise exec /usr/lib/rabbitmq/bin/rabbitmq-server" </dev/null >"$1" 2>&1 &
  fi
}
