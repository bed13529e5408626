#!/bin/sh
# The kill -9 torture of issue #11: a Strata server in a child JVM takes concurrent SYNC writers
# (puts, overwrites, deletes), is killed with SIGKILL at random moments, right after a flush starts
# or right after a full compaction starts, and is restarted; a full scan is checked against an
# exact model of the acknowledged writes after every restart (nothing acknowledged lost, nothing
# corrupted, nothing resurrected, batches in flight applied whole or not at all), and Verify must
# be clean. Builds bench/target/benchmarks.jar (with the reactor; never `mvn install`) if it is
# missing or STRATA_REBUILD=1, finds a JDK 21+ (find-jdk.sh) and runs
# dev.strata.bench.torture.KillNineTorture. Arguments:
#   --cycles N            kill/restart cycles (default 100; docs/benchmarks.md has a 1,000-cycle run)
#   --writers N           concurrent writers, each owning its keys (default 4)
#   --keys-per-writer N   keys each writer puts, overwrites and deletes (default 200)
#   --max-write-ms MS     longest stretch of writes before a kill (default 1200)
#   --seed N              the random seed (printed; default from the clock)
#   --dir DIR             keep the data directory and server logs there (default: a scratch
#                         directory under STRATA_BENCH_DIR or /tmp, deleted at the end)
#   --out FILE            also write the summary line and findings to FILE
# Exit status 0 when nothing was lost, corrupted or resurrected and Verify stayed clean, else 1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/find-jdk.sh"
find_jdk21

jar="$here/target/benchmarks.jar"
if [ ! -f "$jar" ] || [ "${STRATA_REBUILD:-0}" = 1 ]; then
  echo "building $jar" >&2
  (cd "$root" && mvn -B -q -DskipTests package -pl bench -am)
fi
echo "java: $JAVA" >&2
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx1g \
  -Dstrata.bench.dir="${STRATA_BENCH_DIR:-/tmp}" \
  -cp "$jar" dev.strata.bench.torture.KillNineTorture "$@"
