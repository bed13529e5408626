package dev.strata.bench.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the flush-limit benchmark on a few documents and checks that both sides flushed them and
 * reported a time, never what the time is (CI would turn flaky).
 */
class FlushLimitSmokeTest {
  @TempDir Path scratch;

  @Test
  void bothSidesFlushTheSameDocumentsAndReport() throws Exception {
    FlushLimit.Report r = new FlushLimit(scratch, 500).run(1, new int[] {0, 1});
    assertThat(r.runs()).hasSize(4);
    for (FlushLimit.Run run : r.runs()) {
      assertThat(run.docs()).isEqualTo(500);
      assertThat(run.bytes()).as("%s", run).isPositive();
      assertThat(run.ms()).as("%s", run).isPositive();
      assertThat(run.cpuMs()).as("%s", run).isPositive();
    }
    assertThat(r.runs()).extracting(FlushLimit.Run::side).containsOnly("raw", "strata");
    assertThat(FlushLimit.markdown(r)).contains("| 0 |", "| 1 |");
    assertThat(FlushLimit.toJson(r)).startsWith("{").contains("\"runs\"");
    assertThat(scratch).isEmptyDirectory();
  }
}
