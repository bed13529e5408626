package dev.strata.server;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs every call and counts the calls in flight. One line per call at DEBUG; a failed call also
 * at INFO (client errors: INVALID_ARGUMENT, NOT_FOUND, ...) or WARN (server errors: INTERNAL,
 * UNAVAILABLE, ...), with the status and its message but never a stack trace (the server logs
 * those once where an unexpected error is mapped, in {@link StatusMapper}).
 *
 * <p>The in-flight count lets a graceful shutdown wait for calls to finish; streams that only end
 * when the client leaves (WatchSnapshots, health Watch, reflection) are not counted. Thread-safe.
 */
final class CallLogInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger("dev.strata.server.calls");

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition idle = lock.newCondition();

  /** Guarded by lock. */
  private int inFlight;

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    boolean counted = !isOpenEnded(method);
    if (counted) {
      change(+1);
    }
    LoggedCall<Q, R> logged = new LoggedCall<>(call, method, counted);
    ServerCall.Listener<Q> listener;
    try {
      listener = next.startCall(logged, headers);
    } catch (RuntimeException e) {
      logged.finish(Status.INTERNAL.withDescription(e.toString()), true);
      throw e;
    }
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onCancel() {
        logged.finish(Status.CANCELLED.withDescription("cancelled by the client or its deadline"), false);
        super.onCancel();
      }

      @Override
      public void onComplete() {
        logged.finish(null, false);
        super.onComplete();
      }
    };
  }

  private static boolean isOpenEnded(String method) {
    return method.equals("strata.v1.FlushService/WatchSnapshots")
        || method.startsWith("grpc.health.v1.Health/Watch")
        || method.startsWith("grpc.reflection.");
  }

  private void change(int delta) {
    lock.lock();
    try {
      inFlight += delta;
      if (inFlight == 0) {
        idle.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Calls in flight now (open-ended streams excluded). */
  int inFlight() {
    lock.lock();
    try {
      return inFlight;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits until no counted call is in flight, at most {@code timeoutMs}.
   *
   * @return calls still in flight (0 = idle)
   */
  int awaitIdle(long timeoutMs) throws InterruptedException {
    long left = TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    lock.lock();
    try {
      while (inFlight > 0 && left > 0) {
        left = idle.awaitNanos(left);
      }
      return inFlight;
    } finally {
      lock.unlock();
    }
  }

  /** A call that logs its end once and gives back its in-flight slot. */
  final class LoggedCall<Q, R> extends ForwardingServerCall.SimpleForwardingServerCall<Q, R> {
    private final String method;
    private final boolean counted;
    private final long startNanos = System.nanoTime();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile String caller = "-";

    LoggedCall(ServerCall<Q, R> delegate, String method, boolean counted) {
      super(delegate);
      this.method = method;
      this.counted = counted;
    }

    /** Names the authenticated caller (a token label) for the log line. */
    void caller(String label) {
      this.caller = label;
    }

    @Override
    public void close(Status status, Metadata trailers) {
      finish(status, true);
      super.close(status, trailers);
    }

    void finish(Status status, boolean byServer) {
      if (status == null || !finished.compareAndSet(false, true)) {
        return;
      }
      if (counted) {
        change(-1);
      }
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
      SocketAddress peer = getAttributes() == null ? null : getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
      String message =
          status.getDescription() == null
              ? ""
              : StatusMapper.capped(status.getDescription(), StatusMapper.MAX_MESSAGE_CHARS).replaceAll("\\s*\n\\s*", " ");
      if (status.isOk()) {
        log.debug("call {} OK {} ms caller={} peer={}", method, ms, caller, peer);
      } else if (!byServer || StatusMapper.isClientError(status.getCode())) {
        if (byServer) {
          log.info("call {} {} {} ms caller={} peer={}: {}", method, status.getCode(), ms, caller, peer, message);
        } else {
          log.debug("call {} {} {} ms caller={} peer={}", method, status.getCode(), ms, caller, peer);
        }
      } else {
        log.warn("call {} {} {} ms caller={} peer={}: {}", method, status.getCode(), ms, caller, peer, message);
      }
    }
  }
}
