package dev.strata.bench.torture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Five cycles of {@code bench/run-torture.sh} (kill -9 during writes, flushes and compactions,
 * restart, exact check), as CI runs them: nothing acknowledged lost, nothing corrupted or
 * resurrected, Verify clean after every restart. Never a timing.
 */
class KillNineTortureSmokeTest {
  @TempDir Path dir;

  @Test
  void fiveKillNineCyclesLoseNothing() throws Exception {
    long seed = System.nanoTime();
    KillNineTorture.Options o = new KillNineTorture.Options(5, 3, 100, seed, 800, dir, null);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    KillNineTorture.Report r = new KillNineTorture(o, new PrintStream(out, true, StandardCharsets.UTF_8)).run();
    String why = "seed " + seed + ": " + r.summary() + "\n" + String.join("\n", r.examples()) + "\n" + out.toString(StandardCharsets.UTF_8);
    assertThat(r.cycles()).as(why).isEqualTo(5);
    assertThat(r.acknowledgedMutations()).as(why).isPositive();
    assertThat(r.restartMs().size()).as(why).isEqualTo(5);
    assertThat(r.lost()).as(why).isZero();
    assertThat(r.corrupted()).as(why).isZero();
    assertThat(r.resurrected()).as(why).isZero();
    assertThat(r.verifyProblems()).as(why).isZero();
    assertThat(r.unexpectedErrors()).as(why).isZero();
    assertThat(r.clean()).as(why).isTrue();
  }
}
