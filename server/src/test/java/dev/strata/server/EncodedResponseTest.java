package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.strata.api.v1.BatchGetResponse;
import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.GetResponse;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import dev.strata.engine.model.DocumentCodec;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.StoredVersion;
import io.grpc.Drainable;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Responses written from stored bytes ({@link EncodedResponse}) parse as the generated messages
 * with exactly the documents a decode-and-convert path would return — for the engine's current
 * stored form (its tags rewritten), for the pass-through form (an API Document without its id,
 * copied as it is), and for versions from L0 (converted) — through both of gRPC's read paths.
 */
class EncodedResponseTest {
  /** A segment value: kind put (1), LSN (8 bytes big-endian), then the stored document bytes. */
  private static StoredVersion segmentValue(String id, byte[] storedDocument) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(9 + storedDocument.length);
    b.put((byte) 1).putLong(42).put(storedDocument);
    return StoredVersion.ofValue(7, id, b.array());
  }

  /** The engine's current stored form (StoredDocument, fields tagged 1). */
  private static StoredVersion engineForm(Document d) throws Exception {
    return segmentValue(d.getId(), DocumentCodec.encode(ApiConversions.engineDocument(d)));
  }

  /** The pass-through form: an API Document without its id (fields tagged 2). */
  private static StoredVersion apiForm(Document d) throws Exception {
    return segmentValue(d.getId(), d.toBuilder().clearId().build().toByteArray());
  }

  /** A version still in L0 (a decoded engine document). */
  private static StoredVersion l0Form(Document d) {
    return StoredVersion.of(new DocumentVersion(42, ApiConversions.engineDocument(d)));
  }

  /** The document as the old path returned it: decoded to the engine model, then converted. */
  private static Document converted(Document d) {
    return ApiConversions.document(ApiConversions.engineDocument(d));
  }

  @Provide
  Arbitrary<Document> documents() {
    Arbitrary<Value> values =
        Arbitraries.oneOf(
            Arbitraries.strings().ofMaxLength(300).map(s -> Value.newBuilder().setStringValue(s).build()),
            Arbitraries.longs().map(l -> Value.newBuilder().setInt64Value(l).build()),
            Arbitraries.doubles().map(x -> Value.newBuilder().setDoubleValue(x).build()),
            Arbitraries.of(true, false).map(x -> Value.newBuilder().setBoolValue(x).build()),
            Arbitraries.bytes().array(byte[].class).ofMaxSize(200)
                .map(x -> Value.newBuilder().setBytesValue(ByteString.copyFrom(x)).build()),
            Arbitraries.strings().ofMaxLength(20).list().ofMaxSize(5)
                .map(l -> Value.newBuilder().setStringListValue(StringList.newBuilder().addAllValues(l)).build()));
    Arbitrary<String> names = Arbitraries.strings().withCharRange('a', 'z').ofMinLength(1).ofMaxLength(12);
    Arbitrary<String> ids = Arbitraries.strings().ofMinLength(1).ofMaxLength(40).filter(s -> s.indexOf('\0') < 0 && Violations.utf8Length(s) > 0);
    return Combinators.combine(ids, Arbitraries.maps(names, values).ofMaxSize(20))
        .as((id, fields) -> Document.newBuilder().setId(id).putAllFields(fields).build());
  }

  @Property(tries = 300)
  void getIsTheConvertedDocumentInEveryStoredForm(@ForAll("documents") Document d) throws Exception {
    GetResponse expected = GetResponse.newBuilder().setDocument(converted(d)).build();
    for (StoredVersion v : List.of(engineForm(d), apiForm(d), l0Form(d))) {
      EncodedResponse r = EncodedResponse.get(d.getId(), v);
      byte[] bytes = drained(r);
      assertThat(bytes).hasSize(r.size());
      assertThat(GetResponse.parseFrom(bytes)).isEqualTo(expected);
      assertThat(GetResponse.parseFrom(read(r))).isEqualTo(expected);
    }
    assertThat(new EncodedResponse.DocumentBody(d.getId(), engineForm(d)).copied()).isTrue();
    assertThat(new EncodedResponse.DocumentBody(d.getId(), apiForm(d)).copied()).isTrue();
    assertThat(new EncodedResponse.DocumentBody(d.getId(), apiForm(d)).passedThrough()).isTrue();
    assertThat(new EncodedResponse.DocumentBody(d.getId(), l0Form(d)).copied()).isFalse();
    // The pass-through form is copied byte for byte after the id.
    byte[] withId = EncodedResponse.get(d.getId(), apiForm(d)).toByteArray();
    byte[] fields = d.toBuilder().clearId().build().toByteArray();
    assertThat(Arrays.copyOfRange(withId, withId.length - fields.length, withId.length)).isEqualTo(fields);
  }

  @Property(tries = 100)
  void batchGetAndSearchAreTheGeneratedMessages(@ForAll("documents") Document a, @ForAll("documents") Document b)
      throws Exception {
    List<String> ids = List.of(a.getId(), "missing", b.getId());
    StoredVersion[] found = {engineForm(a), null, l0Form(b)};
    BatchGetResponse expected =
        BatchGetResponse.newBuilder()
            .addResults(BatchGetResult.newBuilder().setId(a.getId()).setFound(true).setDocument(converted(a)))
            .addResults(BatchGetResult.newBuilder().setId("missing"))
            .addResults(BatchGetResult.newBuilder().setId(b.getId()).setFound(true).setDocument(converted(b)))
            .build();
    EncodedResponse batch = EncodedResponse.batchGet(ids, found);
    assertThat(BatchGetResponse.parseFrom(drained(batch))).isEqualTo(expected);
    assertThat(batch.size()).isEqualTo(expected.getSerializedSize());

    List<SearchHit> hits = new ArrayList<>();
    hits.add(new SearchHit(a.getId(), 1.5f, 7, apiForm(a)));
    hits.add(new SearchHit(b.getId(), 0f, 7, engineForm(b)));
    SearchResponse.Builder sb = SearchResponse.newBuilder();
    sb.addHitsBuilder().setId(a.getId()).setScore(1.5f).setDocument(converted(a));
    sb.addHitsBuilder().setId(b.getId()).setScore(0f).setDocument(converted(b));
    SearchResponse expectedSearch =
        sb.setTotalHits(12_345).setTotalHitsLowerBound(true).setSnapshotId("main-0123456789ab-000000000007").build();
    EncodedResponse search =
        EncodedResponse.search(new SearchResult(hits, 12_345, true), "main-0123456789ab-000000000007");
    assertThat(SearchResponse.parseFrom(drained(search))).isEqualTo(expectedSearch);
    assertThat(search.size()).isEqualTo(expectedSearch.getSerializedSize());
    assertThat(EncodedResponse.search(new SearchResult(List.of(), 0), "").size()).isZero();
  }

  @Property(tries = 200)
  void unknownStoredFormsAreConvertedNotCopied(@ForAll("documents") Document d) throws Exception {
    byte[] stored = DocumentCodec.encode(ApiConversions.engineDocument(d));
    if (stored.length == 0) {
      return;
    }
    byte[] odd = stored.clone();
    odd[0] = (byte) ((3 << 3) | 2); // a field number neither form uses
    StoredVersion v = segmentValue(d.getId(), odd);
    assertThat(EncodedResponse.DocumentBody.storedForm(odd, 0, odd.length)).isEqualTo(EncodedResponse.DocumentBody.UNKNOWN);
    // The framing check also refuses a truncated entry.
    assertThat(EncodedResponse.DocumentBody.storedForm(stored, 0, stored.length - 1))
        .isEqualTo(EncodedResponse.DocumentBody.UNKNOWN);
    // Not copied: decoded by the engine's decoder and converted (which reads what it knows).
    assertThat(new EncodedResponse.DocumentBody(d.getId(), v).copied()).isFalse();
    assertThat(GetResponse.parseFrom(EncodedResponse.get(d.getId(), v).toByteArray()).getDocument().getId()).isEqualTo(d.getId());
  }

  private static byte[] drained(EncodedResponse r) throws Exception {
    InputStream in = EncodedResponse.MARSHALLER.stream(r);
    assertThat(in).isInstanceOf(Drainable.class);
    assertThat(in.available()).isEqualTo(r.size());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int n = ((Drainable) in).drainTo(out);
    assertThat(n).isEqualTo(r.size());
    return out.toByteArray();
  }

  private static byte[] read(EncodedResponse r) throws Exception {
    try (InputStream in = EncodedResponse.MARSHALLER.stream(r)) {
      return in.readAllBytes();
    }
  }
}
