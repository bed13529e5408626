#!/bin/sh
# Issue 16: merge time (fast-forward, three-way of 1 % and 10 % of the corpus) and change-feed
# throughput against DiffSnapshots, in process on the Debian corpus (docs/benchmarks.md).
# Usage: bench/run-merge-bench.sh [--docs N] [--reps 3]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/find-jdk.sh"
find_jdk21
jar="$here/target/benchmarks.jar"
if [ ! -f "$jar" ]; then
  echo "error: $jar is missing; build it: mvn -B -q -DskipTests package -pl bench -am" >&2
  exit 1
fi
echo "java: $JAVA" >&2
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g \
  -cp "$jar" dev.strata.bench.engine.MergeBench "$@"
