package dev.strata.engine.segment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentBodyWriter;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.proto.DocumentBody;
import dev.strata.engine.proto.StoredValue;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.apache.lucene.index.IndexWriter;
import org.junit.jupiter.api.Test;

/**
 * The write path's check of a stored document ({@link EncodedDocumentValidator}) agrees with the
 * check of the decoded document ({@link DocumentIndexer#validate}), and whatever it accepts decodes
 * and indexes: so no document the write path let in can fail a flush.
 */
class EncodedDocumentValidatorTest {
  private static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("t", FieldKind.TEXT),
              new FieldSpec("k2", FieldKind.TEXT, "keyword"),
              FieldSpec.of("k", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG),
              FieldSpec.of("x", FieldKind.DOUBLE),
              FieldSpec.of("s", FieldKind.STORED)));

  @Provide
  Arbitrary<FieldValue> values() {
    // Well-formed UTF-16 only (a lone surrogate has no UTF-8 form); supplementary characters apart.
    Arbitrary<String> strings =
        Arbitraries.oneOf(
            Arbitraries.strings().withCharRange('\u0000', '\uD7FF').withCharRange('\uE000', '\uFFFF').ofMaxLength(12),
            Arbitraries.of("\ud83c\udf4e", "a\ud83c\udf0db", ""));
    return Arbitraries.oneOf(
        strings.map(FieldValue.Str::new),
        Arbitraries.longs().map(FieldValue.Int64::new),
        Arbitraries.doubles().map(FieldValue.Float64::new),
        Arbitraries.of(Double.NaN, -0.0, Double.POSITIVE_INFINITY).map(FieldValue.Float64::new),
        Arbitraries.of(true, false).map(FieldValue.Bool::new),
        Arbitraries.bytes().array(byte[].class).ofMaxSize(8).map(FieldValue.Bytes::new),
        strings.list().ofMaxSize(4).map(FieldValue.StrList::new));
  }

  @Provide
  Arbitrary<Map<String, FieldValue>> documents() {
    return Arbitraries.maps(Arbitraries.of("t", "k2", "k", "n", "x", "s", "free", "é", "Z", ""), values())
        .ofMaxSize(8);
  }

  @Property(tries = 400)
  void acceptsExactlyWhatTheDecodedCheckAcceptsAndItDecodes(@ForAll("documents") Map<String, FieldValue> fields) {
    Document doc = new Document("id", fields);
    EncodedDocument stored = EncodedDocument.of(doc);
    Throwable decodedCheck = catchThrowable(() -> DocumentIndexer.validate(doc, SCHEMA));
    Throwable bytesCheck = catchThrowable(() -> EncodedDocumentValidator.validate(stored, SCHEMA));
    assertThat(bytesCheck == null).as("both checks agree: %s / %s", decodedCheck, bytesCheck).isEqualTo(decodedCheck == null);
    if (decodedCheck != null) {
      assertThat(bytesCheck).hasMessage(decodedCheck.getMessage());
    } else {
      assertThat(stored.decode()).isEqualTo(doc);
      DocumentIndexer.toLucene("c", stored.decode(), SCHEMA, new byte[] {1});
    }
  }

  /** Damaged bytes are refused or still decode: never accepted and then undecodable at flush. */
  @Property(tries = 400)
  void anAcceptedBodyAlwaysDecodes(
      @ForAll("documents") Map<String, FieldValue> fields,
      @ForAll @IntRange(min = 0, max = 10_000) int position,
      @ForAll @IntRange(min = 1, max = 255) int xor,
      @ForAll boolean cut) {
    byte[] body = EncodedDocument.of(new Document("id", fields)).body().toByteArray();
    if (body.length == 0) {
      return;
    }
    int at = position % body.length;
    byte[] damaged = cut ? Arrays.copyOf(body, at) : body.clone();
    if (!cut) {
      damaged[at] ^= (byte) xor;
    }
    EncodedDocument d = EncodedDocument.wrap("id", UnsafeByteOperations.unsafeWrap(damaged));
    if (catchThrowable(() -> EncodedDocumentValidator.validate(d, SCHEMA)) == null) {
      Document decoded = d.decode();
      DocumentIndexer.toLucene("c", decoded, SCHEMA, new byte[] {1});
    }
  }

  @Test
  void refusesWhatIsNotTheCanonicalForm() {
    StoredValue one = StoredValue.newBuilder().setLongValue(1).build();
    // Fields out of order, or twice (a protobuf map would keep the last silently).
    ByteString unsorted =
        DocumentBody.newBuilder().putFields("b", one).build().toByteString()
            .concat(DocumentBody.newBuilder().putFields("a", one).build().toByteString());
    assertRefused(unsorted, "out of order or repeated");
    ByteString twice =
        DocumentBody.newBuilder().putFields("a", one).build().toByteString()
            .concat(DocumentBody.newBuilder().putFields("a", one).build().toByteString());
    assertRefused(twice, "out of order or repeated");
    // A value with no kind, with two kinds, with an unknown kind.
    assertRefused(DocumentBody.newBuilder().putFields("a", StoredValue.getDefaultInstance()).build().toByteString(), "no kind");
    ByteString two = body("a", StoredValue.newBuilder().setLongValue(1).build().toByteString()
        .concat(StoredValue.newBuilder().setBoolValue(true).build().toByteString()));
    assertRefused(two, "more than one value kind");
    assertRefused(body("a", ByteString.copyFrom(new byte[] {0x38, 1})), "unknown value kind 7");
    // Invalid UTF-8 in a string value or a name; a field that is not an entry.
    assertRefused(body("a", ByteString.copyFrom(new byte[] {0x0A, 2, (byte) 0xC3, 0x28})), "not valid UTF-8");
    assertRefused(ByteString.copyFrom(new byte[] {0x12, 6, 0x0A, 1, (byte) 0xFF, 0x12, 1, 0}), "not valid UTF-8");
    assertRefused(ByteString.copyFrom(new byte[] {0x08, 1}), "unexpected field 1");
    // Truncated.
    ByteString ok = EncodedDocument.of(new Document("id", Map.of("a", new FieldValue.Str("hello")))).body();
    assertRefused(ok.substring(0, ok.size() - 1), "malformed");
  }

  @Test
  void refusesWhatTheSchemaCannotIndexWithTheMessagesOfTheDecodedCheck() {
    assertThatThrownBy(() -> validate(new DocumentBodyWriter("d", 16).putString("n", "seven")))
        .hasMessage("document 'd': field 'n' is LONG and needs an integer, got a string");
    assertThatThrownBy(() -> validate(new DocumentBodyWriter("d", 16).putBool("x", true)))
        .hasMessage("document 'd': field 'x' is DOUBLE and needs a double or an integer, got a boolean");
    assertThatThrownBy(() -> validate(new DocumentBodyWriter("d", 16).putLong("t", 1)))
        .hasMessage("document 'd': field 't' is TEXT and needs a string or a string list, got an integer");
    String long1 = "é".repeat(IndexWriter.MAX_TERM_LENGTH / 2 + 1);
    assertThatThrownBy(() -> validate(new DocumentBodyWriter("d", 16).putStringList("k", List.of("ok", long1))))
        .hasMessageContaining("has a value of 32768 UTF-8 bytes");
    validate(new DocumentBodyWriter("d", 16).putString("t", long1)); // analyzed: no term limit
    assertThatThrownBy(() -> validate(new DocumentBodyWriter("d", 16).putString("k2", long1)))
        .hasMessageContaining("field 'k2' (TEXT)");
    validate(new DocumentBodyWriter("d", 16).putLong("x", 3).putDouble("free", Double.NaN));
  }

  private static void validate(DocumentBodyWriter w) {
    EncodedDocumentValidator.validate(w.build(), SCHEMA);
  }

  private static ByteString body(String name, ByteString value) {
    ByteString nameField = ByteString.copyFrom(new byte[] {0x0A, (byte) name.length()}).concat(ByteString.copyFromUtf8(name));
    ByteString valueField = ByteString.copyFrom(new byte[] {0x12, (byte) value.size()}).concat(value);
    ByteString entry = nameField.concat(valueField);
    return ByteString.copyFrom(new byte[] {0x12, (byte) entry.size()}).concat(entry);
  }

  private static void assertRefused(ByteString body, String why) {
    assertThatThrownBy(() -> EncodedDocumentValidator.validate(EncodedDocument.wrap("d", body), SCHEMA))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(why);
  }
}
