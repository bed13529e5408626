#!/bin/sh
# Runs the engine load generator (dev.strata.bench.engine.EngineLoad) from bench/target/benchmarks.jar
# on a JDK 21+ (see find-jdk.sh). Build first:  mvn -B -q -DskipTests package -pl bench -am
# Arguments go to EngineLoad ([--smoke] [--only put|flush|noisy] [--out file.json]); without any, runs the
# full load of docs/benchmarks.md and writes its JSON to bench/results/engine-load.json.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/find-jdk.sh"
find_jdk21
jar="$here/target/benchmarks.jar"
if [ ! -f "$jar" ]; then
  echo "error: $jar is missing; build it: mvn -B -q -DskipTests package -pl bench -am" >&2
  exit 1
fi
if [ "$#" -eq 0 ]; then
  set -- --out "$here/results/engine-load.json"
fi
echo "java: $JAVA" >&2
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g \
  -cp "$jar" dev.strata.bench.engine.EngineLoad "$@"
