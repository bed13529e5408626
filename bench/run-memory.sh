#!/bin/bash
# The server's resident memory with default settings (issue #12): a server started by bin/strata
# serve (so its JVM gets the heap bin/strata derives from memory.budget), then the whole corpus
# loaded with bin/strata load, RSS read from /proc after the load and after 10 s and 40 s of
# idling; then, unless --soak-seconds 0, a mixed soak of writes, Gets and searches against the same
# server (dev.strata.bench.memory.MemorySoak) sampling RSS every 5 s. Build first:
#   mvn -B -q -DskipTests package -pl bench -am      (also builds server/target/strata.jar)
# Usage: bench/run-memory.sh [--soak-seconds S] [--port P] [--out DIR] [--root DIR]
#   --root DIR   the tree whose bin/strata and server/target/strata.jar to run (default: this one),
#                to measure an older build with the same script
# Results: DIR/rss-load.txt, DIR/rss-samples.txt (one "epoch-seconds RSS-MiB anon-MiB file-MiB" line
# per second: anonymous memory is heap and native allocations, file-backed is mapped files),
# DIR/soak.{json,csv} and the console. Scratch data under ${STRATA_BENCH_DIR:-/tmp}, deleted after.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/find-jdk.sh"
find_jdk21
root=$(cd "$here/.." && pwd)
soak=600
port=7811
out="$here/results/memory"
while [ $# -gt 0 ]; do
  case "$1" in
    --soak-seconds) soak=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--soak-seconds S] [--port P] [--out DIR] [--root DIR]" >&2; exit 2 ;;
  esac
done
jar="$here/target/benchmarks.jar"
[ -f "$jar" ] || { echo "error: $jar is missing; build it: mvn -B -q -DskipTests package -pl bench -am" >&2; exit 1; }
corpus="$root/../shared/data/debian-packages.jsonl.gz"
[ -f "$corpus" ] || corpus="$(cd "$here/../.." && pwd)/shared/data/debian-packages.jsonl.gz"
mkdir -p "$out"
scratch=$(mktemp -d "${STRATA_BENCH_DIR:-/tmp}/strata-memory-XXXXXX")
report="$out/rss-load.txt"
: > "$report"
"$root/bin/strata" serve --data-dir "$scratch/data" --listen "127.0.0.1:$port" --set metrics.listen=off \
  > "$scratch/server.log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
for _ in $(seq 1 240); do grep -q 'serving on' "$scratch/server.log" && break; sleep 0.5; done
grep -q 'serving on' "$scratch/server.log" || { cat "$scratch/server.log" >&2; exit 1; }
rss() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$pid/status"; }
# RSS split: anonymous (heap, native allocations) and file-backed (mmapped Lucene segments, the JDK).
split() { awk '/RssAnon/{a=$2} /RssFile/{f=$2} END{printf "anon %.0f MiB, file %.0f MiB", a/1024, f/1024}' "/proc/$pid/status"; }
hwm() { awk '/VmHWM/{printf "%.0f", $2/1024}' "/proc/$pid/status"; }
( while kill -0 "$pid" 2>/dev/null; do
    echo "$(date +%s) $(rss) $(awk '/RssAnon/{a=$2} /RssFile/{f=$2} END{printf "%.0f %.0f", a/1024, f/1024}' "/proc/$pid/status")"
    sleep 1
  done ) > "$out/rss-samples.txt" &
sampler=$!
{
  echo "server pid $pid ($(tr '\0' ' ' < "/proc/$pid/cmdline" | grep -o -- '-Xm[sx][^ ]*' | tr '\n' ' '))"
  echo "started: RSS $(rss) MiB"
} | tee -a "$report"
t0=$(date +%s)
"$root/bin/strata" load "$corpus" --collection packages --server "127.0.0.1:$port" --no-progress \
  --text-fields summary,description --keyword-fields section,priority,maintainer \
  --long-fields installed_size_kib 2>&1 | tail -n 3 | tee -a "$report"
echo "load took $(( $(date +%s) - t0 )) s; right after: RSS $(rss) MiB ($(split); peak so far $(hwm) MiB)" | tee -a "$report"
sleep 10
echo "10 s after: RSS $(rss) MiB ($(split))" | tee -a "$report"
sleep 30
echo "40 s after: RSS $(rss) MiB ($(split); peak so far $(hwm) MiB)" | tee -a "$report"
if [ "$soak" -gt 0 ]; then
  cd "$here/.." # MemorySoak reads bench/queries.txt
  "$JAVA" -Xmx1g -cp "$jar" dev.strata.bench.memory.MemorySoak --server "127.0.0.1:$port" --pid "$pid" \
    --seconds "$soak" --corpus "$corpus" --out "$out/soak"
fi
