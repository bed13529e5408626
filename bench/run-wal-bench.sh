#!/bin/sh
# Runs the JMH benchmarks of bench/target/benchmarks.jar on a JDK 21+ (see find-jdk.sh).
# Build first:  mvn -B -q -DskipTests package -pl bench -am
# Arguments go to JMH; without any, runs the WAL append comparison of docs/benchmarks.md and
# writes its JSON to bench/results/wal-append.json.
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
  set -- WalAppend -f 1 -wi 1 -w 5s -i 3 -r 5s -rf json -rff "$here/results/wal-append.json"
fi
echo "java: $JAVA" >&2
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar "$jar" "$@"
