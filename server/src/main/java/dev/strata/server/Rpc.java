package dev.strata.server;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Answers unary RPCs: from a body run now ({@link #unary}), with a ready response ({@link
 * #answer}), or from a future without holding a thread ({@link #whenDone}). Stateless and
 * thread-safe; an observer is answered from one thread at a time.
 */
final class Rpc {
  private Rpc() {}

  /** Answers {@code observer} with {@code body}'s result, or with {@link StatusMapper}'s status. */
  static <T> void unary(StreamObserver<T> observer, Supplier<T> body) {
    unary(observer, "", body);
  }

  /**
   * Like {@link #unary(StreamObserver, Supplier)}, naming {@code invalidField} in BadRequest when
   * the engine rejects an argument without saying which.
   */
  static <T> void unary(StreamObserver<T> observer, String invalidField, Supplier<T> body) {
    T response;
    try {
      response = body.get();
    } catch (RuntimeException e) {
      fail(observer, e, invalidField);
      return;
    }
    answer(observer, response);
  }

  /** Answers {@code observer} with {@code response} (nobody listens any more if it was cancelled). */
  static <T> void answer(StreamObserver<T> observer, T response) {
    try {
      observer.onNext(response);
      observer.onCompleted();
    } catch (StatusRuntimeException | IllegalStateException e) {
      // The call was cancelled or closed meanwhile: nobody is listening.
    }
  }

  /** Ends {@code observer} with the status of {@code e}. */
  static void fail(StreamObserver<?> observer, Throwable e, String invalidField) {
    try {
      observer.onError(StatusMapper.toStatus(e, invalidField));
    } catch (RuntimeException ignored) {
      // Already closed or cancelled.
    }
  }

  /**
   * Calls {@code then} with the value of {@code future} once it completes, holding no thread
   * meanwhile; {@code then} answers the call. When the call ends first (its deadline, or the
   * client cancels) only a dependent stage is cancelled — {@code future} itself (a ticket's) is
   * left alone — and the call gets DEADLINE_EXCEEDED or CANCELLED naming {@code what} (for the call
   * log: the client has its status already). A failed future answers its mapped status.
   *
   * @param executor runs {@code then} (in the call's context) and the failure answers; if it
   *     refuses, they run on the thread that completed the future
   */
  static <V> void whenDone(
      StreamObserver<?> observer, CompletableFuture<V> future, String what, Executor executor, Consumer<V> then) {
    Context context = Context.current();
    CompletableFuture<V> mine = future.thenApply(v -> v);
    Context.CancellationListener onCancel = c -> mine.cancel(false);
    context.addListener(onCancel, Runnable::run);
    mine.whenComplete(
        (value, err) -> {
          context.removeListener(onCancel);
          Runnable answer =
              context.wrap(
                  () -> {
                    if (err instanceof CancellationException) {
                      Deadline d = context.getDeadline();
                      fail(
                          observer,
                          d != null && d.isExpired()
                              ? Deadlines.deadlineExceeded(what)
                              : ApiError.of(Status.Code.CANCELLED, null, "the call was cancelled while waiting for " + what),
                          "");
                    } else if (err != null) {
                      fail(observer, err, "");
                    } else {
                      try {
                        then.accept(value);
                      } catch (RuntimeException e) {
                        fail(observer, e, "");
                      }
                    }
                  });
          try {
            executor.execute(answer);
          } catch (RejectedExecutionException full) {
            answer.run();
          }
        });
  }
}
