package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/**
 * Issue #11 item 8: request bytes that do not parse — garbage, or a proto3 string that is not
 * UTF-8 — get INVALID_ARGUMENT naming the problem on every method of every service, with one log
 * line (the call log's, with the status the client saw) and no stack trace.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MalformedRequestTest {
  TestServer t;
  final ListAppender<ILoggingEvent> logged = new ListAppender<>();
  final List<LogRecord> julRecords = new CopyOnWriteArrayList<>();
  final Handler julHandler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          julRecords.add(record);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeAll
  void start(@TempDir Path dir) throws Exception {
    t = TestServer.start(dir, Map.of());
    logged.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logged);
    java.util.logging.Logger.getLogger("").addHandler(julHandler);
  }

  @AfterAll
  void stop() throws Exception {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logged);
    java.util.logging.Logger.getLogger("").removeHandler(julHandler);
    t.close();
  }

  @BeforeEach
  void clearLogs() {
    logged.list.clear();
    julRecords.clear();
  }

  List<RawCalls.Method> methods() {
    return RawCalls.allMethods();
  }

  @ParameterizedTest
  @MethodSource("methods")
  void garbageBytesAreInvalidArgumentWithOneLogLine(RawCalls.Method method) {
    // Tag 0 is never valid in protobuf, whatever the message type.
    RawCalls.Result r = RawCalls.call(t.channel, method, new byte[] {0, 1, 2, 3}, 10_000);
    assertInvalid(method, r, "invalid tag");
  }

  @ParameterizedTest
  @MethodSource("methods")
  void invalidUtf8InAStringFieldIsInvalidArgumentWithOneLogLine(RawCalls.Method method) throws IOException {
    byte[] request = invalidUtf8In(method.requestType());
    RawCalls.Result r = RawCalls.call(t.channel, method, request, 10_000);
    assertInvalid(method, r, "UTF-8");
  }

  @ParameterizedTest
  @MethodSource("methods")
  void aTruncatedRequestIsInvalidArgument(RawCalls.Method method) {
    // Field 1, length-delimited, 100 bytes announced, 1 sent.
    RawCalls.Result r = RawCalls.call(t.channel, method, new byte[] {0x0a, 100, 'x'}, 10_000);
    assertInvalid(method, r, "ended unexpectedly");
  }

  @org.junit.jupiter.api.Test
  void theServerServesOnAfterEveryMalformedRequest() {
    for (RawCalls.Method m : methods()) {
      RawCalls.call(t.channel, m, new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff}, 10_000);
    }
    HealthCheckResponse h = HealthGrpc.newBlockingStub(t.channel).check(HealthCheckRequest.getDefaultInstance());
    assertThat(h.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  private void assertInvalid(RawCalls.Method method, RawCalls.Result r, String problem) {
    assertThat(r.status().getCode()).as(method + ": " + r.status()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(r.status().getDescription())
        .as(method + " names the request type and the problem")
        .contains("not a valid " + method.requestType().getFullName())
        .containsIgnoringCase(problem);
    StatusRuntimeException e = r.status().asRuntimeException(r.trailers());
    ErrorInfo info = TestServer.errorInfo(e);
    assertThat(info).as(method + " ErrorInfo").isNotNull();
    assertThat(info.getReason()).isEqualTo("REQUEST_INVALID");
    BadRequest bad = TestServer.badRequest(e);
    assertThat(bad).as(method + " BadRequest").isNotNull();
    assertThat(bad.getFieldViolationsCount()).isEqualTo(1);

    List<ILoggingEvent> calls =
        logged.list.stream().filter(ev -> ev.getLoggerName().equals("dev.strata.server.calls")).toList();
    assertThat(calls).as(method + ": one call-log line").hasSize(1);
    assertThat(calls.get(0).getLevel()).isEqualTo(Level.INFO);
    assertThat(calls.get(0).getFormattedMessage())
        .as("the call log records the status the client saw")
        .contains(method.fullName() + " INVALID_ARGUMENT");
    assertThat(calls.get(0).getThrowableProxy()).isNull();
    assertThat(logged.list.stream().filter(ev -> ev.getLevel().isGreaterOrEqual(Level.WARN)).toList())
        .as(method + ": nothing logged at WARN or above")
        .isEmpty();
    assertThat(julRecords.stream().filter(rec -> rec.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()).map(rec -> rec.getLoggerName() + ": " + rec.getMessage()).toList())
        .as(method + ": gRPC logged no warning or stack trace")
        .isEmpty();
  }

  /**
   * A request of {@code type} whose first string field (at the top level, or one message down) holds
   * the bytes C3 28: a truncated two-byte sequence, not UTF-8.
   */
  static byte[] invalidUtf8In(Descriptor type) throws IOException {
    List<FieldDescriptor> path = stringFieldPath(type, 3);
    assertThat(path).as(type.getFullName() + " has a string field").isNotNull();
    byte[] value = {(byte) 0xc3, 0x28};
    for (int i = path.size() - 1; i >= 0; i--) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.writeByteArray(path.get(i).getNumber(), value);
      out.flush();
      value = bytes.toByteArray();
    }
    return value;
  }

  private static List<FieldDescriptor> stringFieldPath(Descriptor type, int depth) {
    for (FieldDescriptor f : type.getFields()) {
      if (f.getType() == FieldDescriptor.Type.STRING) {
        return List.of(f);
      }
    }
    if (depth > 1) {
      for (FieldDescriptor f : type.getFields()) {
        if (f.getType() == FieldDescriptor.Type.MESSAGE && !f.isMapField()) {
          List<FieldDescriptor> rest = stringFieldPath(f.getMessageType(), depth - 1);
          if (rest != null) {
            List<FieldDescriptor> out = new ArrayList<>();
            out.add(f);
            out.addAll(rest);
            return out;
          }
        }
      }
    }
    return null;
  }
}
