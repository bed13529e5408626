package dev.strata.bench.peers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Workload 6 alone in smoke mode (a few MiB of WAL): both sides are killed with SIGKILL, restart,
 * find every acknowledged id checked, and the report has its table, goal and CSV. Never a timing.
 */
class RecoveryBenchmarkSmokeTest {
  @TempDir Path scratch;
  @TempDir Path out;

  @Test
  void killNineAndRestartOnBothSides() throws Exception {
    assumeTrue(Files.isRegularFile(Corpus.defaultPath()), "corpus missing: " + Corpus.defaultPath());
    PeerConfig config = PeerConfig.smoke().withWorkloads(Set.of("recovery"));
    PeerReport report = new PeerBenchmark(config, scratch, false, false).run();

    checkRecoveries(report, config);
    assertThat(report.measurements()).isEmpty(); // no other workload ran
    String md = report.markdown();
    assertThat(md).contains("Workload 6", "replay MiB/s", "WAL replay ≥ RocksDB's (MiB/s)");
    report.write(out);
    assertThat(Files.readAllLines(out.resolve("peers-recovery.csv"))).hasSize(report.recoveries().size() + 1);
    assertThat(Files.readString(out.resolve("peers.json"))).contains("\"recoveries\"", "\"replayMibPerSec\"");
    try (var left = Files.list(scratch)) {
      assertThat(left.toList()).as("scratch directories left behind").isEmpty();
    }
  }

  /** What every run of workload 6 must show, whatever the timings. */
  static void checkRecoveries(PeerReport report, PeerConfig config) {
    assertThat(report.sides("recovery")).containsExactlyInAnyOrder(
        RecoveryBenchmark.STRATA, RecoveryBenchmark.ROCKSDB, RecoveryBenchmark.ROCKSDB_NO_FLUSH);
    assertThat(report.recoveries()).hasSize(3 * config.recoveryReps());
    for (PeerReport.Recovery r : report.recoveries()) {
      assertThat(r.walBytes()).as("WAL at the kill: %s", r).isGreaterThanOrEqualTo((long) config.recoveryMib() << 20);
      assertThat(r.docs()).as("documents written: %s", r).isPositive();
      assertThat(r.recoveryMs()).as("recovery time: %s", r).isNotNaN().isGreaterThanOrEqualTo(0);
      assertThat(r.restartMs()).as("restart time: %s", r).isGreaterThanOrEqualTo(r.recoveryMs());
      assertThat(r.replayMibPerSec()).as("replay rate: %s", r).isPositive();
      assertThat(r.idsChecked()).isEqualTo(4);
      assertThat(r.idsFound()).as("acknowledged ids after kill -9: %s", r).isEqualTo(r.idsChecked());
    }
  }
}
