package dev.strata.bench.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the noisy-neighbour workload's smoke mode (a few seconds) and checks only that both
 * configurations produced results and that the slow neighbour's fsyncs really were slowed: never a
 * timing or a ratio (those are the bench's output, not a test's).
 */
class NoisyNeighbourSmokeTest {
  @TempDir Path scratch;

  @Test
  void smokeModeRunsBothConfigurations() throws Exception {
    NoisyNeighbour.Config config = NoisyNeighbour.Config.smoke();
    NoisyNeighbour.Report report = new NoisyNeighbour(config, scratch, new DocumentSource(1L)).run();

    assertThat(report.runs()).hasSize(2 * config.reps());
    for (NoisyNeighbour.Run r : report.runs()) {
      assertThat(r.bWrites()).as("B's writes in %s", r).isPositive();
      assertThat(r.bTickets()).as("B's tickets in %s", r).isPositive();
      if (r.slowNeighbour()) {
        assertThat(r.slowedSyncs()).as("A's slowed fsyncs in %s", r).isPositive();
        assertThat(r.aWrites()).as("A's writes in %s", r).isPositive();
      } else {
        assertThat(r.slowedSyncs()).isZero();
      }
    }
    assertThat(NoisyNeighbour.markdown(report)).contains("| B alone |", "| B beside slow A |");
    assertThat(scratch).isEmptyDirectory();
  }
}
