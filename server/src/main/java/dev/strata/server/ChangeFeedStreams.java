package dev.strata.server;

import dev.strata.api.v1.ChangeOp;
import dev.strata.api.v1.DocumentChange;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.engine.ChangeFeed;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open {@code WatchChanges} streams (the change feed, {@link ChangeFeed}).
 *
 * <h2>One stream</h2>
 *
 * A {@link Feed} owns an engine cursor at the client's position. Its pump reads every snapshot
 * after the cursor up to the head ({@link StrataEngine#readChanges}) and sends each snapshot's
 * changes in messages of at most {@value #BATCH_CHANGES} changes or about {@value #BATCH_BYTES}
 * bytes, the last one with {@code snapshot_complete}. With {@code follow} the fork's listener
 * ({@link Fork#watch}, on the fork's finalizer) only wakes the pump; without it the stream ends
 * with OK after the head's snapshot.
 *
 * <h2>Flow control</h2>
 *
 * The pump runs on this class's own pool, never on a gRPC thread, so the call's {@code onReady}
 * handler can run while the pump waits: before each message the pump waits until {@link
 * ServerCallStreamObserver#isReady()}, woken by the handler (and every 100 ms to check
 * cancellation). A slow client therefore slows the reading of segments instead of filling the
 * server's memory; a client that reads nothing for {@value StreamSender#MAX_STALL_MS} ms is cut off
 * with ABORTED. A pump runs only while it has something to send: a caught-up follower holds no
 * thread. Its engine cursor pins the segments of its position, so neither retention nor compaction
 * can take them while the stream is open.
 *
 * <h2>Endings</h2>
 *
 * Cancellation and the deadline (the call's onCancel handler) stop the pump at its next message;
 * a dropped fork ends the stream with NOT_FOUND (FORK_DROPPED, from a periodic check), shutdown
 * with UNAVAILABLE (resume from the last complete snapshot). Every ending goes through the pump,
 * which alone touches the cursor and the stream, then releases the cursor and the listener.
 *
 * <p>Thread-safe. The pool's threads are daemons owned here and stopped by {@link #closeAll}.
 */
final class ChangeFeedStreams {
  private static final Logger log = LoggerFactory.getLogger(ChangeFeedStreams.class);

  /** Changes per message at most. */
  static final int BATCH_CHANGES = 1000;

  /** A message is sent once its changes reach about this many bytes. */
  static final int BATCH_BYTES = 1 << 20;

  private static final long DROP_CHECK_MS = 1000;
  private static final long READY_POLL_MS = 100;

  private final ServerContext ctx;
  private final Set<Feed> open = ConcurrentHashMap.newKeySet();
  private final ExecutorService pumps;
  private final ScheduledFuture<?> dropCheck;

  ChangeFeedStreams(ServerContext ctx, ScheduledExecutorService scheduler) {
    this.ctx = ctx;
    AtomicLong n = new AtomicLong();
    this.pumps =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "strata-change-feed-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.dropCheck =
        scheduler.scheduleWithFixedDelay(this::checkDropped, DROP_CHECK_MS, DROP_CHECK_MS, TimeUnit.MILLISECONDS);
  }

  /**
   * Handles one {@code WatchChanges} call: validates, opens the cursor (statuses as snapshot.proto
   * says, sent at once), then starts the pump.
   */
  void start(WatchChangesRequest req, ServerCallStreamObserver<WatchChangesResponse> call) {
    ChangeFeed.Cursor cursor;
    Fork fork;
    try {
      Violations v = new Violations();
      String forkName = v.forkOrMain("fork", req.getFork());
      if (!req.getCollection().isEmpty()) {
        v.name("collection", req.getCollection(), "collection");
      }
      v.snapshotId("after_snapshot_id", req.getAfterSnapshotId());
      v.throwIfAny();
      StrataEngine engine = ctx.engine();
      fork = Resolver.fork(engine, forkName);
      if (!req.getCollection().isEmpty()) {
        Resolver.collection(fork, req.getCollection());
      }
      cursor = engine.openChanges(forkName, req.getAfterSnapshotId());
    } catch (RuntimeException e) {
      Rpc.fail(call, e, "after_snapshot_id");
      return;
    }
    Feed f = new Feed(fork, cursor, req.getCollection(), req.getFollow(), call);
    call.setOnCancelHandler(f::cancelled);
    call.setOnReadyHandler(f::ready);
    open.add(f);
    if (req.getFollow()) {
      Runnable u = fork.watch(m -> f.signal());
      f.unregister = u;
      if (f.finished) {
        u.run(); // the feed ended before its listener was in place
      }
    }
    f.signal();
  }

  /** Number of open feeds (for tests and stats). */
  int openCount() {
    return open.size();
  }

  /**
   * Ends every feed with UNAVAILABLE, stops the drop check and the pool (shutdown); waits at most
   * {@code waitMs} for the feeds to end.
   */
  void closeAll(long waitMs) throws InterruptedException {
    dropCheck.cancel(false);
    for (Feed f : List.copyOf(open)) {
      f.close(
          StatusMapper.build(
              Status.Code.UNAVAILABLE,
              "the server is shutting down; resume with after_snapshot_id = the last complete snapshot",
              ErrorReason.SERVER_SHUTTING_DOWN,
              Map.of(),
              List.of(),
              0));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
    while (!open.isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    pumps.shutdown();
    if (!pumps.awaitTermination(Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())), TimeUnit.MILLISECONDS)) {
      pumps.shutdownNow();
    }
  }

  private void checkDropped() {
    StrataEngine e = ctx.state.engineOrNull();
    if (e == null) {
      return;
    }
    for (Feed f : List.copyOf(open)) {
      try {
        if (e.forkById(f.forkId).isEmpty()) {
          f.close(
              StatusMapper.build(
                  Status.Code.NOT_FOUND,
                  "fork '" + f.forkName + "' (id " + f.forkId + ") was dropped",
                  ErrorReason.FORK_DROPPED,
                  Map.of("fork", f.forkName, "fork_id", f.forkId),
                  List.of(),
                  0));
        }
      } catch (RuntimeException ex) {
        log.debug("change feed drop check failed: {}", ex.toString());
      }
    }
  }

  /**
   * One client's feed. {@link #signal} runs the pump on the pool, one run at a time (a
   * work-in-progress counter: a signal during a run makes it loop once more); everything else only
   * sets a flag and wakes the pump.
   */
  final class Feed implements ChangeFeed.Sink {
    final String forkId;
    final String forkName;
    private final ChangeFeed.Cursor cursor;
    private final String collection;
    private final boolean follow;
    private final ServerCallStreamObserver<WatchChangesResponse> call;
    private final AtomicInteger wip = new AtomicInteger();
    private final Semaphore readySignal = new Semaphore(0);
    private final AtomicReference<StatusRuntimeException> closing = new AtomicReference<>();
    private volatile boolean cancelled;
    private volatile Runnable unregister;

    /** Set by the pump's ending (or when no pump can run any more). */
    private volatile boolean finished;
    private final WatchChangesResponse.Builder batch = WatchChangesResponse.newBuilder();
    private long batchBytes;
    private String batchSnapshot = "";
    private SnapshotKind batchKind = SnapshotKind.SNAPSHOT_KIND_UNSPECIFIED;

    Feed(Fork fork, ChangeFeed.Cursor cursor, String collection, boolean follow, ServerCallStreamObserver<WatchChangesResponse> call) {
      this.forkId = fork.id();
      this.forkName = fork.name();
      this.cursor = cursor;
      this.collection = collection;
      this.follow = follow;
      this.call = call;
    }

    /** Something to do (a new snapshot, the start, an ending): run the pump. */
    void signal() {
      if (wip.getAndIncrement() == 0) {
        try {
          pumps.execute(this::pump);
        } catch (RejectedExecutionException e) {
          // Shut down: no pump runs or will run; the server cancels the stream.
          finished = true;
          releaseQuietly();
        }
      }
    }

    /** The call's onReady handler: wake a pump that waits for the transport. */
    void ready() {
      readySignal.release();
    }

    /** The call's onCancel handler (client gone, deadline passed). */
    void cancelled() {
      cancelled = true;
      readySignal.release();
      signal();
    }

    /** Ends the feed with {@code status}, from any thread. */
    void close(StatusRuntimeException status) {
      if (closing.compareAndSet(null, status)) {
        readySignal.release();
        signal();
      }
    }

    private void pump() {
      do {
        if (!finished) {
          pumpOnce();
        }
      } while (wip.decrementAndGet() != 0);
    }

    private void pumpOnce() {
      try {
        if (stopping()) {
          end(null);
          return;
        }
        boolean more = ctx.engine().readChanges(cursor, collection, this);
        if (!more || stopping()) {
          end(null);
        } else if (!follow) {
          end(Status.OK.asRuntimeException());
        }
      } catch (RuntimeException e) {
        end(StatusMapper.toStatus(e));
      }
    }

    private boolean stopping() {
      return cancelled || closing.get() != null;
    }

    /**
     * Ends the stream: with {@code status} (OK completes it), or with the closing status if one
     * was set, or silently after a cancellation; releases the cursor and the listener.
     */
    private void end(StatusRuntimeException status) {
      finished = true;
      StatusRuntimeException s = closing.get() != null ? closing.get() : status;
      if (!cancelled && s != null) {
        try {
          if (s.getStatus().isOk()) {
            call.onCompleted();
          } else {
            call.onError(s);
          }
        } catch (RuntimeException ignored) {
          // cancelled meanwhile
        }
      }
      releaseQuietly();
    }

    private void releaseQuietly() {
      open.remove(this);
      Runnable u = unregister;
      if (u != null) {
        u.run();
      }
      if (finished) {
        cursor.close(); // the pump's own thread, or a pump that never ran (pool shut down): none runs now
      }
    }

    @Override
    public boolean change(ChangeFeed.Change c) {
      if (!c.snapshotId().equals(batchSnapshot)) {
        batchSnapshot = c.snapshotId();
        batchKind = kindOf(c.snapshotId());
      }
      DocumentChange.Builder d =
          DocumentChange.newBuilder()
              .setSnapshotId(c.snapshotId())
              .setCollection(c.collection())
              .setId(c.id())
              .setLsn(c.lsn());
      if (c.document() == null) {
        d.setOp(ChangeOp.CHANGE_OP_DELETE);
      } else {
        d.setOp(ChangeOp.CHANGE_OP_PUT).setDocument(ApiConversions.document(c.document()));
        batchBytes += c.document().bodySize();
      }
      batchBytes += c.id().length() + c.collection().length() + 48;
      batch.addChanges(d);
      if (batch.getChangesCount() >= BATCH_CHANGES || batchBytes >= BATCH_BYTES) {
        return send(batch.setSnapshotId(c.snapshotId()).setSeq(c.seq()).setKind(batchKind).build());
      }
      return true;
    }

    @Override
    public boolean snapshotDone(Manifest snapshot) {
      return send(
          batch
              .setSnapshotId(snapshot.getId())
              .setSeq(snapshot.getSeq())
              .setKind(ApiConversions.kind(snapshot))
              .setSnapshotComplete(true)
              .build());
    }

    private SnapshotKind kindOf(String snapshotId) {
      return ctx.engine().findManifest(snapshotId).map(ApiConversions::kind).orElse(SnapshotKind.SNAPSHOT_KIND_UNSPECIFIED);
    }

    /**
     * Sends one message once the transport is ready (class comment); clears the batch.
     *
     * @return false if the feed is stopping (cancelled, closed): stop reading
     * @throws ApiError ABORTED if the client read nothing for {@value StreamSender#MAX_STALL_MS} ms
     */
    private boolean send(WatchChangesResponse message) {
      batch.clear();
      batchBytes = 0;
      long start = System.nanoTime();
      while (!call.isReady()) {
        if (stopping()) {
          return false;
        }
        if (System.nanoTime() - start > TimeUnit.MILLISECONDS.toNanos(StreamSender.MAX_STALL_MS)) {
          throw ApiError.of(
              Status.Code.ABORTED,
              null,
              "the client read nothing for " + StreamSender.MAX_STALL_MS + " ms; resume with after_snapshot_id");
        }
        try {
          readySignal.tryAcquire(READY_POLL_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      if (stopping()) {
        return false;
      }
      call.onNext(message);
      return true;
    }
  }
}
