#!/bin/bash
# tests/bench/run.sh [--smoke]: pacewatchd and collectd side by side on the same nginx endpoints
# (the peers kit's data: N endpoints of 10 indicators each), in one run, printing one table of
# CPU per value (user + sys from /proc), peak RSS and wall time with the ratio pacewatch /
# collectd for each row (W1-W5 of issue 7). Installs what it needs (as root, from Debian).
#
#   tests/bench/run.sh            the full run (about 15 minutes on 2 cores)
#   tests/bench/run.sh --smoke    tiny sizes and 3 s windows: checks that every row produces a
#                                 number (ctest runs it; it exits 77, "skipped", without nginx)
# Environment: PW_BENCH_DIR (work directory, default /tmp/pw-bench), N, WINDOW, PORT;
# PW_BENCH_STALL_ONLY=1 runs only the loop-stall row and prints its figure; PW_BENCH_AB=DIR runs
# one pacewatch row alone (PW_BENCH_AB_ROW: w1, w2 or w2c), alternately with this build and the
# one in DIR (PW_BENCH_ROUNDS rounds).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SMOKE=0
[ "${1:-}" = --smoke ] && SMOKE=1
if [ $SMOKE = 1 ]; then
  N=${N:-4} WINDOW=${WINDOW:-3} N3=20 N4=300 N5=5 SETTLE=1
else
  N=${N:-500} WINDOW=${WINDOW:-60} N3=1000 N4=10000 N5=50 SETTLE=5
fi
K=10
PORT=${PORT:-$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
OUT=${PW_BENCH_DIR:-/tmp/pw-bench}
HZ=$(getconf CLK_TCK)
log() { echo "[$(date +%T)] $*" >&2; }

# ---- packages -------------------------------------------------------------------------------
need=()
for p in nginx-light collectd-core libyajl2 rrdtool rrdcached librrd-dev time bc; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ] && [ "${PW_BENCH_NO_INSTALL:-0}" != 1 ]; then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi
for s in nginx collectd rrdcached; do systemctl stop "$s" >/dev/null 2>&1 || true; done
if ! command -v nginx >/dev/null; then
  echo "bench: nginx is not installed (and could not be): skipped" >&2
  exit 77
fi
HAVE_COLLECTD=1
command -v collectd >/dev/null || HAVE_COLLECTD=0

# ---- build ----------------------------------------------------------------------------------
BUILD=${PW_BENCH_BUILD:-$TOP/build-bench}
if [ -z "${PW_BENCH_BUILD:-}" ]; then
  cmake -S "$TOP" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target pacewatch pacewatchd pw_json unitbench >/dev/null
fi
PW="$BUILD/bin/pacewatch"
PWD_BIN="$BUILD/bin/pacewatchd"
rm -rf "$OUT"
mkdir -p "$OUT"/{www/c,run,conf,data,res}
RUN=$OUT/run
gcc -O2 -o "$OUT/rrdbench" "$HERE/rrdbench.c" $(pkg-config --cflags --libs librrd) -lm

