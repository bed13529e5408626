package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.objectstore.proto.UploadedManifest;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * A crash (uploads halted and the engine abandoned, as kill -9) at every PUT of an upload run, then
 * a restart: uploads resume where they stopped, every snapshot ends up in the bucket in order,
 * nothing visible names a missing segment, and the only objects no manifest names are bundles the
 * crashed generation wrote after its last manifest (what bucket GC will collect).
 */
class CrashResumeTest extends BucketTest {
  @Test
  void crashAtEveryPutThenResume() throws Exception {
    Path data = tmp.resolve("data");
    try (StrataEngine engine = TierHarness.openEngine(data)) {
      Fork main = engine.fork("main");
      for (int i = 0; i < 3; i++) {
        TierHarness.writeBatch(main, i * 50, 50);
        TierHarness.flush(main);
      }
    }
    // PUTs of a full run after the generation record: 3 x (bundle, manifest) and the catalog = 7.
    for (int crashAt = 1; crashAt <= 7; crashAt++) {
      ObjectStoreConfig cfg = s3.config("crash-" + crashAt, 0);
      BucketLayout layout = new BucketLayout(cfg.prefix());
      AtomicInteger puts = new AtomicInteger();
      int target = crashAt;
      FaultInjectingObjectStore faulty = new FaultInjectingObjectStore(S3ObjectStore.open(cfg))
          .stallWhen(r -> r.op().equals("PUT") && !r.key().contains("/generations/") && puts.incrementAndGet() == target);
      StrataEngine engine = TierHarness.openEngine(data);
      ObjectStorageTier tier = ObjectStorageTier.start(engine, faulty, cfg);
      boolean stalled = faulty.awaitStall(30_000);
      assertThat(stalled).as("PUT #%d stalled", crashAt).isTrue();
      tier.haltForTesting();
      engine.haltForTesting(() -> null);
      Set<String> beforeRestart = keys(layout);

      try (StrataEngine again = TierHarness.openEngine(data);
          ObjectStorageTier resumed = ObjectStorageTier.start(again, S3ObjectStore.open(cfg), cfg)) {
        Fork main = again.fork("main");
        resumed.awaitUploaded(main.id(), main.head().orElseThrow().getSeq()).get(60, TimeUnit.SECONDS);
        TreeMap<Long, UploadedManifest> up = TierHarness.uploaded(raw, layout, main.id());
        assertThat(up.keySet()).as("crash at PUT #%d", crashAt)
            .containsExactlyElementsOf(main.listSnapshots().stream().map(Manifest::getSeq).toList());
        Set<String> all = keys(layout);
        Set<String> named = new HashSet<>();
        for (UploadedManifest um : up.values()) {
          for (String rel : um.getSegmentKeysMap().values()) {
            assertThat(all).as("crash at PUT #%d", crashAt).contains(layout.key(rel));
            named.add(layout.key(rel));
          }
        }
        // Manifests already committed before the crash were not uploaded again.
        for (String k : beforeRestart) {
          if (k.contains("/manifests/")) {
            assertThat(BucketLayout.generationOf(k)).hasValue(1);
          }
        }
        assertThat(all.stream().filter(k -> k.endsWith(BucketLayout.MANIFEST_SUFFIX)).count()).isEqualTo(up.size());
        // Unnamed objects: only bundles of generation 1 (orphans of the crash).
        for (String k : all) {
          String rel = layout.relative(k);
          if (rel.startsWith(BucketLayout.SEGMENTS) && !named.contains(k)) {
            assertThat(BucketLayout.generationOf(k)).as("orphan %s", k).hasValue(1);
            assertThat(beforeRestart).contains(k);
          }
        }
        assertThat(resumed.writerGeneration()).isEqualTo(2);
        // Bucket GC (grace 0 here) removes the orphans: what is left is exactly what manifests name.
        resumed.collectGarbageNow();
        Set<String> bundlesLeft = new HashSet<>();
        for (String k : keys(layout)) {
          if (layout.relative(k).startsWith(BucketLayout.SEGMENTS)) {
            bundlesLeft.add(k);
          }
        }
        assertThat(bundlesLeft).as("crash at PUT #%d", crashAt).isEqualTo(named);
      }
    }
  }

  private Set<String> keys(BucketLayout layout) throws Exception {
    Set<String> out = new HashSet<>();
    for (ObjectStore.ObjectInfo o : raw.list(layout.key(""))) {
      out.add(o.key());
    }
    return out;
  }
}
