package dev.strata.server;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Waits bounded by the current call's deadline and cancellation ({@link Context#current()}).
 * Stateless and thread-safe.
 */
final class Deadlines {
  private Deadlines() {}

  /** Milliseconds left until the call's deadline (at least 1), or {@code fallbackMs} if none. */
  static long remainingMs(long fallbackMs) {
    Deadline d = Context.current().getDeadline();
    if (d == null) {
      return fallbackMs;
    }
    return Math.max(1, d.timeRemaining(TimeUnit.MILLISECONDS));
  }

  /**
   * Waits for {@code future} within the call's deadline. Only a dependent stage is cancelled when
   * the call ends first: {@code future} itself (e.g. a ticket's) is left alone.
   *
   * @param what what is awaited, for the DEADLINE_EXCEEDED message
   * @throws ApiError DEADLINE_EXCEEDED or CANCELLED; the future's own failure is rethrown as is
   */
  static <T> T await(CompletableFuture<T> future, String what) {
    Context ctx = Context.current();
    CompletableFuture<T> mine = future.thenApply(x -> x);
    Context.CancellationListener onCancel = c -> mine.cancel(false);
    ctx.addListener(onCancel, Runnable::run);
    try {
      Deadline d = ctx.getDeadline();
      return d == null ? mine.get() : mine.get(Math.max(0, d.timeRemaining(TimeUnit.NANOSECONDS)), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw deadlineExceeded(what);
    } catch (CancellationException e) {
      Deadline d = ctx.getDeadline();
      if (d != null && d.isExpired()) {
        throw deadlineExceeded(what);
      }
      throw ApiError.of(Status.Code.CANCELLED, null, "the call was cancelled while waiting for " + what);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ApiError.of(Status.Code.UNAVAILABLE, null, "interrupted while waiting for " + what);
    } finally {
      ctx.removeListener(onCancel);
    }
  }

  static ApiError deadlineExceeded(String what) {
    return ApiError.of(Status.Code.DEADLINE_EXCEEDED, null, "the call's deadline passed while waiting for " + what);
  }
}
