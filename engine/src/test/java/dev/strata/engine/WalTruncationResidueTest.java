package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import dev.strata.wal.WalOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A flush truncates the fork's WAL with one directory fsync (issue 12), so a power loss may keep
 * any subset of the deletions and leave a gap among the old segments. The fork replays its WAL
 * from the oldest record (issue 16: a merge's batches may lie below the covered LSN), so it must
 * still recognise that gap as residue of the truncation (it lies below the head's covered LSN)
 * instead of refusing the fork as if acknowledged records were missing.
 */
class WalTruncationResidueTest {
  @TempDir Path dir;

  @Test
  void aForkOpensAfterAPowerLossKeptOnlySomeOfATruncationsDeletions() throws Exception {
    EngineOptions options =
        EngineFixture.testOptions()
            .wal(WalOptions.builder().segmentBytes(512).syncIntervalMs(3_600_000).build())
            .build();
    Map<Path, byte[]> before = new LinkedHashMap<>();
    Path walDir;
    try (EngineFixture fx = new EngineFixture(dir, options)) {
      Fork main = fx.engine.fork(StrataEngine.MAIN);
      main.createOrGetCollection("docs", SCHEMA);
      for (int i = 0; i < 60; i++) {
        main.write("docs", put(doc("d" + i, "body number " + i, "t", i)), Durability.SYNC);
      }
      walDir = dir.resolve("forks").resolve(main.id()).resolve("wal");
      List<Path> segments = walSegments(walDir);
      assertThat(segments).hasSizeGreaterThan(6);
      for (Path p : segments) {
        before.put(p, Files.readAllBytes(p));
      }
      Manifest snap = main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
      main.write("docs", put(doc("after", "written after the flush", "t", 99)), Durability.SYNC);
      assertThat(snap.getCoveredLsn()).isGreaterThan(60);
      // The finalizer truncates the WAL after it resolves the ticket (SPEC §5.9): wait for it.
      Path w = walDir;
      Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> walSegments(w).size() < segments.size());
    }
    // The power loss kept the deletions of all but the oldest segment and one in the middle.
    List<Path> old = new ArrayList<>(before.keySet());
    for (Path p : List.of(old.get(0), old.get(old.size() / 2))) {
      Files.write(p, before.get(p));
    }
    try (EngineFixture fx = new EngineFixture(dir, options)) {
      Fork main = fx.engine.fork(StrataEngine.MAIN);
      assertThat(main.stats().readOnlyReason()).isNull();
      for (int i = 0; i < 60; i++) {
        assertThat(EngineFixture.body(main.get("docs", "d" + i).document())).isEqualTo("body number " + i);
      }
      assertThat(EngineFixture.body(main.get("docs", "after").document())).isEqualTo("written after the flush");
      assertThat(walSegments(walDir)).doesNotContain(old.get(0), old.get(old.size() / 2));
      main.write("docs", put(doc("later", "still writable", "t", 100)), Durability.SYNC);
    }
    try (EngineFixture fx = new EngineFixture(dir, options)) {
      Fork main = fx.engine.fork(StrataEngine.MAIN);
      assertThat(EngineFixture.body(main.get("docs", "later").document())).isEqualTo("still writable");
    }
  }

  private static List<Path> walSegments(Path walDir) throws Exception {
    try (Stream<Path> s = Files.list(walDir)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".wal")).sorted().toList();
    }
  }
}
