package dev.strata.server;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.SnapshotServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor.MethodType;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.protobuf.ProtoServiceDescriptorSupplier;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Calls any method of the server with request bytes as they are, the way a broken or hostile
 * client would: no marshaller of ours checks them first. Test helper; thread-safe.
 */
final class RawCalls {
  /** A method the server serves: its full gRPC name, streaming kind and request type. */
  record Method(String fullName, MethodType type, Descriptor requestType) {
    @Override
    public String toString() {
      return fullName;
    }
  }

  /** What a call got: its status, and the response messages before it. */
  record Result(Status status, Metadata trailers, List<byte[]> messages) {}

  private static final io.grpc.MethodDescriptor.Marshaller<byte[]> BYTES =
      new io.grpc.MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private RawCalls() {}

  /**
   * Every method of every service the server registers: the six {@code strata.v1} services, the
   * health service and both versions of server reflection.
   */
  static List<Method> allMethods() {
    List<io.grpc.ServiceDescriptor> services =
        List.of(
            CollectionServiceGrpc.getServiceDescriptor(),
            DocumentServiceGrpc.getServiceDescriptor(),
            FlushServiceGrpc.getServiceDescriptor(),
            SnapshotServiceGrpc.getServiceDescriptor(),
            ForkServiceGrpc.getServiceDescriptor(),
            AdminServiceGrpc.getServiceDescriptor(),
            HealthGrpc.getServiceDescriptor(),
            io.grpc.reflection.v1.ServerReflectionGrpc.getServiceDescriptor(),
            legacyReflection());
    List<Method> out = new ArrayList<>();
    for (io.grpc.ServiceDescriptor s : services) {
      ServiceDescriptor proto = ((ProtoServiceDescriptorSupplier) s.getSchemaDescriptor()).getServiceDescriptor();
      for (io.grpc.MethodDescriptor<?, ?> m : s.getMethods()) {
        MethodDescriptor pm = proto.findMethodByName(m.getBareMethodName());
        out.add(new Method(m.getFullMethodName(), m.getType(), pm.getInputType()));
      }
    }
    return out;
  }

  @SuppressWarnings("deprecation")
  private static io.grpc.ServiceDescriptor legacyReflection() {
    return io.grpc.reflection.v1alpha.ServerReflectionGrpc.getServiceDescriptor();
  }

  /**
   * Sends {@code request} as the one request message of {@code method}, half-closes, and waits for
   * the status. Streams are read until they end or {@code timeoutMs} passes; an open-ended stream
   * (a watch) then ends with the client's DEADLINE_EXCEEDED.
   */
  static Result call(Channel channel, Method method, byte[] request, long timeoutMs) {
    CompletableFuture<Result> done = start(channel, method, request, timeoutMs);
    try {
      return done.get(timeoutMs + 10_000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      done.cancel(true);
      throw new AssertionError("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      done.cancel(true);
      throw new AssertionError(method + ": no status within " + (timeoutMs + 10_000) + " ms", e);
    }
  }

  /** Starts the call of {@link #call}; the future completes with its status. */
  static CompletableFuture<Result> start(Channel channel, Method method, byte[] request, long timeoutMs) {
    io.grpc.MethodDescriptor<byte[], byte[]> md =
        io.grpc.MethodDescriptor.<byte[], byte[]>newBuilder()
            .setFullMethodName(method.fullName())
            .setType(method.type())
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();
    ClientCall<byte[], byte[]> call =
        channel.newCall(md, CallOptions.DEFAULT.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS));
    List<byte[]> messages = new ArrayList<>();
    CompletableFuture<Result> done = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          @Override
          public void onMessage(byte[] message) {
            synchronized (messages) {
              messages.add(message);
            }
            call.request(1);
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            synchronized (messages) {
              done.complete(new Result(status, trailers, List.copyOf(messages)));
            }
          }
        },
        new Metadata());
    call.request(1);
    call.sendMessage(request);
    call.halfClose();
    done.whenComplete((r, e) -> {
      if (e != null) {
        call.cancel("abandoned", e);
      }
    });
    return done;
  }
}
