#!/usr/bin/env bash
# pacewatch quick start: installs what it needs from Debian 12, builds into build/, and
#   ./quickstart.sh build   configure and build only
#   ./quickstart.sh test    build, then run the whole test suite (exits non-zero on failure)
#   ./quickstart.sh demo    build, import the demo history, print the judgement, then run
#                           pacewatchd in the foreground on conf/demo (PW_DEMO_ONCE=1: one cycle)
#   ./quickstart.sh package build the Debian package (cpack) into build-package/ (docs/install.md)
# Three sets of packages: build (what compiling needs, all that `build`, `demo` and `package`
# install: a production server never gets test tools), test (the test suite's tools), bench
# (tests/bench).
# Extra: PW_SANITIZE=1 ./quickstart.sh test builds into build-asan/ with ASan and UBSan.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

packages=(build-essential cmake pkg-config libconfig-dev libjansson-dev libuv1-dev
  libcurl4-openssl-dev libssl-dev librrd-dev libhttp-parser-dev libsystemd-dev libzip-dev
  libexpat1-dev tzdata fonts-noto-cjk)
# Only for `test`: cmocka, the integration tests' Python and sinks, the dashboard's browser, the
# memcheck run (docs/testing.md, "Valgrind"), the package's test (dpkg-dev, file), the graph
# tests' PNG reader (libpng-dev); the briefing's Word document read by python-docx and
# converted to PDF by LibreOffice, whose text and pages poppler's tools check; man-db and
# groff-base render the man pages with their warnings (tests/integration/test_man.py).
test_packages=(libcmocka-dev python3 python3-pil python3-aiosmtpd clang-format rrdtool rrdcached
  chromium curl prometheus strace valgrind dpkg-dev file libpng-dev
  python3-docx libreoffice-writer-nogui poppler-utils man-db groff-base)
# Only for tests/bench/run.sh (which installs them itself too).
bench_packages=(nginx-light collectd-core libyajl2 time bc)
# Also for `test`: the Excel workbooks of the xlsx tests are written by openpyxl.
test_packages+=(python3-openpyxl)
# Only for `package`: dpkg-shlibdeps works out the package's library dependencies.
package_packages=(dpkg-dev file)

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

# build DIR [CMAKE-OPTIONS...]: a development build (-Werror); the test suite is built when
# cmocka is installed.
build() {
  local dir=${1:-build} testing=OFF
  shift || true
  pkg-config --exists cmocka 2>/dev/null && testing=ON
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPW_WERROR=ON -DBUILD_TESTING=$testing \
    "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

cmd=${1:-}
case "$cmd" in
  build)
    install_packages
    build build
    ;;
  test)
    install_packages "${test_packages[@]}" "${bench_packages[@]}"
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
  package)
    install_packages "${package_packages[@]}"
    # A release build: no test suite, no -Werror; installed under /usr (docs/install.md).
    cmake -S . -B build-package -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
      -DBUILD_TESTING=OFF -DPW_WERROR=OFF >/dev/null
    cmake --build build-package -j "$(nproc)"
    (cd build-package && cpack -G DEB)
    ls -l build-package/*.deb
    echo "install it with: apt install ./$(ls build-package/*.deb | head -1)"
    ;;
  *)
    echo "usage: ./quickstart.sh build|test|demo|package" >&2
    exit 2
    ;;
esac
