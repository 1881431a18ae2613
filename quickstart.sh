#!/usr/bin/env bash
# pacewatch quick start: installs what it needs from Debian 12, builds into build/, and
#   ./quickstart.sh build   configure and build only
#   ./quickstart.sh test    build, then run the whole test suite (exits non-zero on failure)
#   ./quickstart.sh demo    build, import the demo history, print the judgement, then run
#                           pacewatchd in the foreground on conf/demo (PW_DEMO_ONCE=1: one cycle)
# Extra: PW_SANITIZE=1 ./quickstart.sh test builds into build-asan/ with ASan and UBSan.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

packages=(build-essential cmake pkg-config libconfig-dev libjansson-dev libcmocka-dev
  libuv1-dev libcurl4-openssl-dev libssl-dev librrd-dev libhttp-parser-dev rrdtool rrdcached
  tzdata python3 clang-format fonts-noto-cjk chromium python3-pil python3-aiosmtpd curl
  prometheus nginx-light collectd-core libyajl2 time bc strace)
# Only for `test`: the daemon's integration test under memcheck (docs/testing.md, "Valgrind").
test_packages=(valgrind)

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then echo sudo; else
      echo "quickstart: packages are missing and this is not root: install ${missing[*]}" >&2
      exit 1
    fi
  fi
}

# install_packages [EXTRA...]: the packages above and EXTRA.
install_packages() {
  local missing=() p
  for p in "${packages[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "quickstart: installing ${missing[*]}"
  local s
  s=$(need_root)
  export DEBIAN_FRONTEND=noninteractive
  $s apt-get update -qq
  $s apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  local dir=${1:-build}
  shift || true
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

cmd=${1:-}
case "$cmd" in
  build)
    install_packages
    build build
    ;;
  test)
    install_packages "${test_packages[@]}"
    if [ "${PW_SANITIZE:-0}" = 1 ]; then
      build build-asan -DPW_ASAN=ON -DPW_UBSAN=ON
      cd build-asan
    else
      build build
      cd build
    fi
    ctest --output-on-failure -j "$(nproc)"
    ;;
  demo)
    install_packages
    build build
    conf=conf/demo/pacewatch.conf
    bin=build/bin/pacewatch
    rm -rf conf/demo/state
    "$bin" check -c "$conf"
    "$bin" import -c "$conf" conf/demo/history.csv
    echo
    echo "== pacewatch status --at 2024-04-30 (the county's Q1 2024 report, judged automatically) =="
    "$bin" status -c "$conf" --at 2024-04-30
    echo
    echo "JSON: $bin status -c $conf --at 2024-04-30 --json"
    echo
    if [ "${PW_DEMO_ONCE:-0}" = 1 ]; then
      exec build/bin/pacewatchd -c "$conf" --once --now 2024-04-30T09:00:00+08:00
    fi
    echo "== pacewatchd in the foreground on $conf (clock starting 2024-04-30 09:00; Ctrl-C stops it) =="
    echo "   dashboard http://127.0.0.1:9464/  metrics http://127.0.0.1:9464/metrics  API http://127.0.0.1:9464/api/v1/status"
    exec build/bin/pacewatchd -c "$conf" -f --now 2024-04-30T09:00:00+08:00
    ;;
  *)
    echo "usage: ./quickstart.sh build|test|demo" >&2
    exit 2
    ;;
esac