STARTED=()
cleanup() {
  local p
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }
vm_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
child_of() {
  local i c
  for ((i = 0; i < 50; i++)); do
    c=$(cat /proc/"$1"/task/*/children 2>/dev/null | awk '{print $1}')
    [ -n "$c" ] && { echo "$c"; return; }
    sleep 0.1
  done
  echo "$1"
}
stop_pid() {
  local i
  kill -TERM "$1" 2>/dev/null || return 0
  for ((i = 0; i < 300; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}
requests_between() { # $1 $2: window; $3: uri prefix -> answers (200, or 304 to a conditional
  # request: unchanged data) in the window
  awk -v a="$1" -v b="$2" -v p="$3" '($2==200 || $2==304) && index($3,p)==1 && $1>=a && $1<=b' \
    "$RUN/access.log" | wc -l
}

# ---- data and nginx (the kit's generator; /w/ answers new values and a new as_of each second)
awk -v n="$((N > N3 ? N : N3))" -v k="$K" -v dir="$OUT/www" 'BEGIN{
  for (i=1;i<=n;i++) {
    id=sprintf("c%04d",i); j="{\"county\":\"pingyang\",\"id\":\"" id "\",\"indicators\":{"
    for (x=1;x<=k;x++) {
      v=sprintf("%.1f", ((i*37 + x*11) % 1000) + x/10.0)
      j=j (x>1?",":"") "\"" sprintf("ind_%03d",x) "\":{\"value\":" v "}"
    }
    f=dir "/c/" id ".json"; print j "}}" > f; close(f)
  }}'
wbody='{"as_of":$sec,"indicators":{'
for ((x = 1; x <= K; x++)); do
  wbody+=$(printf '"ind_%03d":{"value":$sec.%d}' "$x" "$x")
  [ $x -lt $K ] && wbody+=','
done
wbody+='}}'
# As root, nginx's workers would run as nobody/www-data and could not read a work directory
# under a private parent (mktemp -d makes it 0700): keep them as the user who runs the script.
nginx_user=""
[ "$(id -u)" = 0 ] && nginx_user="user root;"
cat >"$OUT/conf/nginx.conf" <<EOC
$nginx_user
daemon off;
master_process on;
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/nginx-error.log warn;
events { worker_connections 8192; }
http {
  default_type application/json;
  log_format bench '\$msec \$status \$request_uri';
  access_log $RUN/access.log bench;
  client_body_temp_path $RUN/tmp-body; proxy_temp_path $RUN/tmp-proxy;
  fastcgi_temp_path $RUN/tmp-fcgi; uwsgi_temp_path $RUN/tmp-uwsgi; scgi_temp_path $RUN/tmp-scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  map \$msec \$sec { "~^(?<s>[0-9]+)\\." \$s; }
  server {
    listen 127.0.0.1:$PORT;
    root $OUT/www;
    location /w/ { return 200 '$wbody'; }
    location /hook { client_max_body_size 0; return 200 '{"errcode":0}'; }
  }
}
EOC
nginx -e "$RUN/nginx-error.log" -p "$RUN" -c "$OUT/conf/nginx.conf" &
NGINX=$!
STARTED+=("$NGINX")
for i in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/c/c0001.json" 2>/dev/null && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$PORT/w/c0001.json" | grep -q '"as_of":1' || { log "nginx not answering"; exit 1; }
log "nginx on 127.0.0.1:$PORT: $N endpoints x $K indicators"

# ---- pacewatch configuration: N sources (prefix c/ or w/), K indicators each --------------------
pw_conf() { # $1 dir $2 n $3 prefix $4 interval $5 rrdcached
  mkdir -p "$1"
  awk -v n="$2" -v k="$K" -v port="$PORT" -v pre="$3" -v iv="$4" -v rc="$5" 'BEGIN{
    printf "daemon: { state_dir = \"state\"; http_listen = \"\"; log_level = \"warn\"; rrdcached = \"%s\"; max_transfers = 64; };\n", rc
    print "domains = ( { id = \"d\"; name = \"民生\"; } );"
    print "sources = ("
    for (i=1;i<=n;i++) {
      asof = pre == "w" ? " as_of = \"$.as_of\";" : ""
      printf "  { id = \"c%04d\"; url = \"http://127.0.0.1:%d/%s/c%04d.json\"; format = \"json\"; interval = \"%s\";%s }%s\n", i, port, pre, i, iv, asof, i<n?",":""
    }
    print ");"
    print "indicators = ("
    for (i=1;i<=n;i++) for (x=1;x<=k;x++)
      printf "  { id = \"c%04d_%03d\"; name = \"指标%04d-%d\"; domain = \"d\"; unit = \"人\"; kind = \"cumulative\"; source = \"c%04d\"; path = \"$.indicators.ind_%03d.value\"; targets = ( { year = 2026; annual = 1000000; } ); }%s\n", i, x, i, x, i, x, (i<n||x<k)?",":""
    print ");"
  }' >"$1/pw.conf"
}

declare -A R # results: R[key]=value

# A window of WINDOW seconds over the processes given; sets W_T0 W_T1, W_CPU (seconds) and
# W_EACH (each process's seconds, in the order given).
window() {
  local p c0=0 c1=0 t each=()
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || { log "process $p is not running (see $RUN)"; exit 1; }
    t=$(cpu_ticks "$p")
    each+=("$t")
    c0=$((c0 + t))
  done
  W_T0=$(now)
  sleep "$WINDOW"
  W_T1=$(now)
  W_EACH=""
  for p in "$@"; do
    t=$(cpu_ticks "$p")
    c1=$((c1 + t))
    W_EACH+="$(echo "scale=3; ($t - ${each[0]}) / $HZ" | bc) "
    each=("${each[@]:1}")
  done
  W_CPU=$(echo "scale=3; ($c1 - $c0) / $HZ" | bc)
}

# The RRD files of a daemon's indicators (state/rrd, with or without rrdcached).
rrd_files() {
  find "$1/state/rrd" -maxdepth 1 -name '*.rrd' 2>/dev/null | wc -l
}

journal_lines() {
  if [ -f "$1/state/journal/journal.tsv" ]; then
    grep -vc '^#' "$1/state/journal/journal.tsv" || true
  else
    echo 0
  fi
}

# rrdcached for TAG with base directory DIR, the same settings for both daemons (collectd's
# variant B of the peers kit); sets RRDC_PID once its socket answers.
start_rrdcached() {
  mkdir -p "$2"
  rrdcached -g -F -l "unix:$RUN/rrdc-$1.sock" -p "$RUN/rrdc-$1.pid" -b "$2" -w 60 -z 30 -f 300 -t 4 \
    >"$RUN/rrdc-$1.log" 2>&1 &
  RRDC_PID=$!
  STARTED+=("$RRDC_PID")
  for i in $(seq 50); do [ -S "$RUN/rrdc-$1.sock" ] && break; sleep 0.1; done
}

# pacewatchd on N endpoints; $1 tag, $2 prefix (c: unchanged, w: changing), $3 rrdcached (y/n)
run_pw() {
  local tag=$1 pre=$2 dir=$OUT/data/pw-$1 rpid="" rc="" pid l0 l1 req
  if [ "$3" = y ]; then
    start_rrdcached "$tag" "$dir"
    rpid=$RRDC_PID
    rc="unix:$RUN/rrdc-$tag.sock"
  fi
  pw_conf "$dir" "$N" "$pre" 1s "$rc"
  "$PWD_BIN" -c "$dir/pw.conf" -f 2>"$RUN/pw-$tag.log" &
  pid=$!
  STARTED+=("$pid")
  # Warm: every indicator has its first sample and its RRD file. The journal line comes first
  # and the file after it (docs/storage.md), so the first condition alone would leave the
  # creation of thousands of files inside the window.
  for i in $(seq 1500); do
    [ "$(journal_lines "$dir")" -ge $((N * K)) ] && [ "$(rrd_files "$dir")" -ge $((N * K)) ] && break
    sleep 0.2
  done
  sleep "$SETTLE"
  l0=$(journal_lines "$dir")
  if [ -n "$rpid" ]; then window "$pid" "$rpid"; else window "$pid"; fi
  l1=$(journal_lines "$dir")
  req=$(requests_between "$W_T0" "$W_T1" "/$pre/")
  R[$tag.cpu]=$W_CPU
  R[$tag.each]=$W_EACH
  R[$tag.polled]=$((req * K))
  R[$tag.stored]=$((l1 - l0))
  R[$tag.hwm]=$(vm_kb "$pid" VmHWM)
  stop_pid "$pid"
  [ -n "$rpid" ] && stop_pid "$rpid"
  log "pacewatch $tag: ${W_CPU}s CPU, ${R[$tag.polled]} values polled, ${R[$tag.stored]} stored, VmHWM ${R[$tag.hwm]} kB"
}

# collectd on the same endpoints; $1 variant (N: no writer, A: rrdtool, B: rrdcached), $2 prefix
run_collectd() {
  local V=$1 pre=$2 tag=cd-$1-$2 dir=$OUT/data/cd-$1-$2 rpid="" tpid pid req
  mkdir -p "$dir"
  {
    printf 'Hostname "bench"\nFQDNLookup false\nBaseDir "%s"\nPIDFile "%s/%s.pid"\n' "$dir" "$RUN" "$tag"
    printf 'PluginDir "/usr/lib/collectd"\nTypesDB "/usr/share/collectd/types.db"\nInterval 1\nTimeout 2\n'
    printf 'ReadThreads 5\nWriteThreads 5\nLoadPlugin logfile\n<Plugin logfile>\n LogLevel "info"\n File "%s/%s.log"\n</Plugin>\nLoadPlugin curl_json\n' "$RUN" "$tag"
    case $V in
    A) printf 'LoadPlugin rrdtool\n<Plugin rrdtool>\n DataDir "%s/rrd"\n CreateFilesAsync false\n</Plugin>\n' "$dir" ;;
    B) printf 'LoadPlugin rrdcached\n<Plugin rrdcached>\n DaemonAddress "unix:%s/rrdc-%s.sock"\n DataDir "%s/rrd"\n CreateFiles true\n CreateFilesAsync false\n CollectStatistics false\n</Plugin>\n' "$RUN" "$tag" "$dir" ;;
    N) printf 'PostCacheChain "NullWrite"\n<Chain "NullWrite">\n Target "stop"\n</Chain>\n' ;;
    esac
    echo "<Plugin curl_json>"
    awk -v n="$N" -v k="$K" -v port="$PORT" -v pre="$pre" 'BEGIN{
      for (i=1;i<=n;i++) {
        printf "  <URL \"http://127.0.0.1:%d/%s/c%04d.json\">\n    Instance \"c%04d\"\n    Timeout 2000\n", port, pre, i, i
        for (x=1;x<=k;x++) printf "    <Key \"indicators/ind_%03d/value\">\n      Type \"gauge\"\n      Instance \"ind_%03d\"\n    </Key>\n", x, x
        print "  </URL>"
      }}'
    echo "</Plugin>"
  } >"$OUT/conf/$tag.conf"
  if [ "$V" = B ]; then
    start_rrdcached "$tag" "$dir/rrd"
    rpid=$RRDC_PID
  fi
  collectd -f -C "$OUT/conf/$tag.conf" >"$RUN/$tag.stdout" 2>&1 &
  tpid=$!
  STARTED+=("$tpid")
  pid=$tpid
  # Warm: every RRD file exists (a few seconds without a writer).
  for i in $(seq 900); do
    [ "$V" = N ] && { sleep 3; break; }
    [ "$(find "$dir/rrd" -name '*.rrd' 2>/dev/null | wc -l)" -ge $((N * K)) ] && break
    sleep 0.2
  done
  sleep "$SETTLE"
  if [ -n "$rpid" ]; then window "$pid" "$rpid"; else window "$pid"; fi
  req=$(requests_between "$W_T0" "$W_T1" "/$pre/")
  R[$tag.cpu]=$W_CPU
  R[$tag.values]=$((req * K))
  R[$tag.hwm]=$(vm_kb "$pid" VmHWM)
  stop_pid "$pid"
  [ -n "$rpid" ] && stop_pid "$rpid"
  log "collectd $V on /$pre/: ${W_CPU}s CPU, ${R[$tag.values]} values, VmHWM ${R[$tag.hwm]} kB"
}

us_per() { [ "${2:-0}" -gt 0 ] && echo "scale=2; $1 * 1000000 / $2" | bc | sed 's/^\./0./' || echo NA; }
# A / B, or NA when either is missing or B is zero.
ratio() {
  case "$1$2" in *NA*) echo NA; return ;; esac
  [ -n "$1" ] && [ -n "$2" ] && [ "$(echo "$2 > 0" | bc)" = 1 ] || { echo NA; return; }
  echo "scale=3; $1 / $2" | bc | sed 's/^\./0./'
}
# met R LIMIT: "met" when R <= LIMIT, else "missed (x N)" with how far over.
met() {
  [ "$1" = NA ] || [ -z "$1" ] && { echo "–"; return; }
  if [ "$(echo "$1 <= $2" | bc)" = 1 ]; then echo met; else
    echo "missed (×$(echo "scale=2; $1 / $2" | bc | sed 's/^\./0./') of the bound)"
  fi
}

# ---- loop stall: N x K indicators get their first figures and alerts fire ---------------------
# pacewatchd with the status server on, every indicator far behind its target (the clock is set
# to the end of November) and one webhook receiver (nginx's /hook), from an empty state directory.
# Once every indicator has its first figure, the alerts went out and the spool is empty, the
# longest stall of the event loop is read from /metrics (pacewatch_loop_stall_max_seconds; the
# scrape itself is not in it). NA when the daemon does not expose it.
run_stall() {
  local dir=$OUT/data/stall sport pid i hooks=0 last=-1 same=0 m
  sport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pw_conf "$dir" "$N" c 10s ""
  sed -i "s/http_listen = \"\"/http_listen = \"127.0.0.1:$sport\"/" "$dir/pw.conf"
  printf 'receivers = ( { id = "hook"; type = "webhook"; url = "http://127.0.0.1:%d/hook"; } );\nalerting: { receivers = [ "hook" ]; group_wait = "1s"; };\n' \
    "$PORT" >>"$dir/pw.conf"
  "$PWD_BIN" -c "$dir/pw.conf" -f --now 2026-11-30T09:00:00+08:00 2>"$RUN/pw-stall.log" &
  pid=$!
  STARTED+=("$pid")
  for i in $(seq 1200); do
    kill -0 "$pid" 2>/dev/null || { log "pacewatchd (stall) stopped (see $RUN/pw-stall.log)"; break; }
    if [ "$(journal_lines "$dir")" -ge $((N * K)) ]; then
      hooks=$(awk '$2==200 && index($3,"/hook")==1' "$RUN/access.log" | wc -l)
      # Done when notifications went out, none is left in the spool and none came for 2 s.
      if [ "$hooks" -gt 0 ] && [ "$hooks" = "$last" ] &&
        [ "$(find "$dir/state/spool" -maxdepth 1 -type f 2>/dev/null | wc -l)" = 0 ]; then
        same=$((same + 1))
        [ $same -ge 8 ] && break
      else
        same=0
      fi
      last=$hooks
    fi
    sleep 0.25
  done
  m=$(curl -fsS --max-time 60 "http://127.0.0.1:$sport/metrics" 2>/dev/null || true)
  R[stall.max]=$(echo "$m" | awk '$1=="pacewatch_loop_stall_max_seconds"{print $2}')
  R[stall.count]=$(echo "$m" | awk '$1=="pacewatch_loop_stall_seconds_count"{print $2}')
  R[stall.le01]=$(echo "$m" | awk '$1=="pacewatch_loop_stall_seconds_bucket{le=\"0.1\"}"{print $2}')
  R[stall.hooks]=$hooks
  if [ -n "${R[stall.max]}" ]; then R[stall.max]=$(printf '%.3f' "${R[stall.max]}"); else R[stall.max]=NA; fi
  stop_pid "$pid"
  log "loop stall: longest ${R[stall.max]} s over ${R[stall.count]:-NA} iterations (${R[stall.le01]:-NA} within 0.1 s), $hooks notifications delivered"
}

# PW_BENCH_AB=DIR: one pacewatch row alone (PW_BENCH_AB_ROW: w1, the default, w2 or w2c), this
# build and the build in DIR (its bin/pacewatchd) in turn, PW_BENCH_ROUNDS rounds (default 3):
# tells a change of the code from the machine's day. W2 rows count CPU per stored value, and
# W2c prints pacewatchd's and its rrdcached's CPU apart.
if [ -n "${PW_BENCH_AB:-}" ]; then
  row=${PW_BENCH_AB_ROW:-w1}
  case $row in
  w1) pre=c rc=n ;;
  w2) pre=w rc=n ;;
  w2c) pre=w rc=y ;;
  *) echo "PW_BENCH_AB_ROW: w1, w2 or w2c" >&2; exit 2 ;;
  esac
  for ((r = 1; r <= ${PW_BENCH_ROUNDS:-3}; r++)); do
    for b in "$BUILD" "$PW_BENCH_AB"; do
      PWD_BIN="$b/bin/pacewatchd"
      rm -rf "$OUT/data/pw-$row"
      run_pw "$row" "$pre" "$rc"
      per=${R[$row.polled]}
      [ "$row" != w1 ] && per=${R[$row.stored]}
      echo "$row round $r $b: $(us_per "${R[$row.cpu]}" "$per") us/value (CPU s: ${R[$row.each]}), VmHWM ${R[$row.hwm]} kB"
    done
  done
  exit 0
fi

run_stall
if [ "${PW_BENCH_STALL_ONLY:-0}" = 1 ]; then
  echo "loop stall with $((N * K)) indicators: ${R[stall.max]} s"
  exit 0
fi

# ---- W1 and W2 --------------------------------------------------------------------------------
run_pw w1 c n
run_pw w2 w n
run_pw w2c w y
if [ $HAVE_COLLECTD = 1 ]; then
  run_collectd N c
  run_collectd A w
  run_collectd B w
else
  log "collectd is not installed: its rows are NA"
fi

# ---- librrd floor in the same run: rrd_update_r, one value per call --------------------------
T0=$(($(date +%s) - 7 * 86400))
T0=$((T0 / 60 * 60))
FL=$OUT/data/floor
mkdir -p "$FL"
NF=$((N * K))
"$OUT/rrdbench" create "$FL" "$NF" "$T0" >/dev/null
# The median over 5 rounds of CPU per rrd_update_r call (one value each), on as many files.
R[floor.update_us]=$("$OUT/rrdbench" update "$FL" "$NF" "$T0" 5 |
  awk '{for (i=1;i<=NF;i++) if ($i ~ /^us_per_op_cpu=/) {sub(/.*=/,"",$i); v[n++]=$i}}
       END{for (i=0;i<n;i++) print v[i]}' | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}')
"$OUT/rrdbench" gprep "$FL/g.rrd" "$(($(date +%s) / 3600 * 3600))" >/dev/null
R[floor.graph_ms]=$("$OUT/rrdbench" graph "$FL/g.rrd" "$(($(date +%s) / 3600 * 3600))" "$FL/g.png" 20 $((365 * 86400)) |
  tr '\t' '\n' | awk -F= '$1=="mean_ms"{print $2}')
# The journal's floor: a line of the journal's shape appended and fsync'd once per 10 lines (a
# poll's worth; pacewatch's bursts are that or larger).
R[floor.journal_us]=$("$OUT/rrdbench" journal "$FL/journal.tsv" $((NF * 4)) 10 |
  tr '\t' '\n' | awk -F= '$1=="us_per_op_cpu"{print $2}')
# Creating W3's files (pacewatch's 188 KB layout) on this file system: W3's floor.
mkdir -p "$FL/create"
R[floor.create_s]=$("$OUT/rrdbench" pwcreate "$FL/create" $((N3 * K)) "$(date +%s)" |
  tr '\t' '\n' | awk -F= '$1=="wall_s"{print $2}')
# Not removed here: ext4 without a journal skips inodes freed in the last minutes when it
# allocates, so deleting 10,000 files right before W3 would slow W3's own file creation down.
log "floor: rrd_update_r ${R[floor.update_us]} us/value, journal ${R[floor.journal_us]} us/line, rrd_graph ${R[floor.graph_ms]} ms per one-year PNG, $((N3 * K)) files created in ${R[floor.create_s]} s"

# The floors just wrote gigabytes: let them reach the disk, so that W3 does not pay their writeback.
sync
sleep "$SETTLE"
# ---- W3: N3 endpoints, one --once cycle ---------------------------------------------------------
pw_conf "$OUT/data/w3" "$N3" c 1h ""
/usr/bin/time -f '%e %U %S %M' -o "$OUT/res/w3.time" "$PWD_BIN" -c "$OUT/data/w3/pw.conf" --once 2>"$RUN/w3.log" || true
read -r w3wall w3u w3s w3rss <"$OUT/res/w3.time"
R[w3.wall]=$w3wall
R[w3.cpu]=$(echo "$w3u + $w3s" | bc)
R[w3.stored]=$(journal_lines "$OUT/data/w3")
# The same cycle again: files exist, data unchanged (the cron case after the first day).
/usr/bin/time -f '%e %U %S %M' -o "$OUT/res/w3b.time" "$PWD_BIN" -c "$OUT/data/w3/pw.conf" --once 2>>"$RUN/w3.log" || true
read -r w3bwall w3bu w3bs w3brss <"$OUT/res/w3b.time"
R[w3b.wall]=$w3bwall
R[w3b.cpu]=$(echo "$w3bu + $w3bs" | bc)
log "W3: $N3 endpoints x $K --once: ${w3wall}s wall, ${R[w3.cpu]}s CPU, ${R[w3.stored]} stored"

# ---- W4: N4 indicators with a year of daily samples in the journal ----------------------------
W4=$OUT/data/w4
mkdir -p "$W4/state/journal"
echo '{"v": 1}' >"$W4/src.json"
/usr/bin/python3 - "$W4" "$N4" <<'EOF'
import datetime, random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(1)
with open(d + "/pw.conf", "w") as f:
    f.write('daemon: { state_dir = "state"; http_listen = ""; log_level = "info"; };\n')
    f.write('domains = ( { id = "d"; name = "民生"; } );\n')
    f.write('sources = ( { id = "s"; url = "src.json"; format = "json"; interval = "1h"; } );\n')
    f.write("indicators = (\n" + ",\n".join(
        '{ id = "i%05d"; name = "指标%05d"; domain = "d"; unit = "人"; kind = "cumulative"; %s'
        'targets = ( { year = 2024; annual = 36500; quarters = [ 9000, 18200, 27400, 36500 ]; } ); }'
        % (i, i, 'source = "s"; path = "$.v"; ' if i == 0 else "") for i in range(n)) + "\n);\n")
day0 = datetime.datetime(2024, 1, 2)
stamps = [(day0 + datetime.timedelta(days=k)).strftime("%Y-%m-%dT00:00:00+08:00") for k in range(365)]
with open(d + "/state/journal/journal.tsv", "w") as f:
    f.write("# pacewatch journal v1: as_of\tindicator\tvalue\tfetched_at\tsource\n")
    for i in range(n):
        v = 0
        for s in stamps:
            v += random.randint(50, 150)
            f.write("%s\ti%05d\t%d\t2025-01-01T00:00:00+08:00\timport\n" % (s, i, v))
EOF
best=999
for r in 1 2 3; do
  t0=$(now)
  "$PW" status -c "$W4/pw.conf" --json --at 2024-12-31 >"$OUT/res/w4-status.json"
  t=$(echo "$(now) - $t0" | bc)
  best=$(echo "if ($t < $best) $t else $best" | bc)
done
R[w4.status]=$best
t0=$(now)
"$PWD_BIN" -c "$W4/pw.conf" --once --now 2024-12-31T09:00:00+08:00 2>&1 |
  while IFS= read -r l; do
    case $l in *"source 's':"*) echo "$(now)" >"$OUT/res/w4-first-poll" ;; esac
  done
R[w4.first_poll]=$(echo "$(cat "$OUT/res/w4-first-poll" 2>/dev/null || echo "$t0") - $t0" | bc)
log "W4: $N4 indicators, $((N4 * 365)) journal lines: status --json ${R[w4.status]}s, start to first poll ${R[w4.first_poll]}s"

# ---- W5: the weekly briefing of N5 indicators with graphs --------------------------------------
W5=$OUT/data/w5
mkdir -p "$W5"
/usr/bin/python3 - "$W5" "$N5" <<'EOF'
import datetime, random, sys
d, n = sys.argv[1], int(sys.argv[2])
random.seed(2)
with open(d + "/pw.conf", "w") as f:
    f.write('daemon: { state_dir = "state"; http_listen = ""; };\n')
    f.write('domains = ( ' + ", ".join('{ id = "d%d"; name = "领域%d"; }' % (k, k) for k in range(7)) + " );\n")
    f.write("indicators = (\n" + ",\n".join(
        '{ id = "i%03d"; name = "指标%03d"; domain = "d%d"; unit = "人"; kind = "cumulative"; '
        'targets = ( { year = 2024; annual = 36500; quarters = [ 9000, 18200, 27400, 36500 ]; } ); }'
        % (i, i, i % 7) for i in range(n)) + "\n);\n")
with open(d + "/hist.csv", "w") as f:
    f.write("indicator,as_of,value\n")
    for i in range(n):
        v = 0
        for k in range(300):
            v += random.randint(60, 120)
            f.write("i%03d,%s,%d\n" % (i, (datetime.date(2024, 1, 1) + datetime.timedelta(days=k)).isoformat(), v))
EOF
"$PW" import -c "$W5/pw.conf" "$W5/hist.csv" >/dev/null
t0=$(now)
"$PW" briefing -c "$W5/pw.conf" --at 2024-10-28 -o "$W5/out" >/dev/null
R[w5.wall]=$(echo "$(now) - $t0" | bc)
R[w5.floor]=$(echo "scale=3; $N5 * ${R[floor.graph_ms]} / 1000" | bc)
log "W5: briefing of $N5 indicators with graphs ${R[w5.wall]}s; $N5 x rrd_graph floor ${R[w5.floor]}s"

# ---- single calls of the store and the graph ---------------------------------------------------
# What the unit tests used to print: a one-point append, a 3650-point rebuild (directly and
# through rrdcached) and one graph render, on pacewatch's own code.
UB=$OUT/data/unit
start_rrdcached unit "$UB/state"
UNIT=$("$BUILD/bin/unitbench" "$UB" "unix:$RUN/rrdc-unit.sock")
stop_pid "$RRDC_PID"
for k in append_ms rebuild_ms cached_append_ms cached_rebuild_ms png_first_ms png_ms svg_ms; do
  R[unit.$k]=$(echo "$UNIT" | tr '\t' '\n' | awk -F= -v k="$k" '$1==k{print $2}')
done
log "single calls: append ${R[unit.append_ms]} ms, rebuild ${R[unit.rebuild_ms]} ms, PNG ${R[unit.png_ms]} ms"

# ---- the table ---------------------------------------------------------------------------------
w1=$(us_per "${R[w1.cpu]}" "${R[w1.polled]}")
w2=$(us_per "${R[w2.cpu]}" "${R[w2.stored]}")
w2c=$(us_per "${R[w2c.cpu]}" "${R[w2c.stored]}")
cN=NA cA=NA cB=NA hN=NA hA=NA
if [ $HAVE_COLLECTD = 1 ]; then
  cN=$(us_per "${R[cd-N-c.cpu]}" "${R[cd-N-c.values]}")
  cA=$(us_per "${R[cd-A-w.cpu]}" "${R[cd-A-w.values]}")
  cB=$(us_per "${R[cd-B-w.cpu]}" "${R[cd-B-w.values]}")
  hN=${R[cd-N-c.hwm]}
  hA=${R[cd-A-w.hwm]}
fi
for k in w4.status w4.first_poll w5.wall w5.floor; do R[$k]=$(printf '%.3f' "${R[$k]}"); done
floor=${R[floor.update_us]:-NA}
fj=NA
[ -n "${R[floor.journal_us]:-}" ] && [ "$floor" != NA ] && fj=$(echo "scale=2; $floor + ${R[floor.journal_us]}" | bc)
hB=NA
[ $HAVE_COLLECTD = 1 ] && hB=${R[cd-B-w.hwm]}
r1=$(ratio "$w1" "$cN") r2a=$(ratio "$w2" "$cA") r2b=$(ratio "$w2c" "$cB") r2f=$(ratio "$w2" "$fj")
rrss=$(ratio "${R[w1.hwm]}" "$hA") r5=$(ratio "${R[w5.wall]}" "${R[w5.floor]}")
r3=$(ratio "${R[w3.wall]}" "${R[floor.create_s]}")
{
  echo "# pacewatch vs collectd, $(date -Is), $(nproc) CPUs, N=$N endpoints x $K, window ${WINDOW}s$([ $SMOKE = 1 ] && echo ' (smoke: sizes too small to mean anything)')"
  echo
  echo "| row | pacewatch | collectd / floor | ratio | goal | verdict |"
  echo "|---|---|---|---|---|---|"
  echo "| W1 unchanged data: µs CPU per polled value (collectd N: no writer) | $w1 (${R[w1.cpu]} s / ${R[w1.polled]}) | $cN | $r1 | ≤ 0.5 | $(met "$r1" 0.5) |"
  echo "| W2 changing data: µs CPU per stored value (collectd A: rrdtool) | $w2 (${R[w2.cpu]} s / ${R[w2.stored]}) | $cA | $r2a | ≤ 0.6 | $(met "$r2a" 0.6) |"
  echo "| W2 with rrdcached, both daemons' CPU (collectd B + its rrdcached) | $w2c (${R[w2c.cpu]} s / ${R[w2c.stored]}) | $cB | $r2b | ≤ 0.8 | $(met "$r2b" 0.8) |"
  echo "| W2 vs rrd_update_r (1 value/call) + journal line (fsync per 10), µs | $w2 | $floor + ${R[floor.journal_us]:-NA} = $fj | $r2f | ≤ 1.3 | $(met "$r2f" 1.3) |"
  echo "| peak RSS with $((N * K)) indicators, kB (W1; collectd A, B, N) | ${R[w1.hwm]} | $hA, $hB, $hN | $rrss (vs A) | ≤ 0.5 | $(met "$rrss" 0.5) |"
  echo "| W3 $N3 endpoints x $K, first --once cycle: wall s (CPU s) | ${R[w3.wall]} (${R[w3.cpu]}) | creating the $((N3 * K)) files alone: ${R[floor.create_s]} | $r3 | ≤ 2 s | $(met "${R[w3.wall]}" 2) |"
  echo "| W3 the same cycle again (files exist): wall s (CPU s) | ${R[w3b.wall]} (${R[w3b.cpu]}) | | | ≤ 2 s | $(met "${R[w3b.wall]}" 2) |"
  echo "| W4 $N4 indicators, a year of daily samples: status --json s | ${R[w4.status]} | | | ≤ 1 s | $(met "${R[w4.status]}" 1) |"
  echo "| W4 daemon start until the first poll, s | ${R[w4.first_poll]} | | | ≤ 2 s | $(met "${R[w4.first_poll]}" 2) |"
  echo "| W5 briefing of $N5 indicators with graphs, s (vs $N5 × rrd_graph ${R[floor.graph_ms]} ms) | ${R[w5.wall]} | ${R[w5.floor]} | $r5 | ≤ 1.5 | $(met "$r5" 1.5) |"
  echo "| loop's longest stall while $((N * K)) indicators get their first figures and alerts fire, s (iterations, of them ≤ 0.1 s) | ${R[stall.max]} (${R[stall.count]:-NA}, ${R[stall.le01]:-NA}) | | | – | – |"
  echo
  echo "| single call (pacewatch's store and graph, wall ms) | direct | through rrdcached |"
  echo "|---|---|---|"
  echo "| store: append of one point (with its hold entry), mean of 200 | ${R[unit.append_ms]} | ${R[unit.cached_append_ms]} |"
  echo "| store: rebuild of 3650 daily points | ${R[unit.rebuild_ms]} | ${R[unit.cached_rebuild_ms]} |"
  echo "| graph: first PNG of the process / warm PNG / warm SVG, 800x300, one year | ${R[unit.png_first_ms]} / ${R[unit.png_ms]} / ${R[unit.svg_ms]} | |"
} | tee "$OUT/res/table.md"

# The smoke run only checks that every row produced numbers.
if [ $SMOKE = 1 ]; then
  for k in w1.cpu w1.polled w2.stored w3.wall w3b.wall w4.status w4.first_poll w5.wall floor.graph_ms \
    floor.journal_us floor.create_s unit.append_ms unit.cached_rebuild_ms unit.png_ms stall.max; do
    [ -n "${R[$k]:-}" ] || { echo "bench smoke: $k is empty" >&2; exit 1; }
  done
  [ "${R[w1.polled]}" -gt 0 ] || { echo "bench smoke: W1 polled nothing" >&2; exit 1; }
  [ "${R[w2.stored]}" -gt 0 ] || { echo "bench smoke: W2 stored nothing" >&2; exit 1; }
  [ "${R[w3.stored]}" -ge $((N3 * K)) ] || { echo "bench smoke: W3 stored ${R[w3.stored]}" >&2; exit 1; }
  [ "${R[stall.max]}" != NA ] || { echo "bench smoke: no loop stall in /metrics" >&2; exit 1; }
  [ "${R[stall.hooks]}" -gt 0 ] || { echo "bench smoke: no alert reached the webhook" >&2; exit 1; }
fi
