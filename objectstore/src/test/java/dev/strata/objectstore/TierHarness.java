package dev.strata.objectstore;

import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.manifest.proto.Manifest;
import dev.strata.objectstore.proto.UploadedManifest;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Engines and writes for the tier's tests. */
final class TierHarness {
  static final CollectionSchema SCHEMA =
      new CollectionSchema(List.of(FieldSpec.of("body", FieldKind.TEXT), FieldSpec.of("tag", FieldKind.KEYWORD),
          FieldSpec.of("n", FieldKind.LONG)));

  private TierHarness() {}

  /** An engine for tests: no interval flush, no background compaction. */
  static StrataEngine openEngine(Path dir) throws IOException {
    return StrataEngine.open(dir, LocalVfs.INSTANCE, options().build());
  }

  static EngineOptions.Builder options() {
    return EngineOptions.builder()
        .compaction(CompactionOptions.defaults().withEnabled(false))
        .flushIntervalMs(0)
        .writeStallTimeoutMs(10_000)
        .retryBackoffMs(10)
        .streamThreads(2)
        .blockCacheBytes(8L << 20);
  }

  static Document doc(String id, String body, String tag, long n) {
    Map<String, FieldValue> f = new LinkedHashMap<>();
    f.put("body", new FieldValue.Str(body));
    f.put("tag", new FieldValue.Str(tag));
    f.put("n", new FieldValue.Int64(n));
    return new Document(id, f);
  }

  /** Writes documents {@code from..from+count-1} of collection "docs" in one Write. */
  static void writeBatch(Fork fork, int from, int count) {
    fork.createOrGetCollection("docs", SCHEMA);
    List<Mutation> m = new ArrayList<>();
    for (int i = from; i < from + count; i++) {
      m.add(new Mutation.Put(doc(String.format("doc-%06d", i), "body of document " + i + " word" + (i % 17), "t" + (i % 5), i)));
    }
    fork.write("docs", m, Durability.SYNC);
  }

  /** Flushes {@code fork} and waits for the snapshot. */
  static Manifest flush(Fork fork) throws Exception {
    FlushTicket t = fork.flush(10_000);
    return fork.awaitTicket(t).get(60, TimeUnit.SECONDS);
  }

  /** Uploaded manifests under {@code layout} for {@code forkId}, by seq (highest generation wins). */
  static TreeMap<Long, UploadedManifest> uploaded(ObjectStore raw, BucketLayout layout, String forkId) throws IOException {
    TreeMap<Long, UploadedManifest> out = new TreeMap<>();
    for (ObjectStore.ObjectInfo o : raw.list(layout.manifestsPrefix(forkId))) {
      if (!o.key().endsWith(BucketLayout.MANIFEST_SUFFIX)) {
        // s3proxy's filesystem backend lists the temporary file of a PUT cut off mid-body
        // ("<key>-<uuid>"); S3 never shows a partial object. The tier skips such keys too.
        continue;
      }
      long seq = BucketLayout.seqOfManifestKey(o.key()).orElseThrow();
      out.put(seq, UploadedManifest.parseFrom(raw.get(o.key()).orElseThrow()));
    }
    return out;
  }
}
