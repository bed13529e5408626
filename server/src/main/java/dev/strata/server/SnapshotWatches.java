package dev.strata.server;

import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.WatchSnapshotsResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open {@code WatchSnapshots} streams. Each {@link Watch} registers a listener on its fork
 * ({@link Fork#watch}); the listener runs on the fork's finalizer, so it only queues the manifest
 * and hands the sending to the RPC executor. Sending follows the transport's flow control; a
 * client more than {@value #MAX_BACKLOG} snapshots behind is cut off with ABORTED (it resumes with
 * {@code after_seq}). A periodic check ends watches whose fork was dropped (NOT_FOUND,
 * FORK_DROPPED): the engine does not tell its listeners. At shutdown every watch ends with
 * UNAVAILABLE. Thread-safe.
 */
final class SnapshotWatches {
  private static final Logger log = LoggerFactory.getLogger(SnapshotWatches.class);

  /** Snapshots queued for one client beyond its replay before it is cut off. */
  static final int MAX_BACKLOG = 1024;

  private static final long DROP_CHECK_MS = 1000;

  private final ServerContext ctx;
  private final Set<Watch> open = ConcurrentHashMap.newKeySet();
  private final ScheduledFuture<?> dropCheck;

  SnapshotWatches(ServerContext ctx, ScheduledExecutorService scheduler) {
    this.ctx = ctx;
    this.dropCheck =
        scheduler.scheduleWithFixedDelay(this::checkDropped, DROP_CHECK_MS, DROP_CHECK_MS, TimeUnit.MILLISECONDS);
  }

  /**
   * Starts a watch of {@code fork}: registers first, then replays the retained snapshots with a
   * seq above {@code afterSeq} (none if null), then continues live; each snapshot is sent once.
   */
  void start(Fork fork, Long afterSeq, ServerCallStreamObserver<WatchSnapshotsResponse> call, Executor replayOn) {
    Watch w = new Watch(fork, call);
    call.setOnCancelHandler(w::cancelled);
    call.setOnReadyHandler(w::drain);
    open.add(w);
    Runnable unregister = fork.watch(w::offer);
    w.unregister = unregister;
    if (w.closed) {
      unregister.run(); // cancelled before the listener was in place
      return;
    }
    if (afterSeq == null) {
      w.startWith(List.of());
      return;
    }
    try {
      replayOn.execute(() -> replay(w, fork, afterSeq));
    } catch (RejectedExecutionException e) {
      w.close(CallExecutors.busy(ctx.exec.blocking));
    }
  }

  /** Lists the retained snapshots after {@code afterSeq} (reads manifests) and starts the watch. */
  private static void replay(Watch w, Fork fork, long afterSeq) {
    List<Manifest> replay = new ArrayList<>(); // retained snapshots are listed oldest first
    try {
      for (Manifest m : fork.listSnapshots()) {
        if (m.getSeq() > afterSeq) {
          replay.add(m);
        }
      }
    } catch (RuntimeException e) {
      w.close(StatusMapper.toStatus(e));
      return;
    }
    w.startWith(replay);
  }

  /** Number of open watches (for tests and stats). */
  int openCount() {
    return open.size();
  }

  /**
   * Ends every watch with UNAVAILABLE and stops the drop check (shutdown); waits at most {@code
   * waitMs} for the streams to be ended.
   */
  void closeAll(long waitMs) throws InterruptedException {
    dropCheck.cancel(false);
    for (Watch w : List.copyOf(open)) {
      w.close(
          StatusMapper.build(
              Status.Code.UNAVAILABLE,
              "the server is shutting down; resume with after_seq",
              ErrorReason.SERVER_SHUTTING_DOWN,
              java.util.Map.of(),
              List.of(),
              0));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    while (!open.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
  }

  private void checkDropped() {
    StrataEngine e = ctx.state.engineOrNull();
    if (e == null) {
      return;
    }
    for (Watch w : List.copyOf(open)) {
      try {
        if (e.forkById(w.forkId).isEmpty()) {
          w.close(
              StatusMapper.build(
                  Status.Code.NOT_FOUND,
                  "fork '" + w.forkName + "' (id " + w.forkId + ") was dropped",
                  ErrorReason.FORK_DROPPED,
                  java.util.Map.of("fork", w.forkName, "fork_id", w.forkId),
                  List.of(),
                  0));
        }
      } catch (RuntimeException ex) {
        log.debug("watch drop check failed: {}", ex.toString());
      }
    }
  }

  /**
   * One client's watch. The fork's listener only queues and schedules (it runs on the fork's
   * finalizer, which must never wait for a client); every call on the stream — onNext and the
   * final onError — happens in {@link #drain}, which runs one thread at a time (a work-in-progress
   * counter, no lock held while sending).
   */
  final class Watch {
    final String forkId;
    final String forkName;
    private final ServerCallStreamObserver<WatchSnapshotsResponse> call;
    private final ConcurrentLinkedQueue<Manifest> live = new ConcurrentLinkedQueue<>();
    private final AtomicInteger liveCount = new AtomicInteger();
    private final AtomicInteger wip = new AtomicInteger();
    private final AtomicReference<StatusRuntimeException> closing = new AtomicReference<>();
    private volatile List<Manifest> replay;
    private volatile boolean closed;
    volatile Runnable unregister;

    /** Next replay entry to send; touched by drain only. */
    private int replayIndex;

    /** Seq of the last snapshot sent; touched by drain only. */
    private long lastSentSeq = Long.MIN_VALUE;

    Watch(Fork fork, ServerCallStreamObserver<WatchSnapshotsResponse> call) {
      this.forkId = fork.id();
      this.forkName = fork.name();
      this.call = call;
    }

    /** The fork's listener, on its finalizer: queue and hand over, never wait. */
    void offer(Manifest m) {
      if (closed) {
        return;
      }
      live.add(m);
      if (liveCount.incrementAndGet() > MAX_BACKLOG) {
        close(
            StatusMapper.build(
                Status.Code.ABORTED,
                "the client fell more than " + MAX_BACKLOG + " snapshots behind; resume with after_seq",
                null,
                java.util.Map.of(),
                List.of(),
                0));
      } else {
        schedule();
      }
    }

    void startWith(List<Manifest> replayed) {
      replay = List.copyOf(replayed);
      drain();
    }

    private void schedule() {
      try {
        ctx.exec.blocking.execute(this::drain);
      } catch (RejectedExecutionException e) {
        // Shutting down: the server cancels the stream.
      }
    }

    /** Ends the watch with {@code status}, from any thread. */
    void close(StatusRuntimeException status) {
      if (closing.compareAndSet(null, status)) {
        schedule();
      }
    }

    /** The client went away (or the deadline passed): forget the watch; nothing to send. */
    void cancelled() {
      closed = true;
      cleanup();
    }

    private void cleanup() {
      open.remove(this);
      Runnable u = unregister;
      if (u != null) {
        u.run();
      }
      live.clear();
    }

    /** Sends what the transport takes now, replay first, in seq order, each seq once. */
    void drain() {
      if (wip.getAndIncrement() != 0) {
        return; // the running drain loops once more
      }
      do {
        try {
          drainOnce();
        } catch (RuntimeException e) {
          closing.compareAndSet(null, StatusMapper.toStatus(e));
          try {
            drainOnce();
          } catch (RuntimeException ignored) {
            // closing below cannot fail the loop
          }
        }
      } while (wip.decrementAndGet() != 0);
    }

    private void drainOnce() {
      if (closed) {
        return;
      }
      StatusRuntimeException status = closing.get();
      if (status != null) {
        closed = true;
        try {
          call.onError(status);
        } catch (RuntimeException ignored) {
          // already cancelled
        }
        cleanup();
        return;
      }
      List<Manifest> r = replay;
      if (r == null) {
        return; // not started: the replay list is still being read
      }
      while (!closed && call.isReady()) {
        Manifest m;
        if (replayIndex < r.size()) {
          m = r.get(replayIndex++);
        } else {
          m = live.poll();
          if (m == null) {
            return;
          }
          liveCount.decrementAndGet();
        }
        if (m.getSeq() <= lastSentSeq) {
          continue;
        }
        call.onNext(WatchSnapshotsResponse.newBuilder().setSnapshot(ctx.snapshotView(m)).build());
        lastSentSeq = m.getSeq();
      }
    }
  }
}
