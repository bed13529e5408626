package dev.strata.server;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends the messages of a server stream produced by a blocking loop (Scan, DiffSnapshots) with
 * flow control: {@link #send} waits while the transport is not ready, so a slow client slows the
 * producer instead of filling the server's memory, and it returns false as soon as the call is
 * cancelled or its deadline passes, so the producer stops its work.
 *
 * <p>Readiness is polled (with a growing pause, at most 20 ms) rather than signalled: the call's
 * own callbacks (onReady, onCancel) are serialized behind the producing method and would not run
 * until it returns. Cancellation is read from the call's {@link Context}, which gRPC cancels at
 * once. A client that reads nothing for {@value #MAX_STALL_MS} ms is cut off with ABORTED.
 *
 * <p>One producer thread; not thread-safe.
 */
final class StreamSender<T> {
  static final long MAX_STALL_MS = 120_000;

  private final ServerCallStreamObserver<T> call;
  private final Context context;
  private boolean done;

  StreamSender(StreamObserver<T> observer) {
    this.call = (ServerCallStreamObserver<T>) observer;
    this.context = Context.current();
    // With a handler set, onNext after a cancellation is ignored instead of throwing.
    this.call.setOnCancelHandler(() -> {});
  }

  /** True once the client went away or the deadline passed. */
  boolean cancelled() {
    return context.isCancelled();
  }

  /**
   * Sends one message once the transport can take it.
   *
   * @return false if the call ended (cancelled, deadline) — stop producing
   * @throws ApiError ABORTED if the client read nothing for {@value #MAX_STALL_MS} ms
   */
  boolean send(T message) {
    long waitNanos = 100_000;
    long start = System.nanoTime();
    while (!call.isReady()) {
      if (context.isCancelled()) {
        return false;
      }
      if (System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(MAX_STALL_MS)) {
        throw ApiError.of(Status.Code.ABORTED, null, "the client read nothing for " + MAX_STALL_MS + " ms");
      }
      LockSupport.parkNanos(waitNanos);
      waitNanos = Math.min(waitNanos * 2, 20_000_000);
    }
    if (context.isCancelled()) {
      return false;
    }
    call.onNext(message);
    return true;
  }

  /** Ends the stream with OK (unless it was cancelled). */
  void complete() {
    if (!done) {
      done = true;
      if (!context.isCancelled()) {
        call.onCompleted();
      }
    }
  }

  /** Ends the stream with the status of {@code e}. */
  void fail(Throwable e, String invalidField) {
    if (!done) {
      done = true;
      Rpc.fail(call, e, invalidField);
    }
  }
}
