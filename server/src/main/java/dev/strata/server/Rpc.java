package dev.strata.server;

import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** Runs the body of a unary RPC and answers with its result or its mapped status. */
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
    try {
      observer.onNext(response);
      observer.onCompleted();
    } catch (StatusRuntimeException e) {
      // The call was cancelled meanwhile: nobody is listening.
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
}
