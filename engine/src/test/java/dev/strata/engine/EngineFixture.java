package dev.strata.engine;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.vfs.FaultInjectingVfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Opens engines on one temporary data directory through a {@link FaultInjectingVfs}, and reopens
 * them after a clean close or a simulated crash. Test helper; not thread-safe.
 */
public final class EngineFixture implements AutoCloseable {
  /** The schema every engine test uses: TEXT body, KEYWORD tag, LONG n. */
  public static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("body", FieldKind.TEXT),
              FieldSpec.of("tag", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG)));

  public final Path dir;
  public FaultInjectingVfs vfs = new FaultInjectingVfs();
  public EngineOptions options;
  public StrataEngine engine;

  public EngineFixture(Path dir, EngineOptions options) throws IOException {
    this.dir = dir;
    this.options = options;
    this.engine = StrataEngine.open(dir, vfs, options);
  }

  /**
   * Options for tests: no interval flush (tests flush explicitly), no background compaction (tests
   * count segments; compaction tests turn it on), short timeouts.
   */
  public static EngineOptions.Builder testOptions() {
    return EngineOptions.builder()
        .compaction(dev.strata.engine.compaction.CompactionOptions.defaults().withEnabled(false))
        .flushIntervalMs(0)
        .writeStallTimeoutMs(2_000)
        .streamTimeoutMs(30_000)
        .retryBackoffMs(10)
        .streamThreads(4)
        .blockCacheBytes(8L << 20);
  }

  /** Clean close, then open again. */
  public StrataEngine reopen() throws IOException {
    engine.close();
    vfs = new FaultInjectingVfs();
    engine = StrataEngine.open(dir, vfs, options);
    return engine;
  }

  /** Simulated kill -9 (unsynced WAL and manifest bytes are lost), then open again. */
  public StrataEngine crashAndReopen() throws Exception {
    FaultInjectingVfs crashed = vfs;
    engine.haltForTesting(
        () -> {
          crashed.crash();
          return null;
        });
    vfs = new FaultInjectingVfs();
    engine = StrataEngine.open(dir, vfs, options);
    return engine;
  }

  public static Document doc(String id, String body, String tag, long n) {
    Map<String, FieldValue> f = new LinkedHashMap<>();
    f.put("body", new FieldValue.Str(body));
    f.put("tag", new FieldValue.Str(tag));
    f.put("n", new FieldValue.Int64(n));
    return new Document(id, f);
  }

  public static List<Mutation> put(Document... docs) {
    return java.util.Arrays.stream(docs).<Mutation>map(Mutation.Put::new).toList();
  }

  public static String body(Document d) {
    return ((FieldValue.Str) d.fields().get("body")).value();
  }

  @Override
  public void close() {
    if (engine != null) {
      engine.close();
    }
  }
}
