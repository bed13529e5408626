package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Two servers on one prefix: the second refuses while the first lives; a superseded writer stops. */
class WriterFenceTest extends BucketTest {
  @Test
  void aSecondServerOnTheSamePrefixRefusesToWrite() throws Exception {
    ObjectStoreConfig cfg = s3.config("shared");
    try (StrataEngine a = TierHarness.openEngine(tmp.resolve("a"));
        ObjectStorageTier tierA = ObjectStorageTier.start(a, cfg);
        StrataEngine b = TierHarness.openEngine(tmp.resolve("b"))) {
      assertThatThrownBy(() -> ObjectStorageTier.start(b, cfg))
          .isInstanceOf(WriterFencedException.class)
          .hasMessageContaining("s3://strata-test/shared is held by another live writer: generation 1")
          .hasMessageContaining(tmp.resolve("a").toAbsolutePath().toString())
          .hasMessageContaining("Two servers must not write one prefix");
      // The first keeps writing.
      Fork main = a.fork("main");
      TierHarness.writeBatch(main, 0, 10);
      Manifest m = TierHarness.flush(main);
      tierA.awaitUploaded(main.id(), m.getSeq()).get(30, TimeUnit.SECONDS);
      assertThat(raw.list(new BucketLayout("shared").generationsPrefix())).hasSize(1);
    }
  }

  @Test
  void aWriterTakenOverStopsUploadingAndFailsItsTickets() throws Exception {
    ObjectStoreConfig cfg = s3.config("takeover");
    // A's heartbeats stall (a paused process), so its lease runs out while it still runs.
    FaultInjectingObjectStore aStore = new FaultInjectingObjectStore(S3ObjectStore.open(cfg));
    try (StrataEngine a = TierHarness.openEngine(tmp.resolve("a"));
        ObjectStorageTier tierA = ObjectStorageTier.start(a, aStore, cfg)) {
      aStore.stallWhen(r -> r.op().equals("PUT") && r.key().contains("/generations/"));
      Fork mainA = a.fork("main");
      TierHarness.writeBatch(mainA, 0, 10);
      Manifest first = TierHarness.flush(mainA);
      tierA.awaitUploaded(mainA.id(), first.getSeq()).get(30, TimeUnit.SECONDS);
      Thread.sleep(cfg.leaseMs() + 500);
      try (StrataEngine b = TierHarness.openEngine(tmp.resolve("b"));
          ObjectStorageTier tierB = ObjectStorageTier.start(b, cfg)) {
        assertThat(tierB.writerGeneration()).isEqualTo(2);
        TierHarness.writeBatch(mainA, 100, 10);
        Manifest second = TierHarness.flush(mainA);
        assertThatThrownBy(() -> tierA.awaitUploaded(mainA.id(), second.getSeq()).get(30, TimeUnit.SECONDS))
            .isInstanceOf(ExecutionException.class)
            .cause()
            .isInstanceOf(StrataException.class)
            .hasMessageContaining("was taken over by generation 2");
        assertThat(tierA.fencedBy()).contains("taken over by generation 2");
        assertThat(TierHarness.uploaded(raw, new BucketLayout("takeover"), mainA.id())).containsOnlyKeys(first.getSeq());
      } finally {
        aStore.release();
      }
    }
  }
}
