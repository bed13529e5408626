#!/usr/bin/env bash
# Issue #5's benchmark: sustained ingest of the Debian corpus at flush.interval 1 s, compaction on
# and then off in one invocation (dev.strata.bench.compaction.CompactionSoak), on a JDK 21+ (see
# find-jdk.sh). Builds bench/target/benchmarks.jar first if it is missing or older than a source.
#
#   bench/run-compaction-soak.sh                 # 300 s per side -> bench/results/compaction-soak.*
#   bench/run-compaction-soak.sh --seconds 60    # a short run -> bench/results/compaction-soak-60s.*
#
# Other arguments go to CompactionSoak (--rate, --writers, --batch, --durability, --order, --corpus,
# --out-prefix, ...). Writes <prefix>.json, <prefix>.csv, <prefix>-segments.png, <prefix>-write-p99.png
# and the console to <prefix>.txt. Scratch engines go under -Dstrata.bench.dir (STRATA_BENCH_DIR),
# else java.io.tmpdir: keep that on the disk you mean to measure, not a tmpfs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/find-jdk.sh"
find_jdk21

seconds=300
prefix=""
pass=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --out-prefix) prefix=$2; shift 2 ;;
    *) pass="$pass $1"; shift ;;
  esac
done
if [ -z "$prefix" ]; then
  if [ "$seconds" = 300 ]; then
    prefix="$here/results/compaction-soak"
  else
    prefix="$here/results/compaction-soak-${seconds}s"
  fi
fi

jar="$here/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$root/bench/src/main" "$root/bench/pom.xml" "$root/engine/src/main" \
    "$root/wal/src/main" "$root/manifest/src/main" -newer "$jar" -type f 2>/dev/null | head -n 1)" ]; then
  echo "building $jar" >&2
  (cd "$root" && mvn -B -q -DskipTests package -pl bench -am)
fi

mkdir -p "$(dirname "$prefix")"
echo "java: $JAVA" >&2
# shellcheck disable=SC2086 # $pass holds the remaining arguments, split on purpose
"$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g -Djava.awt.headless=true \
  ${STRATA_BENCH_DIR:+-Dstrata.bench.dir="$STRATA_BENCH_DIR"} \
  -cp "$jar" dev.strata.bench.compaction.CompactionSoak --seconds "$seconds" --out-prefix "$prefix" $pass \
  2>&1 | tee "$prefix.txt"
