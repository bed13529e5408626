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

  /**
   * A dropped fork's objects leave the bucket: after the drop its writer writes a drop marker (after
   * the catalog without the fork), and GC deletes the fork's manifests after the grace, then the
   * bundles only they named, then the marker. A snapshot of a dropped fork that a live fork was
   * created from stays (its bundles too), so that fork still restores; main is untouched.
   */
  @Test
  void aDroppedForksObjectsLeaveButABaseOfALiveForkStays() throws Exception {
    long grace = 1_000;
    ObjectStoreConfig cfg = s3.config("drop", grace);
    BucketLayout layout = new BucketLayout("drop");
    String goneId;
    String midId;
    Manifest midHead;
    try (StrataEngine engine = StrataEngine.open(tmp.resolve("data"), LocalVfs.INSTANCE, TierHarness.options().build());
        ObjectStorageTier tier = ObjectStorageTier.start(engine, cfg)) {
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 40);
      Manifest mainHead = TierHarness.flush(main);
      Fork gone = engine.createFork("gone", null, "main", false, 10_000);
      TierHarness.writeBatch(gone, 1_000, 40);
      Manifest goneHead = TierHarness.flush(gone);
      Fork mid = engine.createFork("mid", null, "main", false, 10_000);
      TierHarness.writeBatch(mid, 2_000, 40);
      midHead = TierHarness.flush(mid);
      Fork child = engine.createFork("child", midHead.getId(), null, false, 10_000);
      goneId = gone.id();
      midId = mid.id();
      tier.awaitUploaded(main.id(), mainHead.getSeq()).get(60, TimeUnit.SECONDS);
      tier.awaitUploaded(gone.id(), goneHead.getSeq()).get(60, TimeUnit.SECONDS);
      tier.awaitUploaded(mid.id(), midHead.getSeq()).get(60, TimeUnit.SECONDS);
      Set<String> goneBundles = namedBy(layout, TierHarness.uploaded(raw, layout, goneId));
      Set<String> mainBundles = namedBy(layout, TierHarness.uploaded(raw, layout, main.id()));
      goneBundles.removeAll(mainBundles);
      assertThat(goneBundles).as("the segment only 'gone' wrote").hasSize(1);
      Set<String> mainManifests = Set.copyOf(TierHarness.uploaded(raw, layout, main.id()).keySet().stream()
          .map(seq -> layout.manifestKey(main.id(), seq, 0)).toList());

      engine.dropFork("gone", 10_000);
      engine.dropFork("mid", 10_000); // child's own first manifest is written before mid goes
      Manifest childHead = child.head().orElseThrow();
      tier.awaitUploaded(child.id(), childHead.getSeq()).get(60, TimeUnit.SECONDS);
      Awaitility.await().atMost(Duration.ofSeconds(30)).until(
          () -> raw.list(layout.key("forks/" + goneId + "/")).stream().anyMatch(o -> BucketLayout.isDroppedMarkerKey(o.key())));
      long markedAt = System.nanoTime();

      Awaitility.await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> {
        tier.collectGarbageNow();
        return raw.list(layout.key("forks/" + goneId + "/")).isEmpty()
            && raw.list(layout.segmentsPrefix()).stream().noneMatch(o -> goneBundles.contains(o.key()));
      });
      assertThat(System.nanoTime() - markedAt).as("not before the grace").isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(grace));
      // mid: only the snapshot child was made from is left, with its marker; main is whole.
      assertThat(TierHarness.uploaded(raw, layout, midId).keySet()).containsExactly(midHead.getSeq());
      assertThat(raw.list(layout.key("forks/" + midId + "/"))).anyMatch(o -> BucketLayout.isDroppedMarkerKey(o.key()));
      assertThat(TierHarness.uploaded(raw, layout, main.id()).keySet().stream()
          .map(seq -> layout.manifestKey(main.id(), seq, 0)).toList()).containsExactlyInAnyOrderElementsOf(mainManifests);
      Set<String> named = new HashSet<>();
      for (Fork f : engine.openForks()) {
        named.addAll(namedBy(layout, TierHarness.uploaded(raw, layout, f.id())));
      }
      named.addAll(namedBy(layout, TierHarness.uploaded(raw, layout, midId)));
      Set<String> bundles = new HashSet<>();
      raw.list(layout.segmentsPrefix()).forEach(o -> bundles.add(o.key()));
      assertThat(bundles).isEqualTo(named);
    }
    SnapshotRestore.Report r = SnapshotRestore.restore(raw, "drop", tmp.resolve("restored"), "child", null, LocalVfs.INSTANCE);
    assertThat(r.segments()).isEqualTo(midHead.getSegmentsCount());
  }

  private static Set<String> namedBy(BucketLayout layout, TreeMap<Long, UploadedManifest> manifests) {
    Set<String> named = new HashSet<>();
    manifests.values().forEach(um -> um.getSegmentKeysMap().values().forEach(rel -> named.add(layout.key(rel))));
    return named;
  }
}
