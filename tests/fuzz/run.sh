#!/usr/bin/env bash
# A fuzzing campaign (docs/testing.md): builds the fuzz targets of tests/fuzz/ with clang and
# libFuzzer into build-fuzz/ and runs each for SECONDS, one after the other.
#   tests/fuzz/run.sh SECONDS [TARGET...]     (default: every target)
# Inputs that find new coverage go to build-fuzz/fuzz-out/TARGET/new/ (the seed corpus in
# tests/fuzz/corpus/ is only read); a crash, leak, timeout or out-of-memory input is written
# to build-fuzz/fuzz-out/TARGET/ and its path printed. Everything runs on this machine.
# Environment: PW_FUZZ_BUILD (the build directory), PW_FUZZ_JOBS (build jobs).
# Exits 0 when no target found anything, 1 when one did, 2 on a usage or build error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${PW_FUZZ_BUILD:-$top/build-fuzz}
all=(json csv prometheus regex jsonpath rfc4180 value config journal inbox http xlsx)

# The longest input each target is given: a few times its largest real input.
max_len() {
  case "$1" in
    value) echo 256 ;;
    jsonpath) echo 4096 ;;
    rfc4180 | journal | inbox) echo 8192 ;;
    config) echo 24576 ;;
    *) echo 16384 ;;
  esac
}

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  echo "usage: tests/fuzz/run.sh SECONDS [TARGET...]   (targets: ${all[*]})" >&2
  exit 2
fi
seconds=$1
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "$here/fuzz_$t.c" ]; then
    echo "run.sh: no target '$t' (targets: ${all[*]})" >&2
    exit 2
  fi
done
if ! command -v clang >/dev/null 2>&1; then
  echo "run.sh: clang is needed (apt-get install clang)" >&2
  exit 2
fi

echo "== building ${targets[*]} with libFuzzer into $build"
cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPW_FUZZ=ON -DPW_WERROR=OFF -DCMAKE_C_FLAGS=-Wno-unknown-warning-option >/dev/null || exit 2
cmake --build "$build" -j "${PW_FUZZ_JOBS:-$(nproc)}" \
  --target "${targets[@]/#/fuzz_}" >/dev/null || exit 2

# Scratch files of the config and journal targets go to memory when it can be had.
tmp=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
export TMPDIR=$tmp
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1
export LSAN_OPTIONS=suppressions=$here/lsan.supp

out=$build/fuzz-out
found=0
summary=()
for t in "${targets[@]}"; do
  dir=$out/$t
  mkdir -p "$dir/new"
  rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*
  log=$dir/log
  echo "== $t: ${seconds}s (log $log)"
  set +e
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/" \
    "$dir/new" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  mapfile -t artifacts < <(find "$dir" -maxdepth 1 -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if [ $rc -ne 0 ] || [ ${#artifacts[@]} -gt 0 ]; then
    found=1
    echo "   FOUND (exit $rc):"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)' "$log" | head -5 | sed 's/^/   /'
    for a in "${artifacts[@]}"; do
      echo "   reproducer: $a"
      echo "   replay it:  $build/tests/fuzz/fuzz_$t $a"
    done
    summary+=("$(printf '%-11s %12s %9s %6s %6s  FOUND %s' "$t" "${execs:-?}" "${rate:-?}" \
      "${cov:-?}" "${added:-?}" "${artifacts[*]:-exit $rc}")")
  else
    summary+=("$(printf '%-11s %12s %9s %6s %6s  none' "$t" "${execs:-?}" "${rate:-?}" \
      "${cov:-?}" "${added:-?}")")
  fi
done

echo
printf '%-11s %12s %9s %6s %6s  %s\n' target executions exec/s cov new findings
printf '%s\n' "${summary[@]}"
exit $found
