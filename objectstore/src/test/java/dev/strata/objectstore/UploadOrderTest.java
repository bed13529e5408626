package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.ManifestCodec;
import dev.strata.manifest.proto.Manifest;
import dev.strata.objectstore.proto.UploadedManifest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Upload order under load with injected S3 failures and stalls: no manifest object is ever visible
 * before the segments it names, manifests arrive in seq order, and no snapshot is skipped.
 */
class UploadOrderTest extends BucketTest {
  @Test
  void manifestsFollowTheirSegmentsInSeqOrderUnderFailures() throws Exception {
    ObjectStoreConfig cfg = s3.config("order");
    BucketLayout layout = new BucketLayout(cfg.prefix());
    AtomicInteger injected = new AtomicInteger();
    FaultInjectingObjectStore faulty = new FaultInjectingObjectStore(S3ObjectStore.open(cfg))
        .failWhen(r -> {
          boolean f = (r.op().equals("PUT") && r.n() % 3 == 0) || (r.op().equals("LIST") && r.n() % 5 == 0);
          if (f) {
            injected.incrementAndGet();
          }
          return f;
        });
    // A reader on "another node" polls the bucket the whole time and checks every manifest it sees.
    List<String> violations = new CopyOnWriteArrayList<>();
    AtomicBoolean stopObserver = new AtomicBoolean();
    Thread observer = new Thread(() -> observe(layout, violations, stopObserver), "observer");
    observer.start();
    try (StrataEngine engine = TierHarness.openEngine(tmp.resolve("data"));
        ObjectStorageTier tier = ObjectStorageTier.start(engine, faulty, cfg)) {
      Fork main = engine.fork("main");
      int next = 0;
      for (int i = 0; i < 12; i++) {
        TierHarness.writeBatch(main, next, 40);
        next += 40;
        TierHarness.flush(main);
        if (i == 5) {
          Fork b = engine.createFork("b", null, "main", false, 10_000);
          TierHarness.writeBatch(b, 100_000, 30);
          TierHarness.flush(b);
        }
      }
      Fork b = engine.fork("b");
      TierHarness.writeBatch(b, 200_000, 30);
      TierHarness.flush(b);
      for (Fork f : List.of(main, b)) {
        tier.awaitUploaded(f.id(), f.head().orElseThrow().getSeq()).get(120, TimeUnit.SECONDS);
      }
      stopObserver.set(true);
      observer.join(10_000);
      assertThat(violations).isEmpty();
      assertThat(injected.get()).as("failures were injected").isGreaterThan(3);

      // Every published snapshot is in the bucket, byte for byte, none skipped.
      for (Fork f : List.of(main, b)) {
        TreeMap<Long, UploadedManifest> up = TierHarness.uploaded(raw, layout, f.id());
        List<Long> local = f.listSnapshots().stream().map(Manifest::getSeq).toList();
        assertThat(up.keySet()).containsExactlyElementsOf(local);
        for (Manifest m : f.listSnapshots()) {
          assertThat(ManifestCodec.decode(up.get(m.getSeq()).getManifestFile().toByteArray(), Path.of("x"))).isEqualTo(m);
        }
        assertThat(tier.lag().get(f.name()).snapshotsPending()).isZero();
        assertThat(tier.lag().get(f.name()).bytesPending()).isZero();
      }
      // In the order PUTs succeeded: each manifest after the bundles it names, per fork in seq order.
      List<String> puts = faulty.successfulPuts();
      Map<String, Long> lastSeqByFork = new java.util.HashMap<>();
      Set<String> bundlesSoFar = new HashSet<>();
      for (String key : puts) {
        String rel = layout.relative(key);
        if (rel.startsWith(BucketLayout.SEGMENTS)) {
          bundlesSoFar.add(rel);
        } else if (rel.startsWith(BucketLayout.FORKS)) {
          String forkId = rel.split("/")[1];
          long seq = BucketLayout.seqOfManifestKey(rel).orElseThrow();
          Long prev = lastSeqByFork.put(forkId, seq);
          assertThat(prev == null || prev < seq).as("seq order of %s", key).isTrue();
          UploadedManifest um = UploadedManifest.parseFrom(raw.get(key).orElseThrow());
          assertThat(bundlesSoFar).as("bundles before %s", key).containsAll(um.getSegmentKeysMap().values());
        }
      }
      // Segments shared by the fork and its base were uploaded once.
      long bundles = puts.stream().filter(k -> layout.relative(k).startsWith(BucketLayout.SEGMENTS)).count();
      assertThat(bundles).isEqualTo(new HashSet<>(puts).stream().filter(k -> layout.relative(k).startsWith(BucketLayout.SEGMENTS)).count());
    } finally {
      stopObserver.set(true);
      observer.join(10_000);
    }
  }

  @Test
  void aStalledManifestHoldsBackEveryLaterOne() throws Exception {
    ObjectStoreConfig cfg = s3.config("stall");
    BucketLayout layout = new BucketLayout(cfg.prefix());
    FaultInjectingObjectStore faulty = new FaultInjectingObjectStore(S3ObjectStore.open(cfg))
        .stallWhen(r -> r.op().equals("PUT") && r.key().contains("/manifests/"));
    try (StrataEngine engine = TierHarness.openEngine(tmp.resolve("data"));
        ObjectStorageTier tier = ObjectStorageTier.start(engine, faulty, cfg)) {
      Fork main = engine.fork("main");
      TierHarness.writeBatch(main, 0, 20);
      Manifest first = TierHarness.flush(main);
      assertThat(faulty.awaitStall(30_000)).isTrue();
      List<Manifest> later = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        TierHarness.writeBatch(main, i * 100, 20);
        later.add(TierHarness.flush(main));
      }
      Thread.sleep(3 * ObjectStorageTier.TICK_MS);
      assertThat(raw.list(layout.manifestsPrefix(main.id()))).isEmpty();
      assertThat(tier.awaitUploaded(main.id(), first.getSeq())).isNotDone();
      UploadLag lag = tier.lag().get("main");
      assertThat(lag.snapshotsPending()).isEqualTo(4);
      assertThat(lag.bytesPending()).isGreaterThan(0);
      faulty.release();
      tier.awaitUploaded(main.id(), later.get(2).getSeq()).get(60, TimeUnit.SECONDS);
      assertThat(TierHarness.uploaded(raw, layout, main.id()).keySet())
          .containsExactly(first.getSeq(), later.get(0).getSeq(), later.get(1).getSeq(), later.get(2).getSeq());
    }
  }

  private void observe(BucketLayout layout, List<String> violations, AtomicBoolean stop) {
    Set<String> checked = new HashSet<>();
    while (!stop.get()) {
      try {
        for (ObjectStore.ObjectInfo o : raw.list(layout.key(BucketLayout.FORKS))) {
          if (!o.key().endsWith(BucketLayout.MANIFEST_SUFFIX) || !checked.add(o.key())) {
            continue;
          }
          UploadedManifest um = UploadedManifest.parseFrom(raw.get(o.key()).orElseThrow());
          for (String rel : um.getSegmentKeysMap().values()) {
            if (raw.list(layout.key(rel)).isEmpty()) {
              violations.add(o.key() + " names " + rel + ", which is not in the bucket");
            }
          }
        }
        Thread.sleep(20);
      } catch (Exception e) {
        violations.add("observer failed: " + e);
        return;
      }
    }
  }
}
