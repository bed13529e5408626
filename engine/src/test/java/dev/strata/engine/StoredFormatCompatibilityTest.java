package dev.strata.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.wal.Durability;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data directory written by the engine before the stored form changed (commit a79fba1: segment
 * values of kind 1 holding a {@code StoredDocument} with its map at field 1, and WAL records whose
 * puts are {@code StoredDocument}s) opens and reads correctly, and keeps working as new data in the
 * new form lands beside it: flushes, a full compaction mixing both value kinds, a reopen.
 *
 * <p>The fixture {@code format1/datadir.zip} was made by {@code format1/Format1DataDir.java.txt}
 * run against that commit's {@code bench/target/benchmarks.jar} (its RocksDB {@code LOG} file
 * removed). It holds fork {@code main} with one flushed segment (d1, d2, d3 and a unicode id), then
 * in its WAL, unflushed: d2 rewritten, d3 deleted, a collection {@code other} defined with one
 * document, and d5; and fork {@code feature} made from main's first snapshot with f1 in its WAL.
 */
class StoredFormatCompatibilityTest {
  private static final String UNICODE_ID = "\u00e9t\u00e9-\ud83d\ude00";

  @TempDir Path dir;

  @Test
  void aFormat1DataDirectoryOpensReadsAndKeepsWorking() throws Exception {
    unzip("/format1/datadir.zip", dir);
    try (EngineFixture f = new EngineFixture(dir, EngineFixture.testOptions().build())) {
      checkEverything(f.engine, false);

      // New writes in the new form beside the old ones; then flush and merge both kinds of value.
      Fork main = f.engine.fork("main");
      main.write("docs", List.of(new Mutation.Put(doc("d6", "written in format 2", 6, 6.0))), Durability.SYNC);
      main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);
      f.engine.fork("feature").awaitTicket(f.engine.fork("feature").flush(10_000)).get(60, TimeUnit.SECONDS);
      checkEverything(f.engine, true);
      f.engine.compact("main", true).get(60, TimeUnit.SECONDS);
      checkEverything(f.engine, true);
      assertThat(f.engine.verify()).isEmpty();

      f.reopen();
      checkEverything(f.engine, true);
      assertThat(f.engine.verify()).isEmpty();
    }
  }

  private static void checkEverything(StrataEngine engine, boolean withD6) throws IOException {
    Fork main = engine.fork("main");
    assertStored(main.get("docs", "d1"), d1());
    assertStored(main.get("docs", "d2"), doc("d2", "lazy dog, rewritten", 22, 2.5));
    assertThat(main.get("docs", "d3")).as("deleted in the WAL").isNull();
    assertStored(main.get("docs", UNICODE_ID), doc(UNICODE_ID, "unicode id", 4, 4.25));
    assertStored(
        main.get("docs", "d5"),
        doc("d5", "replayed from the WAL", 5, 5.5, "list", new FieldValue.StrList(List.of("a", "\u00e9", ""))));
    Map<String, FieldValue> o = new LinkedHashMap<>();
    o.put("body", new FieldValue.Str("in another collection"));
    assertStored(main.get("other", "o1"), new Document("o1", o));
    assertThat(main.collections().get("other")).isNotNull();
    assertThat(main.collections().get("docs").schema()).isEqualTo(SCHEMA);
    List<String> ids = main.scan("docs", "", 100, null).stream().map(e -> e.id()).toList();
    assertThat(ids).containsExactlyElementsOf(
        withD6 ? List.of("d1", "d2", "d5", "d6", UNICODE_ID) : List.of("d1", "d2", "d5", UNICODE_ID));
    if (withD6) {
      assertStored(main.get("docs", "d6"), doc("d6", "written in format 2", 6, 6.0));
      SearchResult quick = main.search("docs", SearchQuery.of("quick", 10), null);
      assertThat(quick.hits()).extracting(h -> h.id()).containsExactly("d1");
      assertThat(quick.hits().get(0).document()).isEqualTo(d1());
      SearchResult rewritten = main.search("docs", SearchQuery.of("rewritten", 10), null);
      assertThat(rewritten.hits()).extracting(h -> h.id()).containsExactly("d2");
    }

    Fork feature = engine.fork("feature");
    assertStored(feature.get("docs", "f1"), doc("f1", "only on the fork", 10, 10.0));
    assertStored(feature.get("docs", "d1"), d1());
    assertStored(feature.get("docs", "d3"), doc("d3", "to be deleted later", 3, 3.0));
    assertStored(feature.get("docs", "d2"), d2());
  }

  /** The version decodes to the expected document, and its stored bytes are the canonical form. */
  private static void assertStored(DocumentVersion v, Document expected) {
    assertThat(v).as("version of %s", expected.id()).isNotNull();
    assertThat(v.document()).isEqualTo(expected);
    assertThat(v.stored()).isEqualTo(EncodedDocument.of(expected));
  }

  private static Document d1() {
    return doc(
        "d1", "the quick brown fox", 1, 1.5,
        "note", new FieldValue.Str("stored only \u00e9\u6f22\ud83d\ude00"),
        "flag", new FieldValue.Bool(true),
        "raw", new FieldValue.Bytes(new byte[] {0, 1, 2, (byte) 255}));
  }

  private static Document d2() {
    return doc(
        "d2", "lazy dog", -7, -0.0,
        "nan", new FieldValue.Float64(Double.NaN),
        "inf", new FieldValue.Float64(Double.POSITIVE_INFINITY),
        "ninf", new FieldValue.Float64(Double.NEGATIVE_INFINITY),
        "empty", new FieldValue.StrList(List.of()),
        "max", new FieldValue.Int64(Long.MAX_VALUE),
        "min", new FieldValue.Int64(Long.MIN_VALUE));
  }

  /** As the generator builds them. */
  private static Document doc(String id, String body, long n, double x, Object... more) {
    Map<String, FieldValue> f = new LinkedHashMap<>();
    f.put("body", new FieldValue.Str(body));
    f.put("tag", new FieldValue.StrList(List.of("t-" + id, "common")));
    f.put("n", new FieldValue.Int64(n));
    f.put("x", new FieldValue.Float64(x));
    for (int i = 0; i < more.length; i += 2) {
      f.put((String) more[i], (FieldValue) more[i + 1]);
    }
    return new Document(id, f);
  }

  /** The schema the generator gave {@code docs}. */
  static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("body", FieldKind.TEXT),
              FieldSpec.of("tag", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG),
              FieldSpec.of("x", FieldKind.DOUBLE),
              FieldSpec.of("note", FieldKind.STORED)));

  private static void unzip(String resource, Path to) throws IOException {
    try (InputStream in = StoredFormatCompatibilityTest.class.getResourceAsStream(resource);
        ZipInputStream zip = new ZipInputStream(in)) {
      ZipEntry e;
      while ((e = zip.getNextEntry()) != null) {
        Path p = to.resolve(e.getName()).normalize();
        if (!p.startsWith(to)) {
          throw new IOException("zip entry outside the target: " + e.getName());
        }
        if (e.isDirectory()) {
          Files.createDirectories(p);
        } else {
          Files.createDirectories(p.getParent());
          Files.copy(zip, p);
        }
      }
    }
  }
}
