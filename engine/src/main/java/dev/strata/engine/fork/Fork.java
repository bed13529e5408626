package dev.strata.engine.fork;

import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataException;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.LsnWatermark;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork: an independent, writable line of history with its own WAL, L0 buffers, flush pipeline
 * and manifest chain (SPEC §1). A facade over the parts that do the work, wired along the data
 * flow; it owns their lifecycle (open, the interval flush timer, drop, close) and nothing else:
 *
 * <pre>
 * write  → {@link ForkWriter} → {@link WriteController} (stalls) → WAL → {@link MemTables} (L0)
 * rotate → {@link FlushScheduler} (size, interval, Flush, shutdown) → {@link MemTables} swap
 *        under the flush lock → {@link FlushCoordinator}
 *        → {@link FlushJob} (stream phase, parallel) → {@link SnapshotPublisher} (finalizer, seq order)
 *        → {@link SnapshotEdit} → {@link SnapshotChain} (manifest) → {@link ForkTickets}, {@link SnapshotWatchers}
 * compaction → {@link CompactionPublisher} (finalizer, between flushes)
 * merge  → {@link ForkMerge} (fast-forward on the finalizer, three-way through the WAL)
 * reads  → {@link ForkReader} (head) and {@link SnapshotCache} (older snapshots)
 * open   → {@link ForkRecovery}; state → {@link ForkLifecycle}
 * </pre>
 *
 * Nothing on a fork's write path is shared with another fork but the engine's thread pools and the
 * segment store.
 *
 * <p>Thread-safe. The fork itself takes no lock; the flush lock belongs to {@link MemTables} and is
 * never held across I/O.
 */
