package dev.strata.bench.peers;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the peer benchmark's smoke mode (tiny sizes, seconds per side) against every side that is
 * available, and checks what it produced: rows loaded, searches with hits, ratios computed, files
 * written. Never a timing. PostgreSQL runs when it is installed; with {@code STRATA_REQUIRE_PG=1}
 * (CI) a PostgreSQL that is missing or does not start fails the test.
 */
class PeerBenchmarkSmokeTest {
  @TempDir Path scratch;
  @TempDir Path out;

  @Test
  void smokeModeRunsEverySideAndReportsRatios() throws Exception {
    assumeTrue(Files.isRegularFile(Corpus.defaultPath()), "corpus missing: " + Corpus.defaultPath());
    boolean requirePg = "1".equals(System.getenv("STRATA_REQUIRE_PG"));
    boolean pgInstalled = PostgresInstance.findBinDir().isPresent();
    if (requirePg) {
      assertThat(pgInstalled).as("STRATA_REQUIRE_PG=1 but no pg_ctl in %s", PostgresInstance.BIN_DIRS).isTrue();
    }
    PeerConfig config = PeerConfig.smoke();
    PeerReport report = new PeerBenchmark(config, scratch, true, requirePg).run();

    boolean pg = report.sides("get").contains("PostgreSQL");
    if (pgInstalled) {
      assertThat(pg).as("PostgreSQL is installed, so it must have run: %s", report.notes()).isTrue();
    }
    List<String> network = pg ? List.of("Strata", "PostgreSQL") : List.of("Strata");
    List<String> ping = pg ? List.of("Strata", "gRPC echo", "PostgreSQL") : List.of("Strata", "gRPC echo");
    assertThat(report.sides("ping")).containsExactlyElementsOf(ping);
    List<String> batchGet = pg ? List.of("Strata", "Strata, fields decoded", "PostgreSQL") : List.of("Strata", "Strata, fields decoded");
    assertThat(report.sides("batchget")).containsExactlyElementsOf(batchGet);
    assertThat(report.sides("get")).containsAll(network).contains("RocksDB");
    assertThat(report.sides("search")).containsExactlyElementsOf(network);
    assertThat(report.sides("ingest")).containsAll(network).contains("RocksDB");
    assertThat(report.sides("search-inprocess"))
        .containsExactly("Strata engine", "Lucene", "Lucene count to 10,000", "Lucene exact count");

    for (PeerReport.Measurement m : report.measurements()) {
      assertThat(m.ops()).as("calls completed in %s", m).isPositive();
      if (!m.workload().equals("ingest")) { // a write may meet back-pressure on a loaded CI machine
        assertThat(m.errors()).as("failed calls in %s", m).isZero();
      }
      if (m.workload().equals("get")) {
        assertThat(m.units()).as("every id read exists: %s", m).isEqualTo(m.ops());
      }
      if (m.workload().equals("batchget")) {
        assertThat(m.units()).as("every distinct id read exists: %s", m).isEqualTo(m.ops() * PeerConfig.BATCH_GET_IDS);
      }
      if (m.workload().startsWith("search")) {
        assertThat(m.units()).as("searches return hits: %s", m).isPositive();
      }
      if (m.workload().equals("search-inprocess")) {
        assertThat(m.clientCpuUsPerOp()).as("CPU per in-process query: %s", m).isPositive();
      }
      if (m.workload().equals("ingest")) {
        assertThat(m.units()).as("documents written: %s", m).isEqualTo(m.ops() * m.batchDocs());
      }
    }
    int c = config.getClients()[0];
    for (String side : report.sides("get").subList(1, report.sides("get").size())) {
      assertThat(PeerReport.ratio(report.median("get", "Strata", c, 0, PeerReport.Measurement::opsPerSec),
          report.median("get", side, c, 0, PeerReport.Measurement::opsPerSec))).as("Strata / %s", side).isPositive();
    }
    long forkSizes = config.forkScales().length;
    assertThat(report.timings()).hasSize((int) (forkSizes * config.forkReps() * 2 * (pg ? 3 : 1)));
    assertThat(report.timings()).allSatisfy(t -> assertThat(t.millis()).isPositive());
    assertThat(report.info()).containsKey("strata segments after load");
    RecoveryBenchmarkSmokeTest.checkRecoveries(report, config);

    String md = report.markdown();
    assertThat(md).contains("Workload 1", "Workload 2", "Workload 3", "Workload 5", "Workload 6", "Workload 7", "Workload 8",
        "Strata / RocksDB", "Strata / gRPC echo", "Goals of issue #13");
    if (pg) {
      assertThat(md).contains("Strata / PostgreSQL");
    }
    List<Path> files = report.write(out);
    assertThat(files).extracting(p -> p.getFileName().toString())
        .contains("peers.json", "peers-runs.csv", "peers-timings.csv", "peers-recovery.csv", "ingest-throughput.png", "get-p99.png");
    assertThat(Files.readAllLines(out.resolve("peers-runs.csv"))).hasSize(report.measurements().size() + 1);
    assertThat(Files.readString(out.resolve("peers.json"))).startsWith("{").contains("\"measurements\"");
    assertThat(Files.size(out.resolve("get-throughput.png"))).isPositive();
    try (var left = Files.list(scratch)) {
      assertThat(left.toList()).as("scratch directories left behind").isEmpty();
    }
  }
}
