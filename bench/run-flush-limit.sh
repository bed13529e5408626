#!/bin/sh
# The flush stream against its limit (dev.strata.bench.engine.FlushLimit, issue #12): the same
# documents through the engine's flush and through a raw SstFileWriter + Lucene IndexWriter, from
# bench/target/benchmarks.jar on a JDK 21+ (see find-jdk.sh). Build first:
#   mvn -B -q -DskipTests package -pl bench -am
# Arguments go to FlushLimit ([--docs N] [--reps N] [--older 0,8] [--smoke] [--out file.json]);
# without any: 100,000 documents, 3 reps, 0 and 8 older segments, JSON to
# bench/results/flush-limit.json.
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
  set -- --out "$here/results/flush-limit.json"
fi
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g \
  -cp "$jar" dev.strata.bench.engine.FlushLimit "$@"
