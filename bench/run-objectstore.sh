#!/bin/sh
# Runs the object-storage benchmark (dev.strata.bench.objectstore.ObjectStoreBench: upload MiB/s of
# the flushed corpus, upload lag under load, restore time, cold vs warm segment cache latency)
# against s3proxy in-process, from
# bench/target/benchmarks.jar on a JDK 21+ (see find-jdk.sh). Build first:
#   mvn -B -q -DskipTests package -pl bench -am
# Arguments go to ObjectStoreBench ([--docs N] [--l0-mib M]); without any, the whole corpus, 4 MiB L0.
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
  -cp "$jar" dev.strata.bench.objectstore.ObjectStoreBench "$@"
