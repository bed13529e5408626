package dev.strata.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentBodyWriter;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.MutationRecord;
import dev.strata.engine.proto.WalEntry;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.vfs.LocalVfs;
import dev.strata.wal.Durability;
import dev.strata.wal.WalReader;
import dev.strata.wal.WalRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A document's stored bytes travel Write → WAL → L0 → SST → Get unchanged: the body the caller
 * encoded is the one in the WAL record, the one a read of L0 hands out, the one a read of the
 * flushed segment hands out, and the one replay puts back after a crash — byte for byte, for
 * documents with every field kind (strings with any Unicode, the int64 extremes, doubles including
 * NaN, -0.0 and both infinities, booleans, bytes with zeros, string lists, empty lists).
 */
class StoredFormRoundTripTest {
  private static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("body", FieldKind.TEXT),
              FieldSpec.of("tags", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG),
              FieldSpec.of("x", FieldKind.DOUBLE),
              FieldSpec.of("kept", FieldKind.STORED)));

  @TempDir Path dir;

  /** Every kind, and the values that trip codecs up. */
  static List<Document> everyKind() {
    List<Document> docs = new ArrayList<>();
    Map<String, FieldValue> a = new LinkedHashMap<>();
    a.put("body", new FieldValue.Str("Grüße, 世界 🌍 — \u0000 is not allowed in ids, but fine here\u0000"));
    a.put("tags", new FieldValue.StrList(List.of("zebra", "äpfel", "🍎", "")));
    a.put("n", new FieldValue.Int64(Long.MIN_VALUE));
    a.put("x", new FieldValue.Float64(-0.0));
    a.put("kept", new FieldValue.Bytes(new byte[] {0, 0, (byte) 0x80, (byte) 0xFF, 0}));
    a.put("nan", new FieldValue.Float64(Double.NaN));
    a.put("inf", new FieldValue.Float64(Double.POSITIVE_INFINITY));
    a.put("ninf", new FieldValue.Float64(Double.NEGATIVE_INFINITY));
    a.put("tiny", new FieldValue.Float64(Double.MIN_VALUE));
    a.put("yes", new FieldValue.Bool(true));
    a.put("no", new FieldValue.Bool(false));
    a.put("none", new FieldValue.StrList(List.of()));
    a.put("empty", new FieldValue.Str(""));
    a.put("nobytes", new FieldValue.Bytes(new byte[0]));
    a.put("max", new FieldValue.Int64(Long.MAX_VALUE));
    a.put("zero", new FieldValue.Int64(0));
    a.put("Zupper", new FieldValue.Str("upper-case names sort before lower-case ones"));
    docs.add(new Document("every-kind", a));
    Map<String, FieldValue> b = new LinkedHashMap<>();
    b.put("x", new FieldValue.Int64(42)); // an integer in a DOUBLE field is kept as an integer
    b.put("n", new FieldValue.Int64(-1));
    docs.add(new Document("\ud83d\ude00-emoji-id", b));
    docs.add(new Document("no-fields", Map.of()));
    Random rnd = new Random(12);
    byte[] big = new byte[200_000];
    rnd.nextBytes(big);
    docs.add(new Document("big", Map.of("blob", new FieldValue.Bytes(big), "body", new FieldValue.Str("x".repeat(70_000)))));
    return docs;
  }

  @Test
  void storedBytesAreTheSameInTheWalL0SegmentAndAfterReplay() throws Exception {
    List<Document> docs = everyKind();
    List<EncodedDocument> written = docs.stream().map(EncodedDocument::of).toList();
    try (EngineFixture f = new EngineFixture(dir, EngineFixture.testOptions().build())) {
      Fork main = f.engine.fork("main");
      main.createOrGetCollection("c", SCHEMA);
      main.write("c", written.stream().<Mutation>map(Mutation.Put::new).toList(), Durability.SYNC);

      // WAL: the record carries each body as written.
      Path walDir;
      try (Stream<Path> forkDirs = Files.list(dir.resolve("forks"))) {
        walDir = forkDirs.findFirst().orElseThrow().resolve("wal");
      }
      List<ByteString> inWal = new ArrayList<>();
      try (WalReader r = WalReader.open(LocalVfs.INSTANCE, walDir, 0)) {
        for (WalRecord rec = r.next(); rec != null; rec = r.next()) {
          WalEntry e = WalEntry.parseFrom(rec.payload());
          if (e.hasWrite()) {
            for (MutationRecord m : e.getWrite().getMutationsList()) {
              assertThat(m.hasBody()).as("written in format 2").isTrue();
              inWal.add(m.getBody().toByteString());
            }
          }
        }
      }
      assertThat(inWal).containsExactlyElementsOf(written.stream().map(EncodedDocument::body).toList());

      // L0, and the replay of the WAL after a crash.
      assertSameBytes(main, written);
      f.crashAndReopen();
      main = f.engine.fork("main");
      assertSameBytes(main, written);

      // The segment.
      main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);
      assertThat(main.stats().l0Bytes()).isZero();
      assertSameBytes(main, written);
      PublishedSnapshot head = main.acquireHead();
      try {
        for (EncodedDocument d : written) {
          DocumentVersion v = head.get(f.engine.segments(), "c", d.id());
          assertThat(v.stored().body()).isEqualTo(d.body());
        }
      } finally {
        head.release();
      }
      // Search hands out the same bytes too.
      assertThat(main.search("c", SearchQuery.of("Grüße", 10), null).hits().get(0).stored())
          .isEqualTo(written.get(0));
      f.reopen();
      assertSameBytes(f.engine.fork("main"), written);
    }
  }

  private static void assertSameBytes(Fork fork, List<EncodedDocument> written) {
    List<Document> expected = everyKind();
    for (int i = 0; i < written.size(); i++) {
      EncodedDocument d = written.get(i);
      DocumentVersion v = fork.get("c", d.id());
      assertThat(v.stored().body()).as("body of %s", d.id()).isEqualTo(d.body());
      assertThat(v.document()).isEqualTo(expected.get(i));
    }
  }

  @Test
  void theBodyIsCanonicalWhateverOrderTheFieldsArePutIn() {
    EncodedDocument sorted =
        new DocumentBodyWriter("x", 16).putLong("a", 1).putString("b", "2").putBool("c", true).build();
    EncodedDocument shuffled =
        new DocumentBodyWriter("x", 16).putBool("c", true).putLong("a", 1).putString("b", "2").build();
    assertThat(shuffled).isEqualTo(sorted);
    assertThatThrownBy(() -> new DocumentBodyWriter("x", 16).putLong("a", 1).putLong("a", 2).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a' is given twice");
  }
}
