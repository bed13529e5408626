package dev.strata.server;

import dev.strata.api.v1.AwaitFlushRequest;
import dev.strata.api.v1.AwaitFlushResponse;
import dev.strata.api.v1.FlushLevel;
import dev.strata.api.v1.FlushRequest;
import dev.strata.api.v1.FlushResponse;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.WatchSnapshotsRequest;
import dev.strata.api.v1.WatchSnapshotsResponse;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.objectstore.ObjectStorageTier;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code strata.v1.FlushService}: flushes, tickets and snapshot watches. AwaitFlush holds no thread
 * while it waits: it answers from the ticket future's completion, and when the call ends first
 * (deadline, cancel) only its own dependent stage is cancelled, so the ticket stays valid.
 * Thread-safe.
 */
final class FlushGrpcService extends FlushServiceGrpc.FlushServiceImplBase {
  private final ServerContext ctx;

  FlushGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void flush(FlushRequest req, StreamObserver<FlushResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          Resolver.requireWritable(fork);
          long permitWaitMs = Math.min(ctx.config.writeStallTimeoutMs(), Deadlines.remainingMs(Long.MAX_VALUE));
          FlushTicket t = ctx.countingStalls(forkName, () -> fork.flush(permitWaitMs));
          FlushResponse.Builder out = FlushResponse.newBuilder().setTicket(ApiConversions.ticket(t));
          if (req.getWait() && !(t.lsn() == 0 && fork.head().isEmpty())) {
            // (A fork that never had a write has nothing to wait for: no snapshot will come.)
            Manifest m = Deadlines.await(fork.awaitTicket(t), "the flush of fork '" + forkName + "'");
            out.setSnapshot(ctx.snapshotView(m));
          } else {
            Optional<Manifest> head = fork.head();
            if (head.isPresent() && head.get().getCoveredLsn() >= t.lsn()) {
              CompletableFuture<Manifest> done = fork.awaitTicket(t);
              if (done.isDone() && !done.isCompletedExceptionally()) {
                out.setSnapshot(ctx.snapshotView(done.join()));
              }
            }
          }
          return out.build();
        });
  }

  @Override
  public void awaitFlush(AwaitFlushRequest req, StreamObserver<AwaitFlushResponse> observer) {
    CompletableFuture<Manifest> mine;
    try {
      Violations v = new Violations();
      if (!req.hasTicket()) {
        v.add("ticket", "a ticket is required");
      } else {
        v.forkId("ticket.fork_id", req.getTicket().getForkId());
        if (req.getTicket().getLsn() < 0) {
          v.add("ticket.lsn", "lsn must not be negative, got " + req.getTicket().getLsn());
        }
      }
      if (req.getLevel() == FlushLevel.UNRECOGNIZED) {
        v.add("level", "unknown flush level " + req.getLevelValue() + " (PUBLISHED or UPLOADED)");
      }
      v.throwIfAny();
      ObjectStorageTier tier = req.getLevel() == FlushLevel.FLUSH_LEVEL_UPLOADED ? ctx.requireTier() : null;
      String forkId = req.getTicket().getForkId();
      Fork fork = Resolver.forkById(ctx, forkId, req.getTicket().getForkName());
      // A stage of our own: cancelling it at the call's end leaves the ticket's future alone.
      CompletableFuture<Manifest> published = fork.awaitTicket(ApiConversions.ticket(req.getTicket()));
      mine = tier == null
          ? published.thenApply(m -> m)
          : published.thenCompose(m -> tier.awaitUploaded(m.getForkId(), m.getSeq()).thenApply(done -> m));
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "ticket.lsn");
      return;
    }
    ServerCallStreamObserver<AwaitFlushResponse> call = (ServerCallStreamObserver<AwaitFlushResponse>) observer;
    AtomicBoolean answered = new AtomicBoolean();
    Context context = Context.current();
    call.setOnCancelHandler(() -> mine.cancel(false));
    context.addListener(c -> mine.cancel(false), Runnable::run);
    mine.whenCompleteAsync(
        (m, err) -> {
          if (!answered.compareAndSet(false, true)) {
            return;
          }
          try {
            if (err instanceof CancellationException) {
              // The call ended first (deadline or cancel): the client has its status already;
              // this one is for the call log.
              boolean late = context.getDeadline() != null && context.getDeadline().isExpired();
              call.onError(
                  (late
                          ? Status.DEADLINE_EXCEEDED.withDescription("the deadline passed first; the ticket stays valid")
                          : Status.CANCELLED.withDescription("cancelled by the client"))
                      .asRuntimeException());
            } else if (err != null) {
              call.onError(StatusMapper.toStatus(err, "ticket"));
            } else {
              call.onNext(AwaitFlushResponse.newBuilder().setSnapshot(ctx.snapshotView(m)).build());
              call.onCompleted();
            }
          } catch (StatusRuntimeException | IllegalStateException closed) {
            // Cancelled meanwhile.
          } catch (RuntimeException e) {
            Rpc.fail(call, e, "");
          }
        },
        ctx.executor);
  }

  @Override
  public void watchSnapshots(WatchSnapshotsRequest req, StreamObserver<WatchSnapshotsResponse> observer) {
    try {
      Violations v = new Violations();
      String forkName = v.forkOrMain("fork", req.getFork());
      if (req.hasAfterSeq() && req.getAfterSeq() < -1) {
        v.add("after_seq", "after_seq must be -1 (replay all) or more, got " + req.getAfterSeq());
      }
      v.throwIfAny();
      Fork fork = Resolver.fork(ctx.engine(), forkName);
      ctx.watches.start(
          fork,
          req.hasAfterSeq() ? req.getAfterSeq() : null,
          (ServerCallStreamObserver<WatchSnapshotsResponse>) observer);
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "");
    }
  }
}
