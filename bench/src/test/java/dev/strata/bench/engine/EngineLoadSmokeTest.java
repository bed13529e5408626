package dev.strata.bench.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the load generator's smoke mode (a few seconds) and checks only that it produced results:
 * never a timing (CI would turn flaky), nor the absence of engine errors (they are reported in the
 * results, which is the generator's job; engine tests own correctness).
 */
class EngineLoadSmokeTest {
  @TempDir Path scratch;

  @Test
  void smokeModeProducesResults() throws Exception {
    EngineLoad.Config config = EngineLoad.Config.smoke();
    EngineLoad.Report report = new EngineLoad(config, scratch).run();

    assertThat(report.puts()).hasSize(2 * config.putBatchDocs().length * config.putReps());
    assertThat(report.flushes()).hasSize(config.maxPendingFlushes().length * config.flushReps());
    for (EngineLoad.PutRun p : report.puts()) {
      assertThat(p.docs()).as("documents written by %s", p).isPositive();
    }
    for (EngineLoad.FlushRun f : report.flushes()) {
      assertThat(f.docs()).as("documents written by %s", f).isPositive();
      assertThat(f.tickets() + f.ticketErrors()).as("tickets issued in %s", f).isPositive();
    }
    assertThat(EngineLoad.toMarkdown(report)).contains("| SYNC |", "| ASYNC |");
    assertThat(EngineLoad.toJson(report)).startsWith("{").contains("\"flushes\"");
    assertThat(scratch).isEmptyDirectory();
  }
}
