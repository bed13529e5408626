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
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.segment.SearchHit;
import dev.strata.engine.segment.SearchResult;
import io.grpc.Drainable;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
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
 * Responses written from stored documents ({@link EncodedResponse}) parse as the generated
 * messages with exactly the documents a decode-and-convert path would return, through both of
 * gRPC's read paths, and each document's bytes after its id are the stored body unchanged.
 */
class EncodedResponseTest {
  /** The stored form a Write produces (canonical field order). */
  private static EncodedDocument stored(Document d) {
    return EncodedDocument.of(ApiConversions.engineDocument(d));
  }

  /** The document as a decoding path returns it: decoded to the engine model, then converted. */
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
  void getIsTheConvertedDocument(@ForAll("documents") Document d) throws Exception {
    GetResponse expected = GetResponse.newBuilder().setDocument(converted(d)).build();
    EncodedDocument e = stored(d);
    EncodedResponse r = EncodedResponse.get(e);
    byte[] bytes = drained(r);
    assertThat(bytes).hasSize(r.size());
    assertThat(GetResponse.parseFrom(bytes)).isEqualTo(expected);
    assertThat(GetResponse.parseFrom(read(r))).isEqualTo(expected);
    // The stored body is copied byte for byte after the id.
    byte[] body = e.body().toByteArray();
    assertThat(Arrays.copyOfRange(bytes, bytes.length - body.length, bytes.length)).isEqualTo(body);
  }

  @Property(tries = 100)
  void batchGetAndSearchAreTheGeneratedMessages(@ForAll("documents") Document a, @ForAll("documents") Document b)
      throws Exception {
    List<String> ids = List.of(a.getId(), "missing", b.getId());
    EncodedDocument[] found = {stored(a), null, stored(b)};
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
    hits.add(new SearchHit(a.getId(), 1.5f, 7, stored(a)));
    hits.add(new SearchHit(b.getId(), 0f, 7, stored(b)));
    SearchResponse.Builder sb = SearchResponse.newBuilder();
    sb.addHitsBuilder().setId(a.getId()).setScore(1.5f).setDocument(converted(a));
    sb.addHitsBuilder().setId(b.getId()).setScore(0f).setDocument(converted(b));
    SearchResponse expectedSearch =
        sb.setTotalHits(12_345).setTotalHitsLowerBound(true).setSnapshotId("main-0123456789ab-000000000007").build();
    EncodedResponse search =
        EncodedResponse.search(new SearchResult(hits, 12_345, true), "main-0123456789ab-000000000007");
    assertThat(SearchResponse.parseFrom(drained(search))).isEqualTo(expectedSearch);
    assertThat(SearchResponse.parseFrom(read(search))).isEqualTo(expectedSearch);
    assertThat(search.size()).isEqualTo(expectedSearch.getSerializedSize());
    assertThat(EncodedResponse.search(new SearchResult(List.of(), 0), "").size()).isZero();
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