public final class Fork implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Fork.class);

  private final ForkContext ctx;
  private final EngineOptions options;
  private final ForkEntry entry;
  private final ForkLifecycle lifecycle;
  private final WalWriter wal;
  private final CollectionRegistry collections;
  private final MemTables memTables;
  private final SnapshotChain chain;
  private final SnapshotCache snapshotCache;
  private final SnapshotWatchers watchers;
  private final ForkTickets tickets;
  private final WriteController writeController;
  private final ForkWriter writer;
  private final ForkReader reader;
  private final SnapshotPublisher publisher;
  private final FlushCoordinator<L0Buffer, FlushOutput> flush;
  private final FlushScheduler flushScheduler;
  private final CompactionPublisher compactions;
  private final ForkRetention retention;
  private final ForkMerge merges;

  private Fork(ForkContext ctx, ForkEntry entry, ForkRecovery.RecoveredFork r) {
    this.ctx = ctx;
    this.options = ctx.options();
    this.entry = entry;
    String name = entry.name();
    this.lifecycle = new ForkLifecycle(name);
    this.wal = r.wal();
    this.collections = r.collections();
    LsnWatermark watermark = new LsnWatermark(wal.lastLsn());
    this.memTables = new MemTables(r.active(), r.head());
    this.chain = new SnapshotChain(entry, r.manifests(), r.retained(), r.segmentsKnown(), ctx.segments(), ctx.segmentIds());
    this.snapshotCache = new SnapshotCache(chain, ctx.segments());
    this.watchers = new SnapshotWatchers(name);
    this.tickets = new ForkTickets(entry, wal, memTables, chain);
    this.reader = new ForkReader(name, ctx.segments(), collections, memTables);
    FlushJob flushJob = new FlushJob(ctx, name, wal, watermark, collections, memTables);
    this.publisher =
        new SnapshotPublisher(
            ctx, entry, wal, memTables, chain, collections, tickets, watchers, lifecycle,
            () -> ctx.onPublished().accept(this),
            r.merges());
    this.flush =
        new FlushCoordinator<>(
            memTables.flushLock(),
            name,
            r.head() == null ? 1 : r.head().manifest().getSeq() + 1,
            options.maxPendingFlushes(),
            options.streamTimeoutMs(),
            options.flushMaxRetries(),
            options.retryBackoffMs(),
            ctx.streamPool(),
            ctx.finalizerPool(),
            ctx.scheduler(),
            flushJob::stream,
            publisher::publish,
            publisher::discard,
            (seq, cause) -> lifecycle.turnReadOnly("publication of seq " + seq + " failed: " + cause.getMessage()));
    this.flushScheduler =
        new FlushScheduler(
            name, options.l0MaxBytes(), options.flushIntervalMs(), ctx.scheduler(), wal, memTables, flush, tickets, lifecycle);
    this.writeController =
        new WriteController(name, options.l0MaxBytes(), options.writeStallTimeoutMs(),
            options.compaction().enabled() ? options.compaction().stopWritesSegments() : 0,
            () -> memTables.current().active().sizeBytes(), this::headSegmentCount, flushScheduler::rotate, lifecycle,
            ctx.writeBuffers(), () -> memTables.current().active().reservedBytes(),
            () -> memTables.current().l0ReservedBytes(), flushScheduler::rotateForMemory);
    this.writer = new ForkWriter(name, wal, watermark, memTables, collections, writeController, lifecycle);
    this.compactions = new CompactionPublisher(ctx, entry, memTables, chain, flush, watchers, writeController, lifecycle);
    this.retention = new ForkRetention(lifecycle, chain, snapshotCache);
    this.merges = new ForkMerge(ctx, entry, wal, watermark, memTables, chain, collections, flush, flushScheduler, tickets,
        watchers, lifecycle, r.merges());
    lifecycle.onReadOnly(
        reason -> {
          writeController.wake();
          tickets.failAll(StrataException.failedPrecondition("fork '" + name + "' is read-only: " + reason));
        });
  }

  /**
   * Opens a fork and recovers it ({@link ForkRecovery}): loads the head manifest and checks the
   * chain, pins the head's segments, replays the WAL after the head's covered LSN into L0. A fork
   * whose catalog entry names a base snapshot but has no manifest on disk yet (a new fork
   * creation) gets its first manifest from {@code base}. A fork with a broken chain or an
   * unreadable manifest opens read-only, saying why.
   *
   * @param base the base snapshot's manifest, needed only in that case (else may be null)
   * @throws IOException if the WAL or manifest directory cannot be opened
   */
  public static Fork open(ForkContext ctx, ForkEntry entry, Manifest base) throws IOException {
    return create(ctx, entry, base, null);
  }

  /**
   * Opens a new fork on its saved catalog entry: its first manifest, derived from {@code base} (O(1):
   * the base's segments; nothing copied), stays in memory until its first publication; the liveness
   * of {@code openBase} (the base snapshot, already open, or null) is reused.
   */
  public static Fork create(ForkContext ctx, ForkEntry entry, Manifest base, PublishedSnapshot openBase)
      throws IOException {
    ForkRecovery.RecoveredFork r = ForkRecovery.recover(ctx, entry, base, openBase);
    Fork fork = new Fork(ctx, entry, r);
    if (r.problem() != null) {
      fork.lifecycle.turnReadOnly(r.problem());
    }
    return fork;
  }

  /** True if the fork's manifest directory holds at least one published manifest. */
  public static boolean hasManifest(ForkContext ctx, ForkEntry entry) throws IOException {
    return ForkRecovery.hasManifest(ctx, entry);
  }

  /** {@code <forkId>-<seq, 12 digits>}: unique across forks, sorts by seq within one. */
  public static String snapshotId(String forkId, long seq) {
    return SnapshotEdit.snapshotId(forkId, seq);
  }

  /** The fork id inside a snapshot id ({@code <fork id>-<seq>}: before the last '-'), or "" if none. */
  public static String forkIdOf(String snapshotId) {
    return SnapshotEdit.forkIdOf(snapshotId);
  }

  /**
   * Starts the interval flush timer. The engine calls it once recovery is complete (its orphan
   * sweep must not race flushes).
   */
  public void startTimer() {
    if (!lifecycle.isClosed()) {
      flushScheduler.startTimer();
    }
  }

  private int headSegmentCount() {
    PublishedSnapshot head = memTables.current().head();
    return head == null ? 0 : head.segments().size();
  }

  /** The fork's name. */
  public String name() {
    return entry.name();
  }

  /** The fork's stable id. */
  public String id() {
    return entry.forkId();
  }

  /** The catalog entry this fork was opened with. */
  public ForkEntry entry() {
    return entry;
  }

  /** Why the fork is read-only, or null if it is writable. */
  public String readOnlyReason() {
    return lifecycle.readOnlyReason();
  }

  /** True while a drop is in progress. */
  public boolean isDropping() {
    return lifecycle.isDropping();
  }

  /** The engine context this fork runs in (compaction jobs). */
  ForkContext context() {
    return ctx;
  }

  /**
   * Returns the collection, creating it (durably, through the WAL) if it does not exist.
   *
   * @throws StrataException FAILED_PRECONDITION on a schema conflict or a read-only fork
   */
  public CollectionRegistry.Collection createOrGetCollection(String name, CollectionSchema schema) {
    return writer.defineCollection(name, schema).collection();
  }

  /**
   * As {@link #createOrGetCollection}, saying whether this call created the collection: among
   * racing callers exactly one is told it did.
   */
  public CollectionRegistry.Defined defineCollection(String name, CollectionSchema schema) {
    return writer.defineCollection(name, schema);
  }

  /** The fork's collections. */
  public CollectionRegistry collections() {
    return collections;
  }

  /**
   * Applies {@code mutations} to {@code collection} atomically: one WAL record, then L0 ({@link
   * ForkWriter}).
   *
   * @return the WAL LSN of the write
   * @throws StrataException INVALID_ARGUMENT (bad document; nothing applied), NOT_FOUND (no such
   *     collection), RESOURCE_EXHAUSTED (write stall), FAILED_PRECONDITION (read-only or dropping),
   *     IO_ERROR (WAL failure; the fork turns read-only)
   */
  public long write(String collection, List<Mutation> mutations, Durability durability) {
    return writer.write(collection, mutations, durability);
  }

  /**
   * {@link #write} without waiting for the WAL: validated here, the rest on {@code executors}, the
   * future completed from the group commit. Threads, statuses: {@link ForkWriter#writeAsync}.
   */
  public CompletableFuture<Long> writeAsync(String collection, List<Mutation> mutations, Durability durability,
      WriteExecutors executors, BooleanSupplier abandoned) {
    return writer.writeAsync(collection, mutations, durability, executors, abandoned);
  }

  /**
   * Requests a flush and returns its ticket at once.
   *
   * @param permitWaitMs how long to wait for a permit (the write-stall timeout for clients)
   * @throws StrataException RESOURCE_EXHAUSTED if no permit came in time; FAILED_PRECONDITION if
   *     read-only
   */
  public FlushTicket flush(long permitWaitMs) {
    return flushScheduler.requestFlush(permitWaitMs);
  }

  /**
   * A future of the first snapshot covering the ticket's LSN; cancelling it leaves the ticket alone.
   *
   * @throws StrataException NOT_FOUND if the ticket is of another (dropped) fork with this name;
   *     INVALID_ARGUMENT if its LSN is beyond this fork's WAL
   */
  public CompletableFuture<Manifest> awaitTicket(FlushTicket ticket) {
    return tickets.await(ticket);
  }

  /**
   * The newest version of a document at the fork's head (L0, then the head's segments), undecoded
   * (its stored form is a view of L0 or segment bytes).
   *
   * @return the version, or null if absent or deleted
   * @throws StrataException NOT_FOUND if the collection does not exist
   */
  public DocumentVersion get(String collection, String id) {
    return reader.get(collection, id);
  }

  /** The fork's read path (BatchGet's {@link ForkReader#get(String, List, PublishedSnapshot)}). */
  public ForkReader reader() {
    return reader;
  }

  /**
   * Live documents of {@code collection} with id ≥ {@code startId}, in id order, at the head (L0 +
   * head segments) or at {@code snapshot} (its segments only), at most {@code limit}.
   */
  public List<SegmentEntry> scan(String collection, String startId, int limit, PublishedSnapshot snapshot) {
    return reader.scan(collection, startId, limit, snapshot);
  }

  /**
   * Full-text search over a published snapshot (the head if {@code snapshot} is null).
   *
   * @throws StrataException NOT_FOUND if the collection is not in the snapshot; INVALID_ARGUMENT on
   *     a bad query
   */
  public SearchResult search(String collection, SearchQuery query, PublishedSnapshot snapshot) {
    return reader.search(collection, query, snapshot);
  }

  /** The head snapshot, referenced for the caller (who releases it); null before the first flush. */
  public PublishedSnapshot acquireHead() {
    return memTables.acquireHead();
  }

  /**
   * A retained snapshot of this fork with a reference taken (the caller releases it).
   *
   * @throws StrataException NOT_FOUND if this fork has no snapshot {@code snapshotId}
   */
  public PublishedSnapshot acquireSnapshot(String snapshotId) {
    PublishedSnapshot head = acquireHead();
    if (head != null) {
      if (head.id().equals(snapshotId)) {
        return head;
      }
      head.release();
    }
    return snapshotCache.acquire(snapshotId);
  }

  /** The head manifest, if any. */
  public Optional<Manifest> head() {
    PublishedSnapshot h = memTables.current().head();
    return h == null ? Optional.empty() : Optional.of(h.manifest());
  }

  /** Every retained manifest of this fork, oldest first. */
  public List<Manifest> listSnapshots() {
    return chain.list();
  }

  /**
   * Loads one retained manifest by id.
   *
   * @throws StrataException NOT_FOUND if this fork has no such retained snapshot
   */
  public Manifest loadSnapshot(String snapshotId) {
    return chain.load(snapshotId);
  }

  /**
   * Calls {@code watcher} with every manifest published from now on, on the fork's finalizer (it
   * must return quickly); the returned action unregisters it.
   */
  public Runnable watch(Consumer<Manifest> watcher) {
    return watchers.add(watcher);
  }

  /**
   * Segment ids referenced by any retained manifest of this fork (and by a manifest whose
   * publication failed after its rename, which may be durable).
   */
  public Set<Long> referencedSegments() {
    return chain.referencedSegments();
  }

  /** False if a manifest could not be read at open: this fork's segments are then not all known. */
  public boolean segmentsKnown() {
    return chain.segmentsKnown();
  }

  /**
   * Bytes of every segment a retained snapshot of this fork refers to, by segment id (from the
   * manifests' sizes; no file is read).
   */
  public Map<Long, Long> retainedSegmentBytes() {
    return chain.retainedSegmentBytes();
  }

  /** Number of retained snapshots (no file is read). */
  public int retainedSnapshotCount() {
    return chain.retainedCount();
  }

  /** False while the head is this new fork's first manifest, derived and not yet written. */
  public boolean isHeadDurable() {
    return chain.isHeadDurable();
  }

  /** Writes the derived first manifest now, before its base may go ({@link SnapshotChain#materializeHead}). */
  public void materializeHead(long timeoutMs) throws IOException {
    chain.materializeHead(timeoutMs);
  }

  /** The manifest chain problems (empty = OK). */
  public List<String> verifyChain() throws IOException {
    return chain.verifyChain();
  }

  /** The head's segment sizes in bytes, newest first (what the merge policy looks at). */
  public List<Long> headSegmentSizes() {
    List<Long> out = new ArrayList<>();
    head().ifPresent(m -> m.getSegmentsList().forEach(r -> out.add(r.getSizeBytes())));
    return out;
  }

  /**
   * Queues a compaction's publication on this fork's finalizer ({@link CompactionPublisher}): after
   * every flush rotated before it, before every later one; returns at once.
   *
   * @return completes with the result on the finalizer; never fails for an abort (the result says
   *     why), fails if the publication itself failed
   */
  public CompletableFuture<CompactionResult> publishCompaction(CompactionOutput out) {
    return compactions.publish(out);
  }

  /**
   * Merges a source snapshot into this fork ({@link ForkMerge}): fast-forward or three-way, all or
   * nothing. Runs on the caller's thread; statuses: {@link ForkMerge#merge}.
   */
  public MergeResult merge(MergeRequest request) {
    return merges.merge(request);
  }

  /** Deletes a compaction's segment that will not be queued for publication. */
  void discardUnpublished(CompactionOutput out) {
    compactions.discard(out);
  }

  /** Records a failed compaction job for {@code Stats} ({@code last_error}). */
  public void compactionFailed(Throwable t) {
    compactions.failed(t);
  }

  /** True if the fork takes compactions (open, writable, not being dropped). */
  public boolean compactable() {
    return lifecycle.isWritable();
  }

  /** This fork's snapshot expiry, for the engine's retention pass ({@link ForkRetention}). */
  public ForkRetention retention() {
    return retention;
  }

  /** Every retained snapshot of this fork, oldest first (from memory; no file is read). */
  public List<RetainedSnapshot> retainedSnapshots() {
    return chain.retained();
  }

  /** Current statistics. */
  public ForkStats stats() {
    return ForkStats.read(entry, memTables.current(), wal, flush, publisher, compactions, writeController, chain, lifecycle);
  }

  /** Rotate-to-publish time of the last published flush, ms (0 before the first). */
  public long lastFlushDurationMs() {
    return publisher.lastFlushDurationMs();
  }

  /**
   * Starts a drop: refuse new writes.
   *
   * @throws StrataException FAILED_PRECONDITION if a drop is already in progress
   */
  public void beginDrop() {
    lifecycle.beginDrop();
  }

  /** Ends a drop that will not happen (drain timed out): writable again. */
  public void abortDrop() {
    lifecycle.abortDrop();
  }

  /**
   * Waits for in-flight flushes (a read-only fork has nothing to wait for: its flushes are
   * abandoned).
   *
   * @return flushes still pending
   */
  public int drain(long timeoutMs) throws InterruptedException {
    if (lifecycle.readOnlyReason() != null) {
      return 0;
    }
    return flush.drain(timeoutMs);
  }

  /**
   * Flushes everything in L0 and waits up to {@code timeoutMs} for it to be published (shutdown).
   *
   * @return true if every write is in a published snapshot
   */
  public boolean flushAndWait(long timeoutMs) {
    CompletableFuture<Manifest> f = flushForShutdown(timeoutMs);
    try {
      f.get(timeoutMs, TimeUnit.MILLISECONDS);
      return true;
    } catch (Exception e) {
      log.warn("fork={} final flush did not complete: {}", entry.name(), e.toString());
      return false;
    }
  }

  /**
   * Starts the shutdown flush: a future of the snapshot that covers every write so far, already
   * complete if there is nothing to flush, failed if the fork cannot flush.
   */
  public CompletableFuture<Manifest> flushForShutdown(long permitWaitMs) {
    return flushScheduler.flushForShutdown(permitWaitMs);
  }

  /**
   * Stops the timer and the pipeline, fails waiting tickets, releases snapshots, closes WAL and
   * manifest store. Unflushed data stays in the WAL. Idempotent.
   */
  @Override
  public void close() {
    if (!lifecycle.markClosed()) {
      return;
    }
    flushScheduler.stopTimer();
    try {
      int left = flush.shutdown(Math.max(1000, options.streamTimeoutMs() / 4));
      if (left > 0) {
        log.warn("fork={} closed with {} flushes unpublished; the WAL keeps their data", entry.name(), left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tickets.failAll(StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + entry.name() + "' closed"));
    PublishedSnapshot head = memTables.detachHead();
    if (head != null) {
      head.release();
    }
    snapshotCache.clear();
    writeController.close();
    try {
      wal.close();
    } catch (IOException e) {
      log.warn("fork={} WAL close failed: {}", entry.name(), e.toString());
    }
    chain.close();
  }

  /** Fails tickets with NOT_FOUND (the fork is gone), then closes. */
  public void closeForDrop() {
    tickets.failAll(StrataException.notFound("fork '" + entry.name() + "' was dropped"));
    close();
  }

  /**
   * Simulated crash, for tests: stops the timer and releases in-memory state without draining,
   * flushing or syncing anything. Call after the engine's threads are stopped.
   */
  public void halt() {
    lifecycle.markClosed();
    flushScheduler.stopTimer();
    writeController.close();
    try {
      wal.close();
    } catch (IOException | RuntimeException e) {
      log.debug("fork={} WAL close during halt: {}", entry.name(), e.toString());
    }
    chain.close();
  }
}
