package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A retained manifest that cannot be read at open (a bit flip, a transient EIO) may be the only
 * one naming a segment once compaction has replaced it in the head: recovery must not sweep it
 * as an orphan (the fork turns read-only instead, and GC stays off).
 */
class UnreadableManifestRecoveryTest {
  @TempDir Path dir;

  static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(2_000)).get(20, TimeUnit.SECONDS);
  }

  @Test
  void recoveryKeepsTheSegmentsOfAnUnreadableRetainedManifest() throws Exception {
    EngineFixture fx = new EngineFixture(dir, EngineFixture.testOptions()
        .retention(new RetentionOptions(100, 3_600_000, 3_600_000)).build());
    try {
      Fork main = fx.engine.fork("main");
      main.createOrGetCollection("docs", SCHEMA);
      main.write("docs", put(doc("a", "one", "t", 1)), Durability.SYNC);
      flush(main);
      main.write("docs", put(doc("a", "two", "t", 1)), Durability.SYNC);
      Manifest m2 = flush(main);
      String s2 = m2.getSegments(0).getSegmentId();
      var r = fx.engine.compact("main", true).get(30, TimeUnit.SECONDS);
      assertThat(r.published()).isPresent();
      Path segDir = dir.resolve("segments").resolve(s2);
      assertThat(Files.exists(segDir)).isTrue();
      // Corrupt (e.g. a transient EIO / a bit flip) the manifest of snapshot 2, which is the only one naming s2.
      Path mdir = ManifestStore.directoryFor(dir, main.id());
      Path f2 = null;
      try (var s = Files.list(mdir)) {
        for (Path p : s.toList()) {
          if (p.getFileName().toString().startsWith(String.format("%020d", m2.getSeq()))) f2 = p;
        }
      }
      byte[] b = Files.readAllBytes(f2);
      b[b.length / 2] ^= 0x5a;
      Files.write(f2, b);
      fx.reopen();
      Fork main2 = fx.engine.fork("main");
      assertThat(main2.segmentsKnown()).isFalse();
      assertThat(main2.readOnlyReason()).isNotNull();
      assertThat(Files.exists(segDir)).as("segment only named by the unreadable manifest").isTrue();
      assertThat(fx.engine.collectGarbage()).as("GC is off while a manifest is unreadable").isZero();
      assertThat(Files.exists(segDir)).isTrue();
    } finally {
      fx.close();
    }
  }
}
