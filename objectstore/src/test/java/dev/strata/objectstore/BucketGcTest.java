package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.retention.RetentionOptions;
import dev.strata.manifest.proto.Manifest;
import dev.strata.objectstore.proto.UploadedManifest;
import dev.strata.vfs.LocalVfs;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

/**
 * Bucket GC: after retention expires snapshots and compaction replaces their segments, their
 * manifests leave the bucket after the grace period, then the bundles only they named after a grace
 * of their own, and what stays is exactly what the retained manifests name; a restore of the head
 * still works.
 */
class BucketGcTest extends BucketTest {
  @Test
  void expiredSnapshotsAndReplacedSegmentsLeaveAfterTheGrace() throws Exception {
    long grace = 1_500;
    ObjectStoreConfig cfg = s3.config("gc", grace);
    BucketLayout layout = new BucketLayout("gc");
    try (StrataEngine engine = StrataEngine.open(tmp.resolve("data"), LocalVfs.INSTANCE,
            TierHarness.options().retention(new RetentionOptions(1, 0, 3_600_000)).build());
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      Fork main = engine.fork("main");
      for (int i = 0; i < 4; i++) {
        TierHarness.writeBatch(main, i * 30, 30);
        TierHarness.flush(main);
      }
      engine.compact("main", true).get(60, TimeUnit.SECONDS);
      Manifest head = main.head().orElseThrow();
      assertThat(head.getSegmentsCount()).isEqualTo(1);
      tier.awaitUploaded(main.id(), head.getSeq()).get(60, TimeUnit.SECONDS);
      assertThat(TierHarness.uploaded(raw, layout, main.id())).hasSize(5);
      assertThat(raw.list(layout.segmentsPrefix())).hasSize(5);

      long t0 = System.nanoTime(); // before anything can be unreferenced
      engine.runRetention(); // keeps only the head
      assertThat(main.listSnapshots()).extracting(Manifest::getSeq).containsExactly(head.getSeq());
      tier.collectGarbageNow();
      if (System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(grace)) {
        // Within the grace nothing is gone (a periodic pass may have run too: same rule).
        assertThat(TierHarness.uploaded(raw, layout, main.id())).hasSize(5);
        assertThat(raw.list(layout.segmentsPrefix())).hasSize(5);
      }
      // Manifests go after one grace; the bundles only they named after a grace of their own.
      Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
        tier.collectGarbageNow();
        TreeMap<Long, UploadedManifest> left = TierHarness.uploaded(raw, layout, main.id());
        Set<String> bundles = new HashSet<>();
        raw.list(layout.segmentsPrefix()).forEach(o -> bundles.add(o.key()));
        Set<String> named = new HashSet<>();
        left.values().forEach(um -> um.getSegmentKeysMap().values().forEach(rel -> named.add(layout.key(rel))));
        return left.keySet().equals(Set.of(head.getSeq())) && bundles.equals(named);
      });
      assertThat(System.nanoTime() - t0).as("at least two graces").isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(2 * grace));
    }
    SnapshotRestore.Report r = SnapshotRestore.restore(raw, "gc", tmp.resolve("restored"), "main", null, LocalVfs.INSTANCE);
    assertThat(r.segments()).isEqualTo(1);
  }
}
