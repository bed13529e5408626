package dev.strata.server;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.api.v1.ErrorReason;
import io.grpc.Attributes;
import io.grpc.KnownLength;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.SecurityLevel;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoMethodDescriptorSupplier;
import java.io.BufferedInputStream;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parses requests where a failure can still be answered properly.
 *
 * <p>grpc-java parses a request with the method's marshaller before any listener of the call sees
 * it ({@code ServerCallImpl.ServerStreamListenerImpl.messagesAvailableInternal}). A request that
 * does not parse — bytes that are no protobuf, a proto3 {@code string} that is not valid UTF-8, a
 * message nested too deep — escapes every interceptor: the transport answers {@code UNKNOWN:
 * Application error processing RPC}, logs a SEVERE stack trace through java.util.logging, and the
 * call log never sees the status the client got. The same happens to any exception a handler
 * throws out of a listener callback.
 *
 * <p>{@link #guard} rewrites a service definition so that the transport hands every method its
 * request as raw bytes (an {@link InputStream}, the same wrapping grpc-java's own {@code
 * ServerInterceptors.useInputStreamMessages} does), and parses it with the method's original
 * marshaller inside the call's listener. A request that does not parse ends the call through the
 * (intercepted, hence logged) {@link ServerCall#close} with {@code INVALID_ARGUMENT} (reason
 * {@code REQUEST_INVALID}, a {@code google.rpc.BadRequest} naming the request) — or with the
 * status the stream itself raised, such as {@code RESOURCE_EXHAUSTED} for a decompressed message
 * above the size limit. Responses keep their marshallers, so nothing is serialized twice; the
 * method descriptors keep their schema descriptors, so server reflection is unchanged. An
 * exception thrown by a handler's listener becomes {@code INTERNAL} through {@link
 * StatusMapper#toStatus} (logged once with a reference), instead of {@code UNKNOWN}.
 *
 * <p>Stateless and thread-safe; each call gets its own listener, which gRPC calls serially.
 */
final class RequestParsing {
  private static final Logger log = LoggerFactory.getLogger(RequestParsing.class);

  /** The transport's request "parser": the bytes as they are, readable once. */
  private static final MethodDescriptor.Marshaller<InputStream> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(InputStream value) {
          return value;
        }

