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
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * {@code strata.v1.FlushService}: flushes, tickets and snapshot watches. Neither AwaitFlush nor
 * Flush with {@code wait} holds a thread while it waits: each answers from the ticket future's
 * completion ({@link Rpc#whenDone}), and when the call ends first (deadline, cancel) only its own
 * dependent stage is cancelled, so the ticket stays valid. Thread-safe.
 */
final class FlushGrpcService extends FlushServiceGrpc.FlushServiceImplBase {
  private final ServerContext ctx;

  FlushGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  /**
   * Flush: the rotate runs on {@code strata-rpc-N} (it may wait for a flush permit, and makes the
   * WAL durable up to the ticket); with {@code wait} the answer comes from the ticket's future, so
   * no thread waits for the snapshot (issue #11, defect 6).
   */
  @Override
  public void flush(FlushRequest req, StreamObserver<FlushResponse> observer) {
    ctx.exec.run(ctx.exec.blocking, observer, () -> flushNow(req, observer));
  }

  private void flushNow(FlushRequest req, StreamObserver<FlushResponse> observer) {
    Fork fork;
    FlushTicket t;
    try {
      Violations v = new Violations();
      String forkName = v.forkOrMain("fork", req.getFork());
      v.throwIfAny();
      fork = Resolver.fork(ctx.engine(), forkName);
      Resolver.requireWritable(fork);
      long permitWaitMs = Math.min(ctx.config.writeStallTimeoutMs(), Deadlines.remainingMs(Long.MAX_VALUE));
      t = ctx.countingStalls(forkName, () -> fork.flush(permitWaitMs));
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "");
      return;
    }
    FlushResponse.Builder out = FlushResponse.newBuilder().setTicket(ApiConversions.ticket(t));
    if (req.getWait() && !(t.lsn() == 0 && fork.head().isEmpty())) {
      // (A fork that never had a write has nothing to wait for: no snapshot will come.)
      Rpc.whenDone(
          observer,
          fork.awaitTicket(t),
          "the flush of fork '" + fork.name() + "'",
          ctx.exec.reads,
          m -> Rpc.unary(observer, () -> out.setSnapshot(ctx.snapshotView(m)).build()));
      return;
    }
    Rpc.unary(
        observer,
        () -> {
          Optional<Manifest> head = fork.head();
          if (head.isPresent() && head.get().getCoveredLsn() >= t.lsn()) {
            CompletableFuture<Manifest> done = fork.awaitTicket(t);
            if (done.isDone() && !done.isCompletedExceptionally()) {
              out.setSnapshot(ctx.snapshotView(done.join()));
            }
          }
          return out.build();
        });
  }

  /**
   * AwaitFlush: answered from the ticket's future. The ticket is looked up on {@code strata-rpc-N}:
   * a ticket of a snapshot published earlier is answered by reading retained manifests.
   */
  @Override
  public void awaitFlush(AwaitFlushRequest req, StreamObserver<AwaitFlushResponse> observer) {
    ctx.exec.run(ctx.exec.blocking, observer, () -> awaitTicket(req, observer));
  }

  private void awaitTicket(AwaitFlushRequest req, StreamObserver<AwaitFlushResponse> observer) {
    Fork fork;
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
      fork = Resolver.forkById(ctx, forkId, req.getTicket().getForkName());
      CompletableFuture<Manifest> published = fork.awaitTicket(ApiConversions.ticket(req.getTicket()));
      // UPLOADED: the snapshot is published and it and everything it names are in the bucket.
      CompletableFuture<Manifest> ticket = tier == null
          ? published
          : published.thenCompose(m -> tier.awaitUploaded(m.getForkId(), m.getSeq()).thenApply(done -> m));
      Rpc.whenDone(
          observer,
          ticket,
          "the ticket of fork '" + fork.name() + "' (the ticket stays valid)",
          ctx.exec.reads,
          m -> Rpc.unary(observer, () -> AwaitFlushResponse.newBuilder().setSnapshot(ctx.snapshotView(m)).build()));
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "ticket.lsn");
    }
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
      // The stream's handlers are set here, on the transport thread; the replay of retained
      // snapshots (manifest reads) runs on strata-rpc-N.
      ctx.watches.start(
          fork,
          req.hasAfterSeq() ? req.getAfterSeq() : null,
          (ServerCallStreamObserver<WatchSnapshotsResponse>) observer,
          ctx.exec.blocking);
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "");
    }
  }
}
