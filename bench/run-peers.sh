#!/bin/sh
# Strata vs PostgreSQL 15, raw RocksDB and raw Lucene (issue #6): one command for everything.
# Builds bench/target/benchmarks.jar (with the reactor; never `mvn install`) if it is missing or
# STRATA_REBUILD=1, installs Debian's postgresql-15 if pg_ctl is missing (needs root), finds a
# JDK 21+ (find-jdk.sh) and runs dev.strata.bench.peers.PeerBenchmark. Default sizes take about
# 15-20 minutes on two cores and write bench/results/peers/ (peers.md, peers.json, peers-*.csv,
# PNG plots). Arguments go to PeerBenchmark:
#   --quick                 2 reps of 2 s, forks at one size (about 6-8 minutes)
#   --smoke                 tiny sizes, seconds (what PeerBenchmarkSmokeTest runs)
#   --reps N --seconds S    repetitions and measured window of every comparison
#   --only ping,get,batchget,search,search-inprocess,ingest,forks,flush,recovery    a subset of the
#                           workloads (search = over gRPC and in-process; search-inprocess = the
#                           in-process engine vs raw Lucene alone, no server or PostgreSQL started)
#   --recovery-mib M        unflushed WAL per kill -9 of the recovery workload (default 1024; quick 512)
#   --fork-scales 1,10      fork workload sizes in corpus copies (63,666 documents each)
#   --no-postgres | --require-postgres           skip PostgreSQL / fail if it cannot start
#   --out DIR               where results go (default bench/results/peers)
# Environment: STRATA_BENCH_DIR (scratch disk; default /tmp), STRATA_SERVER_JVM_ARGS (extra JVM
# options of the Strata server, e.g. -XX:StartFlightRecording=filename=/tmp/server.jfr).
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

if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ] && ! command -v pg_ctl >/dev/null 2>&1; then
  case " $* " in
    *" --no-postgres "*) ;;
    *)
      echo "installing postgresql-15 (Debian package)" >&2
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-15
      ;;
  esac
fi

cd "$root"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no -- engine server wal manifest proto bench 2>/dev/null)" ]; then
  commit="$commit+dirty"
fi
echo "java: $JAVA, commit $commit" >&2
exec "$JAVA" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx3g \
  -Dstrata.bench.commit="$commit" -Dstrata.bench.dir="${STRATA_BENCH_DIR:-/tmp}" \
  -Dstrata.bench.serverJvmArgs="${STRATA_SERVER_JVM_ARGS:-}" \
  -cp "$jar" dev.strata.bench.peers.PeerBenchmark "$@"
