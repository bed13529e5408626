package dev.strata.server;

import static dev.strata.server.TestServer.badRequest;
import static dev.strata.server.TestServer.code;
import static dev.strata.server.TestServer.doc;
import static dev.strata.server.TestServer.failure;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.rpc.BadRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.WriteRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue #11 item 9: an error echoes a prefix and the length of a long request value, never the
 * value whole, so a default gRPC client (8 KiB of metadata) reads it and the log line stays short;
 * a query above {@code search.max_query_bytes} is refused before it is parsed.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LongRequestEchoTest {
  TestServer t;
  final ListAppender<ILoggingEvent> callLog = new ListAppender<>();

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t = TestServer.start(dir, Map.of());
    t.createCollection("main", "docs");
    t.write("main", "docs", doc("d1", "alpha beta", "x", 1));
    t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
    callLog.start();
    ((Logger) LoggerFactory.getLogger("dev.strata.server.calls")).addAppender(callLog);
  }

  @AfterAll
  void stop() throws Exception {
    ((Logger) LoggerFactory.getLogger("dev.strata.server.calls")).detachAppender(callLog);
    t.close();
  }

  @BeforeEach
  void clear() {
    callLog.list.clear();
  }

  StatusRuntimeException search(String query) {
    return failure(() -> t.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery(query).build()));
  }

  @Test
  void tooManyClausesIsReadableByADefaultClient() {
    String query = IntStream.rangeClosed(0, 1024).mapToObj(i -> "term" + i).collect(Collectors.joining(" OR "));
    StatusRuntimeException e = search(query);
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertBounded(e, query);
    assertThat(e.getStatus().getDescription()).contains("too many boolean clauses").contains(query.length() + " chars");
  }

  @Test
  void aLexicalErrorInALongQueryIsBounded() {
    String query = "\"" + "x".repeat(20_000); // an unterminated phrase: the lexer quotes its token
    StatusRuntimeException e = search(query);
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertBounded(e, query);
  }

  @Test
  void aQueryAboveTheLimitIsRefusedBeforeParsingAndNamesTheSetting() {
    String query = "a ".repeat(512 * 1024); // 1 MiB
    StatusRuntimeException e = search(query);
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(e.getStatus().getDescription())
        .contains("1048576 UTF-8 bytes")
        .contains("at most 32768")
        .contains("search.max_query_bytes");
    BadRequest bad = badRequest(e);
    assertThat(bad.getFieldViolations(0).getField()).isEqualTo("query");
    assertBounded(e, query);
  }

  @Test
  void aWriteWithThousandsOfBadMutationsIsReadableByADefaultClient() {
    WriteRequest.Builder w = WriteRequest.newBuilder().setCollection("docs");
    for (int i = 0; i < 5000; i++) {
      Document d = Document.newBuilder().setId("bad\u0000id-" + "y".repeat(100) + i).build();
      w.addMutations(Mutation.newBuilder().setPut(d));
    }
    StatusRuntimeException e = failure(() -> t.documents().write(w.build()));
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    BadRequest bad = badRequest(e);
    assertThat(bad.getFieldViolations(bad.getFieldViolationsCount() - 1).getDescription())
        .as("the violations left out are counted")
        .matches("and \\d+ more problem\\(s\\) not listed");
    assertBounded(e, "");
  }

  @Test
  void aStatusBuiltOutsideStrataIsCappedToo() {
    // grpc's health service answers an unknown service with its whole name (found by ApiFuzzTest).
    String service = "s".repeat(40_000);
    StatusRuntimeException e =
        failure(
            () ->
                io.grpc.health.v1.HealthGrpc.newBlockingStub(t.channel)
                    .check(io.grpc.health.v1.HealthCheckRequest.newBuilder().setService(service).build()));
    assertThat(code(e)).as(e.toString()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(e.getStatus().getDescription().length()).isLessThanOrEqualTo(StatusMapper.MAX_MESSAGE_CHARS);
    assertThat(e.getStatus().getDescription()).contains("40016 chars in all");
  }

  @Test
  void aQueryAtTheConfiguredLimitIsParsedAndOneByteMoreIsNot(@TempDir Path dir) throws Exception {
    try (TestServer small = TestServer.start(dir, Map.of("search.max_query_bytes", "16"))) {
      small.createCollection("main", "docs");
      small.write("main", "docs", doc("d1", "alpha beta", "x", 1));
      small.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      String atLimit = "alpha OR béta  "; // 15 chars, 16 UTF-8 bytes
      SearchResponse r =
          small.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery(atLimit).build());
      assertThat(r.getTotalHits()).isEqualTo(1);
      StatusRuntimeException e =
          failure(
              () -> small.documents().search(SearchRequest.newBuilder().setCollection("docs").setQuery(atLimit + " ").build()));
      assertThat(code(e)).isEqualTo(Status.Code.INVALID_ARGUMENT);
      assertThat(e.getStatus().getDescription()).contains("17 UTF-8 bytes, at most 16 allowed");
    }
  }

  /** The status, its details and the call-log line echo at most a bounded part of the request. */
  private void assertBounded(StatusRuntimeException e, String echoed) {
    String description = e.getStatus().getDescription();
    assertThat(description.length()).as("message length").isLessThanOrEqualTo(StatusMapper.MAX_MESSAGE_CHARS);
    if (echoed.length() > 300) {
      assertThat(description).as("no long run of the request").doesNotContain(echoed.substring(0, 300));
    }
    BadRequest bad = badRequest(e);
    assertThat(bad).isNotNull();
    int chars = 0;
    for (BadRequest.FieldViolation v : bad.getFieldViolationsList()) {
      chars += v.getField().length() + v.getDescription().length();
    }
    assertThat(chars).as("BadRequest size").isLessThanOrEqualTo(StatusMapper.MAX_VIOLATION_CHARS + 100);
    assertThat(callLog.list).hasSize(1);
    assertThat(callLog.list.get(0).getFormattedMessage().length()).as("call log line").isLessThan(1400);
  }
}