        @Override
        public InputStream parse(InputStream stream) {
          // Read in the listener's onMessage, before the transport closes it. A stream that
          // cannot mark is buffered, as grpc-java's useInputStreamMessages does.
          if (stream.markSupported()) {
            return stream;
          }
          return stream instanceof KnownLength ? new KnownLengthBuffered(stream) : new BufferedInputStream(stream);
        }
      };

  private RequestParsing() {}

  /** A buffered stream that still tells its length, so the protobuf parser can size its buffer. */
  private static final class KnownLengthBuffered extends BufferedInputStream implements KnownLength {
    KnownLengthBuffered(InputStream in) {
      super(in);
    }
  }

  /**
   * {@code service} with every method taking its request as bytes and parsing it inside the call.
   */
  static ServerServiceDefinition guard(ServerServiceDefinition service) {
    ServiceDescriptor original = service.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName()).setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : service.getMethods()) {
      ServerMethodDefinition<InputStream, ?> raw = rawRequests(m);
      descriptor.addMethod(raw.getMethodDescriptor());
      methods.add(raw);
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }

  private static <Q, R> ServerMethodDefinition<InputStream, R> rawRequests(ServerMethodDefinition<Q, R> m) {
    MethodDescriptor<Q, R> typed = m.getMethodDescriptor();
    MethodDescriptor<InputStream, R> raw = typed.toBuilder(RAW, typed.getResponseMarshaller()).build();
    ServerCallHandler<Q, R> handler = m.getServerCallHandler();
    return ServerMethodDefinition.create(raw, (call, headers) -> new ParsingListener<>(call, headers, typed, handler));
  }

  /**
   * The status for a request of {@code method} that did not parse: the stream's own status when it
   * raised one other than the marshaller's INTERNAL, else INVALID_ARGUMENT saying why.
   */
  static StatusRuntimeException parseFailure(MethodDescriptor<?, ?> method, RuntimeException e) {
    String type = requestTypeName(method);
    if (e instanceof StatusRuntimeException sre && sre.getStatus().getCode() != Status.Code.INTERNAL) {
      return sre; // e.g. RESOURCE_EXHAUSTED: the decompressed message exceeds the maximum size
    }
    Throwable cause = e;
    while (cause.getCause() != null && !(cause instanceof InvalidProtocolBufferException)) {
      cause = cause.getCause();
    }
    String why = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
    String message = "the request is not a valid " + type + ": " + why;
    return StatusMapper.build(
        Status.Code.INVALID_ARGUMENT,
        message,
        ErrorReason.REQUEST_INVALID,
        Map.of(),
        List.of(ApiError.violation("", message)),
        0);
  }

  /** The protobuf name of the method's request type, as its service's schema declares it. */
  private static String requestTypeName(MethodDescriptor<?, ?> method) {
    if (method.getSchemaDescriptor() instanceof ProtoMethodDescriptorSupplier s) {
      return s.getMethodDescriptor().getInputType().getFullName();
    }
    return "request of " + method.getFullMethodName();
  }

  /**
   * The listener of one call: parses each request, hands it to the handler's own listener, and ends
   * the call itself when parsing or the handler fails.
   */
  private static final class ParsingListener<Q, R> extends ServerCall.Listener<InputStream> {
    private final ServerCall<InputStream, R> call;
    private final MethodDescriptor<Q, R> method;
    private final ServerCall.Listener<Q> delegate;
    /** Set once this listener closed the call; later messages and half-close are dropped. */
    private final AtomicBoolean closed = new AtomicBoolean();

    ParsingListener(
        ServerCall<InputStream, R> call, Metadata headers, MethodDescriptor<Q, R> method, ServerCallHandler<Q, R> next) {
      this.call = call;
      this.method = method;
      this.delegate = next.startCall(new TypedCall<>(call, method), headers);
    }

    @Override
    public void onMessage(InputStream raw) {
      // The transport closes the stream once this returns.
      if (closed.get()) {
        return;
      }
      Q request;
      try {
        request = method.parseRequest(raw);
      } catch (RuntimeException e) {
        StatusRuntimeException s = parseFailure(method, e);
        end(s.getStatus(), s.getTrailers());
        return;
      }
      run(() -> delegate.onMessage(request));
    }

    @Override
    public void onHalfClose() {
      if (!closed.get()) {
        run(delegate::onHalfClose);
      }
    }

    @Override
    public void onReady() {
      if (!closed.get()) {
        run(delegate::onReady);
      }
    }

    @Override
    public void onCancel() {
      run(delegate::onCancel);
    }

    @Override
    public void onComplete() {
      run(delegate::onComplete);
    }

    /** Runs a callback of the handler's listener; a failure ends the call with INTERNAL. */
    private void run(Runnable callback) {
      try {
        callback.run();
      } catch (RuntimeException e) {
        StatusRuntimeException s = StatusMapper.toStatus(e); // logs the stack trace once, with a ref
        end(s.getStatus(), s.getTrailers());
      }
    }

    private void end(Status status, Metadata trailers) {
      if (!closed.compareAndSet(false, true)) {
        return;
      }
      try {
        call.close(status, trailers == null ? new Metadata() : trailers);
      } catch (IllegalStateException alreadyClosed) {
        // The handler closed the call before it failed: the client has its answer.
        log.debug("{}: call already closed; not sending {}", method.getFullMethodName(), status.getCode());
      }
    }
  }

  /** The call as the handler sees it: its own request type; everything else forwarded. */
  private static final class TypedCall<Q, R> extends ServerCall<Q, R> {
    private final ServerCall<InputStream, R> raw;
    private final MethodDescriptor<Q, R> method;

    TypedCall(ServerCall<InputStream, R> raw, MethodDescriptor<Q, R> method) {
      this.raw = raw;
      this.method = method;
    }

    @Override
    public void request(int numMessages) {
      raw.request(numMessages);
    }

    @Override
    public void sendHeaders(Metadata headers) {
      raw.sendHeaders(headers);
    }

    @Override
    public void sendMessage(R message) {
      raw.sendMessage(message);
    }

    @Override
    public boolean isReady() {
      return raw.isReady();
    }

    @Override
    public void close(Status status, Metadata trailers) {
      // Whatever built the status (ours, grpc's health service echoing a service name, ...), its
      // message stays bounded: a default client reads at most 8 KiB of trailers.
      String d = status.getDescription();
      if (d != null && d.length() > StatusMapper.MAX_MESSAGE_CHARS) {
        status = status.withDescription(StatusMapper.capped(d, StatusMapper.MAX_MESSAGE_CHARS));
      }
      raw.close(status, trailers);
    }

    @Override
    public boolean isCancelled() {
      return raw.isCancelled();
    }

    @Override
    public void setMessageCompression(boolean enabled) {
      raw.setMessageCompression(enabled);
    }

    @Override
    public void setCompression(String compressor) {
      raw.setCompression(compressor);
    }

    @Override
    public void setOnReadyThreshold(int numBytes) {
      raw.setOnReadyThreshold(numBytes);
    }

    @Override
    public SecurityLevel getSecurityLevel() {
      return raw.getSecurityLevel();
    }

    @Override
    public Attributes getAttributes() {
      return raw.getAttributes();
    }

    @Override
    public String getAuthority() {
      return raw.getAuthority();
    }

    @Override
    public MethodDescriptor<Q, R> getMethodDescriptor() {
      return method;
    }
  }
}
