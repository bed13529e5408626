package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import dev.strata.engine.model.EncodedDocument;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Over real gRPC: a document of every field kind comes back from Get, BatchGet, Scan and Search
 * equal to what was written and byte for byte the same message, whether it is read from L0 or from
 * a flushed segment: the server writes the stored form once and answers from it (the id field in
 * front of the stored body, {@link ApiConversions#documentBytes}). "Byte for byte" holds where the
 * API allows it: fields put in name order (protobuf serializes a map in insertion order, the
 * stored form in name order) and no integer in a DOUBLE field (the server stores it as a double).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StoredDocumentRpcTest {
  TestServer t;

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t = TestServer.start(dir, Map.of());
    t.createCollection("", "kinds");
  }

  @AfterAll
  void stop() throws Exception {
    t.close();
  }

  private static Value str(String s) {
    return Value.newBuilder().setStringValue(s).build();
  }

  private static Value dbl(double d) {
    return Value.newBuilder().setDoubleValue(d).build();
  }

  /** Fields put in name order, so the client's serialization is the stored form's order. */
  private static Document sorted(String id, Map<String, Value> fields) {
    Document.Builder b = Document.newBuilder().setId(id);
    new TreeMap<>(fields).forEach(b::putFields);
    return b.build();
  }

  static List<Document> documents() {
    List<Document> docs = new ArrayList<>();
    Map<String, Value> a = new TreeMap<>();
    a.put("body", str("Grüße aus 東京 🗼, quick search term"));
    a.put("tag", Value.newBuilder().setStringListValue(StringList.newBuilder().addValues("ä").addValues("🍎").addValues("")).build());
    a.put("n", Value.newBuilder().setInt64Value(Long.MIN_VALUE).build());
    a.put("price", dbl(-0.0));
    a.put("nan", dbl(Double.NaN));
    a.put("inf", dbl(Double.POSITIVE_INFINITY));
    a.put("ninf", dbl(Double.NEGATIVE_INFINITY));
    a.put("yes", Value.newBuilder().setBoolValue(true).build());
    a.put("no", Value.newBuilder().setBoolValue(false).build());
    a.put("raw", Value.newBuilder().setBytesValue(ByteString.copyFrom(new byte[] {0, (byte) 0xFF, 0, 7})).build());
    a.put("none", Value.newBuilder().setStringListValue(StringList.getDefaultInstance()).build());
    a.put("empty", str(""));
    a.put("max", Value.newBuilder().setInt64Value(Long.MAX_VALUE).build());
    docs.add(sorted("k1", a));
    docs.add(sorted("\u00e9t\u00e9-\ud83d\ude00", Map.of("body", str("unicode id, quick"), "n", Value.newBuilder().setInt64Value(1).build())));
    docs.add(sorted("k3", Map.of("body", str("quick"))));
    return docs;
  }

  @Test
  void everyReadAnswersTheBytesThatWereWritten() {
    List<Document> docs = documents();
    t.write("", "kinds", docs.toArray(new Document[0]));
    checkReads(docs); // from L0
    t.flushes()
        .awaitFlush(AwaitFlushRequest.newBuilder().setTicket(t.flushes().flush(FlushRequest.newBuilder().build()).getTicket()).build());
    checkReads(docs); // from the segment

    List<Document> hits = new ArrayList<>();
    t.documents()
        .search(SearchRequest.newBuilder().setCollection("kinds").setQuery("quick").setLimit(10).build())
        .getHitsList()
        .forEach(h -> hits.add(h.getDocument()));
    assertThat(hits).containsExactlyInAnyOrderElementsOf(docs);
    for (Document h : hits) {
      assertThat(h.toByteString()).isEqualTo(docs.stream().filter(d -> d.getId().equals(h.getId())).findFirst().orElseThrow().toByteString());
    }
  }

  private void checkReads(List<Document> docs) {
    for (Document d : docs) {
      Document got = t.documents().get(GetRequest.newBuilder().setCollection("kinds").setId(d.getId()).build()).getDocument();
      assertThat(got).isEqualTo(d);
      assertThat(got.toByteString()).as("Get of %s, byte for byte", d.getId()).isEqualTo(d.toByteString());
    }
    BatchGetRequest.Builder bg = BatchGetRequest.newBuilder().setCollection("kinds");
    docs.forEach(d -> bg.addIds(d.getId()));
    List<Document> batch = new ArrayList<>();
    t.documents().batchGet(bg.build()).getResultsList().forEach(r -> batch.add(r.getDocument()));
    assertThat(batch).containsExactlyElementsOf(docs);
    List<Document> scanned = new ArrayList<>();
    t.documents()
        .scan(ScanRequest.newBuilder().setCollection("kinds").build())
        .forEachRemaining(m -> scanned.addAll(m.getDocumentsList()));
    assertThat(scanned).containsExactlyInAnyOrderElementsOf(docs);
    for (Document s : scanned) {
      assertThat(s.toByteString()).isEqualTo(docs.stream().filter(d -> d.getId().equals(s.getId())).findFirst().orElseThrow().toByteString());
    }
  }

  @Test
  void anIntegerInADoubleFieldIsStoredAsADouble() {
    t.createCollection("", "ints");
    Document in = sorted("int-price", Map.of("price", Value.newBuilder().setInt64Value(12).build()));
    t.write("", "ints", in);
    Document got = t.documents().get(GetRequest.newBuilder().setCollection("ints").setId("int-price").build()).getDocument();
    assertThat(got.getFieldsMap().get("price")).isEqualTo(dbl(12.0));
  }

  @Test
  void theAnswerIsTheIdFieldInFrontOfTheStoredBody() throws Exception {
    Document d = documents().get(0);
    EncodedDocument stored =
        EncodedDocument.wrap(d.getId(), d.toBuilder().clearId().build().toByteString());
    assertThat(ApiConversions.documentBytes(stored)).isEqualTo(d.toByteString());
    assertThat(ApiConversions.document(stored)).isEqualTo(d);
  }
}
