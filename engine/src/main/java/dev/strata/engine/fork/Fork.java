package dev.strata.engine.fork;

import dev.strata.engine.EngineOptions;
import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.flush.FlushTask;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.flush.TicketBoard;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.L0Key;
import dev.strata.engine.l0.LsnWatermark;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.WalEntry;
import dev.strata.engine.read.MergingScan;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentSearcher;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.WrittenSegment;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ManifestConflictException;
import dev.strata.manifest.ManifestStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestStats;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.wal.Durability;
import dev.strata.wal.WalAppend;
import dev.strata.wal.WalReader;
import dev.strata.wal.WalRecord;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fork: an independent, writable line of history with its own WAL, L0 buffers, flush pipeline
 * and manifest chain (SPEC §1). Nothing on its write path is shared with another fork but the
 * engine's thread pools and the segment store, so a slow or failing fork does not stall another.
 *
 * <h2>Write path</h2>
 *
 * {@link #write}: validate everything first (never partly applied) → stall if the active buffer is
 * full and no permit frees up → one WAL record for the whole call → wait for its fsync (SYNC) →
 * apply to the L0 buffer whose LSN range holds the record's LSN → mark the LSN done in the {@link
 * LsnWatermark}. No lock is held across the WAL append or its fsync: a rotate may therefore run
 * between a record's append and its apply, which is why the apply is routed by LSN and why a flush's
 * stream phase first waits for the watermark to reach its covered LSN.
 *
 * <h2>Flush</h2>
 *
 * Rotate (size, interval, explicit, shutdown) freezes the active buffer at {@code wal.lastLsn()};
 * the stream phase writes it to a new segment; the finalizer publishes a manifest whose segments
 * are the new one followed by the head's, in seq order (see {@link FlushCoordinator}).
 *
 * <h2>States</h2>
 *
 * ACTIVE → DROPPING (drop started; writes refused) → closed, or DROPPING → ACTIVE (drain timed
 * out). ACTIVE → READ_ONLY (a flush failed for good, or the WAL failed); READ_ONLY is left only by
 * a restart, which recovers the data from the WAL. Any → CLOSED.
 *
 * <p>Thread-safe. Lock order: the coordinator's flush lock is the only lock the fork takes, for
 * the swap of {@link ReadState}; it is never held across I/O.
 */
public final class Fork implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Fork.class);
  private static final long DURABILITY_WAIT_MS = 60_000;

  private final ForkContext ctx;
  private final EngineOptions options;
  private final ForkEntry entry;
  private final WalWriter wal;
  private final ManifestStore manifests;
  private final CollectionRegistry collections = new CollectionRegistry();
  private final LsnWatermark watermark;
  private final TicketBoard<Manifest> tickets;
  private final FlushCoordinator<L0Buffer, FlushOutput> flush;
  private final CopyOnWriteArrayList<Consumer<Manifest>> watchers = new CopyOnWriteArrayList<>();
  /**
   * Every retained manifest of this fork by seq, with what retention and GC need, so neither
   * reads manifest files. Added to when a manifest is published, removed from after its file is
   * deleted (never before: GC must not see a segment unreferenced while a manifest naming it
   * exists).
   */
  private final java.util.concurrent.ConcurrentSkipListMap<Long, RetainedSnapshot> retained =
      new java.util.concurrent.ConcurrentSkipListMap<>();
  /**
   * Segments of a manifest whose publication failed after its rename: it may be durable, so this
   * process never collects them (recovery decides from what is on disk).
   */
  private final Set<Long> inDoubtSegments = ConcurrentHashMap.newKeySet();
  /** False if a manifest could not be read at open: its segments are unknown, so no GC at all. */
  private volatile boolean segmentsKnown = true;
  private final java.util.concurrent.atomic.AtomicLong compactionsPublished = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong compactionsAborted = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong compactionBytesWritten = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong flushBytesWritten = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong compactionStalls = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong compactionStallNanos = new java.util.concurrent.atomic.AtomicLong();
  private volatile String lastCompactionError;
  private volatile long lastCompactionErrorTimeMs;
  /** Notified when a compaction publishes: writers held by the segment-count stall wait on it. */
  private final Object compactionProgress = new Object();
  private volatile long lastStallLogNanos;

  /** What retention and GC need of one retained manifest. */
  private record RetainedSnapshot(String id, long createTimeMs, Map<Long, Long> segmentBytes) {
    static RetainedSnapshot of(Manifest m) {
      Map<Long, Long> bytes = new java.util.HashMap<>();
      m.getSegmentsList().forEach(r -> bytes.put(parseSegmentId(r), r.getSizeBytes()));
      return new RetainedSnapshot(m.getId(), m.getCreateTimeMs(), Map.copyOf(bytes));
    }

    Set<Long> segmentIds() {
      return segmentBytes.keySet();
    }
  }
  /** Snapshots other than the head opened for reads, by id; each holds one reference. */
  private final ConcurrentHashMap<String, PublishedSnapshot> openedSnapshots = new ConcurrentHashMap<>();

  private volatile ReadState readState;
  /** Covered LSN of the last rotate; guarded by the flush lock for writes. */
  private volatile long lastRotatedLsn;
  private volatile String readOnlyReason;
  /** Rotate-to-publish time of the last published flush, ms. */
  private volatile long lastFlushDurationMs;
  private final java.util.concurrent.atomic.AtomicBoolean dropping =
      new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();
  private ScheduledFuture<?> intervalTimer;

  private Fork(
      ForkContext ctx,
      ForkEntry entry,
      WalWriter wal,
      ManifestStore manifests,
      PublishedSnapshot head,
      long recoveredLastLsn) {
    this.ctx = ctx;
    this.options = ctx.options();
    this.entry = entry;
    this.wal = wal;
    this.manifests = manifests;
    long covered = head == null ? 0 : head.coveredLsn();
    this.readState = new ReadState(new L0Buffer(covered), List.of(), head);
    this.lastRotatedLsn = covered;
    this.watermark = new LsnWatermark(recoveredLastLsn);
    this.tickets = new TicketBoard<>(covered, this::firstSnapshotCovering);
    long firstSeq = head == null ? 1 : head.manifest().getSeq() + 1;
    this.flush =
        new FlushCoordinator<>(
            entry.name(),
            firstSeq,
            options.maxPendingFlushes(),
            options.streamTimeoutMs(),
            options.flushMaxRetries(),
            options.retryBackoffMs(),
            ctx.streamExecutor(),
            ctx.finalizerPool(),
            ctx.scheduler(),
            this::stream,
            this::publish,
            this::discard,
            (seq, cause) -> turnReadOnly("publication of seq " + seq + " failed: " + cause.getMessage()));
  }

  /**
   * Opens a fork and recovers it: loads the head manifest and checks the chain, pins the head's
   * segments, replays the WAL after the head's covered LSN into L0. A fork whose catalog entry
   * names a base snapshot but has no manifest yet (a crash during fork creation) gets its first
   * manifest from {@code base}.
   *
   * @param base the base snapshot's manifest, needed only in that case (else may be null)
   * @throws IOException if the WAL or manifest directory cannot be opened
   */
  public static Fork open(ForkContext ctx, ForkEntry entry, Manifest base) throws IOException {
    return open(ctx, entry, base, null);
  }

  /**
   * As {@link #open(ForkContext, ForkEntry, Manifest)}, reusing the liveness of {@code
   * openBase} (the base snapshot, already open) when the head has exactly its segments — as a new
   * fork's first snapshot does — so creating a fork rebuilds nothing.
   */
  static Fork open(ForkContext ctx, ForkEntry entry, Manifest base, PublishedSnapshot openBase)
      throws IOException {
    Path dir = ctx.forkDir(entry.forkId());
    ctx.vfs().createDirectories(dir);
    ManifestStore manifests =
        ManifestStore.open(ctx.vfs(), ManifestStore.directoryFor(ctx.dataDir(), entry.forkId()), entry.forkId());
    Optional<Manifest> head = manifests.head();
    if (head.isEmpty() && !entry.baseSnapshotId().isEmpty()) {
      if (base == null) {
        throw new IOException(
            "fork '" + entry.name() + "' has no manifest and its base snapshot "
                + entry.baseSnapshotId() + " is gone");
      }
      head = Optional.of(publishFirstManifest(manifests, entry, base));
    }
    List<String> chainProblems = new ArrayList<>();
    manifests.verifyChain().forEach(p -> chainProblems.add(p.toString()));
    PublishedSnapshot headSnapshot = null;
    String openProblem = chainProblems.isEmpty() ? null : "manifest chain: " + chainProblems;
    if (head.isPresent()) {
      try {
        LivenessMap reuse = null;
        if (openBase != null
            && openBase.manifest().getSegmentsList().equals(head.get().getSegmentsList())) {
          reuse = openBase.liveness();
        }
        headSnapshot = openSnapshot(ctx.segments(), head.get(), reuse);
      } catch (RuntimeException e) {
        openProblem = "head snapshot " + head.get().getId() + " cannot be opened: " + e.getMessage();
        throw new IOException(openProblem, e);
      }
    }
    WalWriter wal;
    try {
      wal = WalWriter.open(ctx.vfs(), dir.resolve("wal"), ctx.options().wal());
    } catch (IOException | RuntimeException e) {
      // Nothing may stay pinned or open by a fork that did not open.
      if (headSnapshot != null) {
        headSnapshot.release();
      }
      manifests.close();
      throw e;
    }
    Fork fork = new Fork(ctx, entry, wal, manifests, headSnapshot, wal.lastLsn());
    try {
      return fork.finishOpen(head, openProblem);
    } catch (IOException | RuntimeException e) {
      fork.halt();
      PublishedSnapshot h = fork.readState.head();
      if (h != null) {
        h.release();
      }
      throw e;
    }
  }

  private Fork finishOpen(Optional<Manifest> head, String problem) throws IOException {
    Fork fork = this;
    String openProblem = problem;
    for (long seq : manifests.list()) {
      try {
        fork.retained.put(seq, RetainedSnapshot.of(manifests.load(seq)));
      } catch (IOException e) {
        openProblem = "manifest seq " + seq + " unreadable: " + e.getMessage();
        fork.segmentsKnown = false;
      }
    }
    head.ifPresent(m -> m.getCollectionsList().forEach(d -> fork.collections.restore(CollectionRegistry.fromDef(d))));
    int replayed = fork.replay(head.map(Manifest::getCoveredLsn).orElse(0L));
    if (openProblem != null) {
      fork.turnReadOnly(openProblem);
    }
    log.info(
        "fork={} id={} opened: head={} coveredLsn={} walLastLsn={} replayedRecords={} l0Bytes={}",
        entry.name(),
        entry.forkId(),
        head.map(Manifest::getId).orElse("-"),
        head.map(Manifest::getCoveredLsn).orElse(0L),
        wal.lastLsn(),
        replayed,
        fork.readState.active().sizeBytes());
    return fork;
  }

  private static Manifest publishFirstManifest(ManifestStore store, ForkEntry entry, Manifest base)
      throws IOException {
    Manifest first =
        Manifest.newBuilder()
            .setId(snapshotId(entry.forkId(), 1))
            .setForkId(entry.forkId())
            .setForkName(entry.name())
            .setSeq(1)
            .setParentId(base.getId())
            .setCoveredLsn(0)
            .addAllSegments(base.getSegmentsList())
            .addAllCollections(
                base.getCollectionsList().stream().map(c -> c.toBuilder().setCreatedLsn(0).build()).toList())
            .setStats(base.getStats())
            .setCreateTimeMs(System.currentTimeMillis())
            .setBaseSnapshotId(base.getId())
            .setOrigin(dev.strata.manifest.proto.ManifestOrigin.MANIFEST_ORIGIN_FLUSH)
            .build();
    try {
      return store.publish(first);
    } catch (ManifestConflictException e) {
      throw new IOException("could not publish the first manifest of fork " + entry.name(), e);
    }
  }

  /** True if the fork's manifest directory holds at least one published manifest. */
  public static boolean hasManifest(ForkContext ctx, ForkEntry entry) throws IOException {
    Path dir = ManifestStore.directoryFor(ctx.dataDir(), entry.forkId());
    if (!ctx.vfs().exists(dir)) {
      return false;
    }
    for (Path p : ctx.vfs().list(dir)) {
      if (p.getFileName().toString().endsWith(ManifestStore.FILE_SUFFIX)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Creates a new fork's first manifest from {@code base} (O(1): it refers to the base's segments;
   * no data is copied) and opens it.
   */
  public static Fork create(ForkContext ctx, ForkEntry entry, Manifest base, PublishedSnapshot openBase)
      throws IOException {
    return open(ctx, entry, base, openBase);
  }

  /** {@code <forkId>-<seq, 12 digits>}: unique across forks, sorts by seq within one. */
  public static String snapshotId(String forkId, long seq) {
    return forkId + "-" + String.format("%012d", seq);
  }

  static long parseSegmentId(SegmentRef ref) {
    return Long.parseUnsignedLong(ref.getSegmentId(), 16);
  }

  static String formatSegmentId(long id) {
    return SegmentStore.hex(id);
  }

  /** Opens a published manifest for reading: pins its segments and rebuilds its liveness. */
  static PublishedSnapshot openSnapshot(SegmentStore store, Manifest m) {
    return openSnapshot(store, m, null);
  }

  /** As above; {@code liveness}, if not null, is the manifest's known liveness (no rebuild). */
  static PublishedSnapshot openSnapshot(SegmentStore store, Manifest m, LivenessMap liveness) {
    List<Segment> segs = new ArrayList<>();
    try {
      for (SegmentRef ref : m.getSegmentsList()) {
        segs.add(store.acquire(parseSegmentId(ref)));
      }
      LivenessMap live = liveness != null ? liveness : LivenessMap.rebuild(segs, store);
      return new PublishedSnapshot(m, segs, live);
    } catch (IOException | RuntimeException e) {
      segs.forEach(Segment::release);
      throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
    }
  }

  private int replay(long coveredLsn) throws IOException {
    int n = 0;
    L0Buffer active = readState.active();
    try (WalReader reader = WalReader.open(ctx.vfs(), ctx.forkDir(entry.forkId()).resolve("wal"), coveredLsn + 1)) {
      WalRecord r;
      while ((r = reader.next()) != null) {
        if (r.lsn() <= coveredLsn) {
          continue;
        }
        WalEntry e = WalEntries.decode(r.lsn(), r.payload());
        if (e.hasDefineCollection()) {
          collections.restore(
              new CollectionRegistry.Collection(
                  e.getDefineCollection().getName(), WalEntries.schemaOf(e.getDefineCollection()), r.lsn()));
        } else if (e.hasWrite()) {
          applyTo(active, r.lsn(), e.getWrite().getCollection(), WalEntries.mutationsOf(e.getWrite()));
        }
        n++;
      }
    }
    return n;
  }

  /**
   * Starts the interval flush timer. The engine calls it once recovery is complete (its orphan
   * sweep must not race flushes).
   */
  public synchronized void startTimer() {
    if (intervalTimer != null || closed.get()) {
      return;
    }
    long interval = options.flushIntervalMs();
    if (interval > 0) {
      intervalTimer =
          ctx.scheduler()
              .scheduleWithFixedDelay(this::intervalTick, interval, interval, TimeUnit.MILLISECONDS);
    }
  }

  private void intervalTick() {
    if (closed.get() || dropping.get() || readOnlyReason != null) {
      return;
    }
    try {
      if (hasUnflushedData()) {
        rotate(0, false);
      }
    } catch (RuntimeException | InterruptedException e) {
      log.debug("fork={} interval flush skipped: {}", entry.name(), e.toString());
    }
  }

  private boolean hasUnflushedData() {
    return !readState.active().isEmpty() || wal.lastLsn() > lastRotatedLsn;
  }

  // ---------------------------------------------------------------- identity and state

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
    return readOnlyReason;
  }

  /** True while a drop is in progress. */
  public boolean isDropping() {
    return dropping.get();
  }

  private void turnReadOnly(String reason) {
    if (readOnlyReason == null) {
      readOnlyReason = reason;
      wakeStalledWriters();
      log.error("fork={} is now read-only: {}", entry.name(), reason);
      tickets.failAll(
          StrataException.failedPrecondition("fork '" + entry.name() + "' is read-only: " + reason));
    }
  }

  private void checkWritable() {
    if (closed.get()) {
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + entry.name() + "' is closed");
    }
    if (dropping.get()) {
      throw StrataException.failedPrecondition("fork '" + entry.name() + "' is being dropped");
    }
    String r = readOnlyReason;
    if (r != null) {
      throw StrataException.failedPrecondition(
          "fork '" + entry.name() + "' is read-only: " + r + " (restart recovers its data from the WAL)");
    }
  }

  // ---------------------------------------------------------------- collections

  /**
   * Returns the collection, creating it (durably, through the WAL) if it does not exist.
   *
   * @throws StrataException FAILED_PRECONDITION on a schema conflict or a read-only fork
   */
  public CollectionRegistry.Collection createOrGetCollection(String name, CollectionSchema schema) {
    dev.strata.engine.model.Names.requireValidCollection(name);
    CollectionRegistry.Collection existing = collections.get(name);
    if (existing == null) {
      checkWritable();
      // A schema Lucene cannot index (e.g. an unknown analyzer) would fail every flush later.
      dev.strata.engine.segment.DocumentIndexer.validateSchema(schema);
    }
    return collections.createOrGet(entry.name(), name, schema, this::logDefinition);
  }

  private long logDefinition(String name, CollectionSchema schema) throws IOException {
    WalAppend a = wal.append(WalEntries.encodeDefinition(name, schema), Durability.SYNC);
    try {
      awaitDurable(a);
      return a.lsn();
    } finally {
      watermark.markDone(a.lsn());
    }
  }

  /** The fork's collections. */
  public CollectionRegistry collections() {
    return collections;
  }

  // ---------------------------------------------------------------- write path

  /**
   * Applies {@code mutations} to {@code collection} atomically: one WAL record, then L0.
   *
   * @return the WAL LSN of the write
   * @throws StrataException INVALID_ARGUMENT (bad document; nothing applied), NOT_FOUND (no such
   *     collection), RESOURCE_EXHAUSTED (write stall), FAILED_PRECONDITION (read-only or dropping),
   *     IO_ERROR (WAL failure; the fork turns read-only)
   */
  public long write(String collection, List<Mutation> mutations, Durability durability) {
    checkWritable();
    if (mutations.isEmpty()) {
      throw StrataException.invalid("a write needs at least one mutation");
    }
    CollectionRegistry.Collection c = collections.require(entry.name(), collection);
    for (Mutation m : mutations) {
      if (m instanceof Mutation.Put p) {
        try {
          SegmentStore.validate(p.document(), c.schema());
        } catch (IllegalArgumentException e) {
          throw StrataException.invalid("document '" + p.id() + "': " + e.getMessage());
        }
      }
    }
    stallWhileL0Full();
    byte[] record = WalEntries.encodeWrite(collection, mutations);
    WalAppend a;
    try {
      a = wal.append(record, durability);
    } catch (IOException e) {
      throw walFailed(e);
    }
    try {
      // SYNC: the fsync covering the record. ASYNC: the record handed to the OS (survives
      // kill -9; the WAL syncer fsyncs it within wal.sync_interval).
      awaitDurable(a);
      applyRouted(a.lsn(), collection, mutations);
    } catch (IOException e) {
      throw walFailed(e);
    } finally {
      watermark.markDone(a.lsn());
    }
    return a.lsn();
  }

  private void awaitDurable(WalAppend a) throws IOException {
    try {
      a.durable().get(DURABILITY_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io ? io : new IOException(cause);
    } catch (TimeoutException e) {
      throw new IOException("WAL fsync did not complete within " + DURABILITY_WAIT_MS + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the WAL fsync", e);
    }
  }

  private StrataException walFailed(IOException e) {
    turnReadOnly("WAL failed: " + e.getMessage());
    return StrataException.of(
        StrataException.Kind.IO_ERROR, "fork '" + entry.name() + "': WAL write failed: " + e.getMessage(), e);
  }

  /**
   * Applies one WAL record to the L0 buffer that covers its LSN. Lock-free in the common case.
   * A rotate freezes the active buffer and publishes the new read state under the flush lock, and
   * {@link L0Buffer#applyRecord} is atomic with respect to the freeze; so if the record missed
   * (the buffer froze below its LSN, or the state was read mid-swap), re-reading the state under
   * the flush lock finds the buffer that covers it, which nothing can freeze while we hold it.
   */
  private void applyRouted(long lsn, String collection, List<Mutation> mutations) {
    List<Map.Entry<L0Key, DocumentVersion>> versions = versionsOf(lsn, collection, mutations);
    L0Buffer b = readState.bufferFor(lsn);
    if (b != null && b.applyRecord(lsn, versions)) {
      return;
    }
    boolean applied =
        flush.withFlushLock(
            () -> {
              L0Buffer locked = readState.bufferFor(lsn);
              return locked != null && locked.applyRecord(lsn, versions);
            });
    if (!applied) {
      throw new IllegalStateException("no L0 buffer covers LSN " + lsn + " (fork " + entry.name() + ")");
    }
  }

  private static List<Map.Entry<L0Key, DocumentVersion>> versionsOf(
      long lsn, String collection, List<Mutation> mutations) {
    List<Map.Entry<L0Key, DocumentVersion>> out = new ArrayList<>();
    for (Mutation m : WalEntries.collapse(mutations)) {
      out.add(
          Map.entry(
              new L0Key(collection, m.id()),
              new DocumentVersion(lsn, m instanceof Mutation.Put p ? p.document() : null)));
    }
    return out;
  }

  private static void applyTo(L0Buffer buffer, long lsn, String collection, List<Mutation> mutations) {
    for (Mutation m : WalEntries.collapse(mutations)) {
      DocumentVersion v =
          new DocumentVersion(lsn, m instanceof Mutation.Put p ? p.document() : null);
      buffer.apply(new L0Key(collection, m.id()), v);
    }
  }

  /**
   * Write stall: while the active buffer is at {@code l0.max_bytes}, rotate — which waits up to
   * {@code write_stall_timeout} for a permit outside any lock, then fails with RESOURCE_EXHAUSTED.
   */
  private void stallWhileL0Full() {
    if (readState.active().sizeBytes() >= options.l0MaxBytes()) {
      stallWhileTooManySegments();
    }
    while (readState.active().sizeBytes() >= options.l0MaxBytes()) {
      try {
        if (rotate(options.writeStallTimeoutMs(), true) == null) {
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted during a write stall");
      }
    }
  }

  /**
   * Rotates if there is something to flush.
   *
   * @param onlyIfFull rotate only if the active buffer is still at {@code l0.max_bytes} once the
   *     permit is in hand (many stalled writers wake up; only one should rotate)
   */
  private FlushCoordinator.Rotation rotate(long permitWaitMs, boolean onlyIfFull) throws InterruptedException {
    return flush.rotate(
        permitWaitMs,
        seq -> {
          ReadState s = readState;
          if (onlyIfFull && s.active().sizeBytes() < options.l0MaxBytes()) {
            return null;
          }
          if (s.active().isEmpty() && wal.lastLsn() <= lastRotatedLsn) {
            return null;
          }
          L0Buffer frozen = s.active();
          long covered = frozen.freeze(wal::lastLsn);
          readState = s.rotated(new L0Buffer(covered));
          lastRotatedLsn = covered;
          return new FlushCoordinator.Swap<>(frozen, covered);
        });
  }

  /**
   * Requests a flush and returns its ticket at once.
   *
   * @param permitWaitMs how long to wait for a permit (the write-stall timeout for clients)
   * @throws StrataException RESOURCE_EXHAUSTED if no permit came in time; FAILED_PRECONDITION if
   *     read-only
   */
  public FlushTicket flush(long permitWaitMs) {
    checkWritable();
    try {
      FlushCoordinator.Rotation r = rotate(permitWaitMs, false);
      if (r != null) {
        // A ticket must name an LSN that survives a power loss: after one, the WAL would hand
        // out a lost (ASYNC) LSN again and the ticket would resolve to the wrong writes.
        if (wal.durableLsn() < r.coveredLsn()) {
          try {
            wal.sync();
          } catch (IOException e) {
            throw walFailed(e);
          }
        }
        return new FlushTicket(entry.forkId(), entry.name(), r.seq(), r.coveredLsn());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
    // Nothing new: the ticket covers what was last rotated (maybe already published).
    long lsn = lastRotatedLsn;
    PublishedSnapshot head = readState.head();
    long seq = head == null ? 0 : head.manifest().getSeq() + flush.pendingFlushes();
    return new FlushTicket(entry.forkId(), entry.name(), seq, lsn);
  }

  /**
   * A future of the first snapshot covering the ticket's LSN. Cancelling it does not affect the
   * ticket.
   *
   * @throws StrataException NOT_FOUND if the ticket is of another (dropped) fork with this name;
   *     INVALID_ARGUMENT if its LSN is beyond this fork's WAL
   */
  public CompletableFuture<Manifest> awaitTicket(FlushTicket ticket) {
    if (!ticket.forkId().equals(entry.forkId())) {
      throw StrataException.notFound(
          "ticket is for fork id " + ticket.forkId() + ", which no longer exists (fork '"
              + entry.name() + "' now has id " + entry.forkId() + ")");
    }
    if (ticket.lsn() > wal.lastLsn()) {
      throw StrataException.invalid(
          "ticket LSN " + ticket.lsn() + " is beyond the fork's last LSN " + wal.lastLsn());
    }
    if (ticket.lsn() == 0) {
      PublishedSnapshot head = readState.head();
      if (head != null) {
        return CompletableFuture.completedFuture(head.manifest());
      }
      return CompletableFuture.failedFuture(
          StrataException.failedPrecondition(
              "fork '" + entry.name() + "' has no snapshot yet and nothing to flush"));
    }
    return tickets.await(Math.max(1, ticket.lsn()));
  }

  private Manifest firstSnapshotCovering(long lsn) {
    try {
      for (long seq : manifests.list()) {
        Manifest m;
        try {
          m = manifests.load(seq);
        } catch (dev.strata.manifest.ManifestNotFoundException e) {
          continue; // expired meanwhile
        }
        if (m.getCoveredLsn() >= lsn) {
          return m;
        }
      }
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot list snapshots: " + e.getMessage(), e);
    }
    PublishedSnapshot head = readState.head();
    if (head != null) {
      return head.manifest();
    }
    throw StrataException.notFound("no snapshot of fork '" + entry.name() + "' covers LSN " + lsn);
  }

  // ---------------------------------------------------------------- flush phases

  /** Stream phase: runs on a stream thread, in parallel with other flushes. */
  private FlushOutput stream(FlushTask<L0Buffer> task, int attempt) throws Exception {
    long covered = task.coveredLsn();
    if (!watermark.awaitAtLeast(covered, options.streamTimeoutMs())) {
      throw new TimeoutException("writes up to LSN " + covered + " were not applied in time");
    }
    if (wal.durableLsn() < covered) {
      // A snapshot must never cover an LSN the WAL could lose: after a crash the WAL would hand
      // that LSN out again and replay would skip the new record as already covered.
      wal.sync();
    }
    options.hooks().beforeStream(entry.name(), task.seq(), attempt);
    List<Map.Entry<L0Key, DocumentVersion>> entries = task.payload().sortedEntries();
    if (entries.isEmpty()) {
      return FlushOutput.empty();
    }
    List<SegmentEntry> input = new ArrayList<>(entries.size());
    for (Map.Entry<L0Key, DocumentVersion> e : entries) {
      input.add(new SegmentEntry(e.getKey().collection(), e.getKey().id(), e.getValue()));
    }
    Map<String, CollectionSchema> schemas = new LinkedHashMap<>();
    for (CollectionRegistry.Collection c : collections.all()) {
      schemas.put(c.name(), c.schema());
    }
    long segmentId = ctx.segmentIds().allocate();
    try {
      WrittenSegment written = ctx.segments().write(segmentId, input, schemas);
      ctx.segments().ingest(written);
      Segment segment = ctx.segments().acquire(segmentId);
      // The heavy half of the liveness, here in parallel rather than in the serial finalizer.
      PublishedSnapshot base = acquireHead();
      try {
        if (base == null) {
          return new FlushOutput(segment, written, LivenessMap.empty(), Set.of());
        }
        Set<Long> baseIds = new java.util.HashSet<>();
        base.segments().forEach(s -> baseIds.add(s.segmentId()));
        LivenessMap live = base.liveness().withNewest(segment, base.segments(), ctx.segments());
        return new FlushOutput(segment, written, live, baseIds);
      } catch (IOException | RuntimeException e) {
        segment.release();
        throw e;
      } finally {
        if (base != null) {
          base.release();
        }
      }
    } catch (Throwable t) {
      try {
        ctx.segments().discard(segmentId);
      } catch (RuntimeException | IOException e) {
        t.addSuppressed(e);
      } finally {
        ctx.segmentIds().settle(segmentId);
      }
      throw t;
    }
  }

  /** Finalize: runs on this fork's finalizer, one at a time, in seq order. */
  private void publish(FlushTask<L0Buffer> task, FlushOutput out) throws Exception {
    PublishedSnapshot head = readState.head();
    List<Segment> older = head == null ? List.of() : head.segments();
    LivenessMap liveness = head == null ? LivenessMap.empty() : head.liveness();
    List<SegmentRef> refs = new ArrayList<>();
    List<Long> newIds = new ArrayList<>();
    long docs = head == null ? 0 : head.manifest().getStats().getDocCount();
    if (out.segment() != null) {
      // Patch the stream phase's liveness for segments published since it looked at the head.
      Set<Long> headIds = new java.util.HashSet<>();
      List<Segment> newcomers = new ArrayList<>();
      for (Segment s : older) {
        headIds.add(s.segmentId());
        if (!out.baseSegmentIds().contains(s.segmentId())) {
          newcomers.add(s);
        }
      }
      liveness = liveness.and(out.liveness()).retainOnly(headIds);
      if (!newcomers.isEmpty()) {
        liveness = liveness.withNewest(out.segment(), newcomers, ctx.segments());
      }
      WrittenSegment w = out.written();
      refs.add(segmentRef(w, SegmentOrigin.SEGMENT_ORIGIN_FLUSH));
      newIds.add(w.segmentId());
      docs += w.docCount();
    }
    if (head != null) {
      refs.addAll(head.manifest().getSegmentsList());
    }
    long seq = task.seq();
    Manifest.Builder b =
        Manifest.newBuilder()
            .setId(snapshotId(entry.forkId(), seq))
            .setForkId(entry.forkId())
            .setForkName(entry.name())
            .setSeq(seq)
            .setCoveredLsn(task.coveredLsn())
            .addAllSegments(refs)
            .setCreateTimeMs(System.currentTimeMillis())
            .setBaseSnapshotId(entry.baseSnapshotId())
            .setOrigin(dev.strata.manifest.proto.ManifestOrigin.MANIFEST_ORIGIN_FLUSH)
            .setStats(ManifestStats.newBuilder().setDocCount(docs).build());
    if (head != null) {
      b.setParentId(head.id()).setParentSeq(head.manifest().getSeq());
    }
    for (CollectionRegistry.Collection c : collections.asOf(task.coveredLsn())) {
      b.addCollections(CollectionRegistry.toDef(c));
    }
    options.hooks().beforePublish(entry.name(), seq);
    Manifest m;
    try {
      m = manifests.publish(b.build());
    } catch (IOException e) {
      // The manifest may be durable (a failure after its rename): its segment must outlive this
      // process; recovery decides from what is on disk.
      inDoubtSegments.addAll(newIds);
      throw e;
    }
    retained.put(seq, RetainedSnapshot.of(m));
    newIds.forEach(ctx.segmentIds()::settle);
    if (out.written() != null) {
      flushBytesWritten.addAndGet(out.written().sizeBytes());
    }

    // The new snapshot pins its own references: the new segment's handle moves over from the
    // stream output, older segments are acquired again (the old head releases its own below).
    List<Segment> segs = new ArrayList<>();
    if (out.segment() != null) {
      segs.add(out.segment());
    }
    for (Segment s : older) {
      segs.add(ctx.segments().acquire(s.segmentId()));
    }
    PublishedSnapshot snap = new PublishedSnapshot(m, segs, liveness);
    boolean installed =
        flush.withFlushLock(
            () -> {
              if (closed.get()) {
                return false; // close() released the head already; the manifest is durable
              }
              readState = readState.published(snap, task.payload());
              return true;
            });
    if (!installed) {
      snap.release();
      return;
    }
    if (head != null) {
      head.release();
    }
    try {
      wal.truncateBefore(task.coveredLsn() + 1);
    } catch (IOException e) {
      // No acknowledged write is lost (the snapshot is published), but the WAL is failed for good
      // (fsyncgate rule), so the fork stops taking writes now rather than at its next write.
      turnReadOnly("WAL truncation below LSN " + (task.coveredLsn() + 1) + " failed: " + e.getMessage());
    }
    notifyWatchers(m);
    lastFlushDurationMs = task.ageMs();
    tickets.published(task.coveredLsn(), m);
    try {
      ctx.onPublished().accept(this);
    } catch (RuntimeException e) {
      log.warn("fork={} publish listener failed: {}", entry.name(), e.toString());
    }
  }

  private void discard(FlushOutput out) {
    if (out.segment() != null) {
      discardSegment(out.segment());
    }
  }

  /**
   * Releases the handle of a segment that will not be published and deletes it — unless a
   * manifest naming it may be on disk (a publish failed after its rename) or a retained one names
   * it: then it stays. Either way its id leaves the in-flight set.
   */
  private void discardSegment(Segment segment) {
    long id = segment.segmentId();
    segment.release();
    if (inDoubtSegments.contains(id) || isReferenced(id)) {
      ctx.segmentIds().settle(id);
      return;
    }
    try {
      ctx.segments().discard(id);
    } catch (IOException | RuntimeException e) {
      log.warn("fork={} could not discard unpublished segment {}: {}", entry.name(), formatSegmentId(id), e.toString());
    } finally {
      ctx.segmentIds().settle(id);
    }
  }

  /** Tells every snapshot watcher about {@code m}; a failing watcher does not stop the others. */
  private void notifyWatchers(Manifest m) {
    for (Consumer<Manifest> w : watchers) {
      try {
        w.accept(m);
      } catch (RuntimeException e) {
        log.warn("fork={} snapshot watcher failed: {}", entry.name(), e.toString());
      }
    }
  }

  /** The manifest entry of a segment this fork wrote. */
  private SegmentRef segmentRef(WrittenSegment w, SegmentOrigin origin) {
    return SegmentRef.newBuilder()
        .setSegmentId(formatSegmentId(w.segmentId()))
        .setDocCount(w.docCount())
        .setTombstoneCount(w.tombstoneCount())
        .setSizeBytes(w.sizeBytes())
        .setChecksum((int) w.contentChecksum())
        .setMinLsn(w.minLsn())
        .setMaxLsn(w.maxLsn())
        .setOrigin(origin)
        .setOriginForkId(entry.forkId())
        .build();
  }

  // ---------------------------------------------------------------- reads

  /**
   * The newest version of a document at the fork's head: active L0, frozen L0s (newest first),
   * then the head snapshot's segments (newest first). A tombstone means not found.
   *
   * @return the version, or null if absent or deleted
   */
  public DocumentVersion get(String collection, String id) {
    collections.require(entry.name(), collection);
    ReadState s = readState;
    DocumentVersion v = s.active().get(collection, id);
    if (v == null) {
      for (L0Buffer b : s.frozenNewestFirst()) {
        v = b.get(collection, id);
        if (v != null) {
          break;
        }
      }
    }
    if (v == null) {
      PublishedSnapshot head = acquireHead();
      if (head != null) {
        try {
          v = head.get(ctx.segments(), collection, id);
        } finally {
          head.release();
        }
      }
    }
    return v == null || v.isTombstone() ? null : v;
  }

  /**
   * The head snapshot with a reference taken (the caller releases it), or null before the first
   * flush.
   */
  public PublishedSnapshot acquireHead() {
    while (true) {
      PublishedSnapshot head = readState.head();
      if (head == null || head.tryAcquire()) {
        return head;
      }
    }
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
    long seq = seqOf(snapshotId);
    while (true) {
      PublishedSnapshot cached = openedSnapshots.get(snapshotId);
      if (cached != null) {
        if (cached.tryAcquire()) {
          return cached;
        }
        openedSnapshots.remove(snapshotId, cached);
        continue;
      }
      Manifest m;
      try {
        m = manifests.load(seq);
      } catch (IOException e) {
        throw StrataException.notFound("snapshot '" + snapshotId + "' does not exist: " + e.getMessage());
      }
      PublishedSnapshot opened;
      try {
        opened = openSnapshot(ctx.segments(), m);
      } catch (IllegalStateException e) {
        // Its manifest expired and GC retired a segment between the load and the acquire.
        throw StrataException.notFound("snapshot '" + snapshotId + "' has expired: " + e.getMessage());
      }
      opened.tryAcquire(); // the caller's reference, taken before the cache can evict it
      PublishedSnapshot raced = openedSnapshots.putIfAbsent(snapshotId, opened);
      if (raced != null) {
        opened.release();
        opened.release();
        continue;
      }
      if (!retained.containsKey(seq) && openedSnapshots.remove(snapshotId, opened)) {
        // Retention expired it between the load and the cache insert: keep the caller's
        // reference (its segments stay until the caller releases), but never cache it.
        opened.release();
      }
      evictOpenedSnapshots(snapshotId);
      return opened;
    }
  }

  /** Old snapshots kept open for reads; more are opened on demand and released here. */
  private static final int MAX_OPENED_SNAPSHOTS = 8;

  /** Drops cached snapshots beyond the bound (not {@code keep}); readers holding one keep it. */
  private void evictOpenedSnapshots(String keep) {
    for (String id : openedSnapshots.keySet()) {
      if (openedSnapshots.size() <= MAX_OPENED_SNAPSHOTS) {
        return;
      }
      if (!id.equals(keep)) {
        PublishedSnapshot s = openedSnapshots.remove(id);
        if (s != null) {
          s.release();
        }
      }
    }
  }

  private long seqOf(String snapshotId) {
    if (!entry.forkId().equals(forkIdOf(snapshotId))) {
      throw StrataException.notFound("snapshot '" + snapshotId + "' is not of fork '" + entry.name() + "'");
    }
    try {
      return Long.parseLong(snapshotId.substring(snapshotId.lastIndexOf('-') + 1));
    } catch (NumberFormatException e) {
      throw StrataException.invalid("malformed snapshot id '" + snapshotId + "'");
    }
  }

  /**
   * The fork id inside a snapshot id ({@code <fork id>-<seq>}: the text before the last '-'), or
   * "" if it has none.
   */
  public static String forkIdOf(String snapshotId) {
    int dash = snapshotId == null ? -1 : snapshotId.lastIndexOf('-');
    return dash <= 0 ? "" : snapshotId.substring(0, dash);
  }

  /**
   * Live documents of {@code collection} with id ≥ {@code startId}, in id order, at the head (L0 +
   * head segments) or at {@code snapshot} (its segments only), at most {@code limit}.
   */
  public List<SegmentEntry> scan(String collection, String startId, int limit, PublishedSnapshot snapshot) {
    List<Iterator<SegmentEntry>> sources = new ArrayList<>();
    List<AutoCloseable> toClose = new ArrayList<>();
    PublishedSnapshot snap = snapshot;
    boolean ownRef = false;
    if (snap == null) {
      collections.require(entry.name(), collection);
      ReadState s = readState;
      sources.add(l0Source(s.active(), collection, startId));
      for (L0Buffer b : s.frozenNewestFirst()) {
        sources.add(l0Source(b, collection, startId));
      }
      snap = acquireHead();
      ownRef = snap != null;
    }
    try {
      if (snap != null) {
        for (Segment seg : snap.segments()) {
          var it = ctx.segments().scan(seg.segmentId(), collection, startId);
          toClose.add(it);
          sources.add(it);
        }
      }
      return new MergingScan(sources).take(limit);
    } finally {
      for (AutoCloseable c : toClose) {
        try {
          c.close();
        } catch (Exception e) {
          log.warn("closing a segment scan failed: {}", e.toString());
        }
      }
      if (ownRef) {
        snap.release();
      }
    }
  }

  private static Iterator<SegmentEntry> l0Source(L0Buffer b, String collection, String startId) {
    Iterator<Map.Entry<L0Key, DocumentVersion>> it = b.scan(collection, startId);
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return it.hasNext();
      }

      @Override
      public SegmentEntry next() {
        Map.Entry<L0Key, DocumentVersion> e = it.next();
        return new SegmentEntry(e.getKey().collection(), e.getKey().id(), e.getValue());
      }
    };
  }

  /**
   * Full-text search over a published snapshot (the head if {@code snapshot} is null).
   *
   * @throws StrataException NOT_FOUND if the collection is not in the snapshot; INVALID_ARGUMENT on
   *     a bad query
   */
  public SearchResult search(String collection, SearchQuery query, PublishedSnapshot snapshot) {
    PublishedSnapshot snap = snapshot != null ? snapshot : acquireHead();
    boolean ownRef = snapshot == null && snap != null;
    try {
      if (snap == null) {
        collections.require(entry.name(), collection);
        return new SearchResult(List.of(), 0);
      }
      CollectionRegistry.Collection c =
          snap.manifest().getCollectionsList().stream()
              .filter(d -> d.getName().equals(collection))
              .findFirst()
              .map(CollectionRegistry::fromDef)
              .orElse(null);
      if (c == null) {
        collections.require(entry.name(), collection);
        return new SearchResult(List.of(), 0); // created after this snapshot: nothing flushed yet
      }
      try {
        return SegmentSearcher.search(snap.segments(), snap.liveness(), collection, c.schema(), query, ctx.segments());
      } catch (IllegalArgumentException e) {
        throw StrataException.invalid(e.getMessage());
      } catch (IOException e) {
        throw StrataException.of(StrataException.Kind.IO_ERROR, "search failed: " + e.getMessage(), e);
      }
    } finally {
      if (ownRef) {
        snap.release();
      }
    }
  }

  // ---------------------------------------------------------------- snapshots

  /** The head manifest, if any. */
  public Optional<Manifest> head() {
    PublishedSnapshot h = readState.head();
    return h == null ? Optional.empty() : Optional.of(h.manifest());
  }

  /** Every retained manifest of this fork, oldest first. */
  public List<Manifest> listSnapshots() {
    List<Manifest> out = new ArrayList<>();
    try {
      for (long seq : manifests.list()) {
        try {
          out.add(manifests.load(seq));
        } catch (dev.strata.manifest.ManifestNotFoundException e) {
          // expired by retention between the listing and the load
        }
      }
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot list snapshots: " + e.getMessage(), e);
    }
    return out;
  }

  /** Loads one retained manifest by id. */
  public Manifest loadSnapshot(String snapshotId) {
    try {
      return manifests.load(seqOf(snapshotId));
    } catch (IOException e) {
      throw StrataException.notFound("snapshot '" + snapshotId + "' does not exist");
    }
  }

  /** Calls {@code watcher} with every manifest published from now on (on the finalizer). */
  public Runnable watch(Consumer<Manifest> watcher) {
    watchers.add(watcher);
    return () -> watchers.remove(watcher);
  }

  /**
   * Segment ids referenced by any retained manifest of this fork (and by a manifest whose
   * publication failed after its rename, which may be durable).
   */
  public Set<Long> referencedSegments() {
    Set<Long> out = new java.util.HashSet<>(inDoubtSegments);
    for (RetainedSnapshot r : retained.values()) {
      out.addAll(r.segmentIds());
    }
    return out;
  }

  /** False if a manifest could not be read at open: this fork's segments are then not all known. */
  public boolean segmentsKnown() {
    return segmentsKnown;
  }

  private boolean isReferenced(long segmentId) {
    for (RetainedSnapshot r : retained.values()) {
      if (r.segmentIds().contains(segmentId)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Bytes of every segment a retained snapshot of this fork refers to, by segment id (from the
   * manifests' sizes; no file is read).
   */
  public Map<Long, Long> retainedSegmentBytes() {
    Map<Long, Long> out = new java.util.HashMap<>();
    retained.values().forEach(r -> out.putAll(r.segmentBytes()));
    return out;
  }

  /** Number of retained snapshots (no file is read). */
  public int retainedSnapshotCount() {
    return retained.size();
  }

  /** The manifest chain problems (empty = OK). */
  public List<String> verifyChain() throws IOException {
    List<String> out = new ArrayList<>();
    manifests.verifyChain().forEach(p -> out.add(p.toString()));
    return out;
  }

  // ---------------------------------------------------------------- compaction

  /**
   * A compaction job's finished work, handed to {@link #publishCompaction}: the merged segment
   * (ingested, with one handle that moves into the published snapshot), its stats, and which head
   * it was computed from.
   *
   * @param runIds the merged segments' ids, newest first: a contiguous run of that head
   * @param headIds every segment id of that head: segments newer than the run that are not in it
   *     were published since, and may shadow documents of the merged segment
   * @param bytesRead manifest sizes of the run's segments
   */
  public record CompactionOutput(
      Segment merged, WrittenSegment written, List<Long> runIds, Set<Long> headIds, int headSegments, long bytesRead) {}

  /**
   * Queues a compaction's publication on this fork's finalizer, after every flush rotated before
   * it and before every later one; returns at once. At its turn the finalizer rebases it on the
   * head of that moment: if the run is still there, contiguous, it is replaced by the merged
   * segment and a manifest of origin COMPACTION is published; if not (a drop, or the fork closed),
   * the compaction aborts and its segment is deleted.
   *
   * @return completes with the result on the finalizer; never fails for an abort (the result says
   *     why), fails if the publication itself failed (the fork is then read-only)
   */
  public CompletableFuture<dev.strata.engine.compaction.CompactionResult> publishCompaction(CompactionOutput out) {
    CompletableFuture<dev.strata.engine.compaction.CompactionResult> done = new CompletableFuture<>();
    FlushCoordinator.OrderedPublication p =
        new FlushCoordinator.OrderedPublication() {
          @Override
          public void publish(long seq) throws Exception {
            try {
              done.complete(installCompaction(seq, out));
            } catch (CleanPublishFailure e) {
              // Nothing was published and the manifest store is fine: the seq stays a gap in the
              // chain (seqs need not be dense), the fork goes on, the job reports its failure.
              discardCompaction(out);
              compactionFailed(e.getCause());
              done.completeExceptionally(e.getCause());
            } catch (Throwable t) {
              done.completeExceptionally(t); // before abandon() could report an abort instead
              throw t;
            }
          }

          @Override
          public void abandon(Throwable why) {
            discardCompaction(out);
            done.complete(aborted(out, "fork '" + entry.name() + "' stopped publishing: " + why.getMessage()));
          }
        };
    try {
      flush.submitOrdered(p);
    } catch (StrataException e) {
      discardCompaction(out);
      done.complete(aborted(out, e.getMessage()));
    }
    return done;
  }

  private dev.strata.engine.compaction.CompactionResult aborted(CompactionOutput out, String why) {
    compactionsAborted.incrementAndGet();
    wakeStalledWriters();
    return new dev.strata.engine.compaction.CompactionResult(
        entry.name(), Optional.empty(), out.headSegments(), out.headSegments(), out.bytesRead(), 0, why);
  }

  /** Runs on the finalizer at the compaction's seq. */
  private dev.strata.engine.compaction.CompactionResult installCompaction(long seq, CompactionOutput out)
      throws Exception {
    PublishedSnapshot head = readState.head();
    List<Long> headIds = new ArrayList<>();
    if (head != null) {
      head.segments().forEach(sg -> headIds.add(sg.segmentId()));
    }
    int at = java.util.Collections.indexOfSubList(headIds, out.runIds());
    if (head == null || at < 0 || closed.get() || dropping.get()) {
      discardCompaction(out);
      return aborted(out, "its segments are no longer a contiguous run of the head");
    }
    int end = at + out.runIds().size();
    Set<Long> runSet = new java.util.HashSet<>(out.runIds());
    long mergedId = out.merged().segmentId();

    // Liveness: unchanged for every other segment (the merged one holds exactly the run's
    // surviving keys, so it shadows the same older documents); for the merged one, what was
    // published above the run after the job read the head.
    Set<Long> keepIds = new java.util.HashSet<>(headIds);
    keepIds.removeAll(runSet);
    LivenessMap liveness = head.liveness().retainOnly(keepIds);
    for (int i = at - 1; i >= 0; i--) {
      Segment newer = head.segments().get(i);
      if (!out.headIds().contains(newer.segmentId())) {
        liveness = liveness.withNewest(newer, List.of(out.merged()), ctx.segments());
      }
    }

    WrittenSegment w = out.written();
    List<SegmentRef> oldRefs = head.manifest().getSegmentsList();
    List<SegmentRef> refs = new ArrayList<>(oldRefs.subList(0, at));
    refs.add(segmentRef(w, SegmentOrigin.SEGMENT_ORIGIN_COMPACTION));
    refs.addAll(oldRefs.subList(end, oldRefs.size()));
    long docs = head.manifest().getStats().getDocCount() + w.docCount();
    for (SegmentRef r : oldRefs.subList(at, end)) {
      docs -= r.getDocCount();
    }
    Manifest.Builder b =
        head.manifest().toBuilder()
            .setId(snapshotId(entry.forkId(), seq))
            .setSeq(seq)
            .setParentId(head.id())
            .setParentSeq(head.manifest().getSeq())
            .clearSegments()
            .addAllSegments(refs)
            .clearTags()
            .setCreateTimeMs(System.currentTimeMillis())
            .setOrigin(dev.strata.manifest.proto.ManifestOrigin.MANIFEST_ORIGIN_COMPACTION)
            .setStats(ManifestStats.newBuilder().setDocCount(Math.max(0, docs)).build());
    Manifest m;
    try {
      m = manifests.publish(b.build());
    } catch (IOException e) {
      if (manifests.isUsable()) {
        throw new CleanPublishFailure(e); // failed before the rename: certainly not durable
      }
      inDoubtSegments.add(mergedId);
      throw e;
    }
    retained.put(seq, RetainedSnapshot.of(m));
    ctx.segmentIds().settle(mergedId);

    List<Segment> segs = new ArrayList<>();
    try {
      for (int i = 0; i < headIds.size(); i++) {
        if (i == at) {
          segs.add(out.merged());
        }
        if (i < at || i >= end) {
          segs.add(ctx.segments().acquire(headIds.get(i)));
        }
      }
    } catch (IOException | RuntimeException e) {
      segs.stream().filter(sg -> sg != out.merged()).forEach(Segment::release);
      throw e;
    }
    PublishedSnapshot snap = new PublishedSnapshot(m, segs, liveness);
    boolean installed =
        flush.withFlushLock(
            () -> {
              if (closed.get()) {
                return false;
              }
              readState = new ReadState(readState.active(), readState.frozenNewestFirst(), snap);
              return true;
            });
    if (!installed) {
      snap.release();
      return aborted(out, "fork '" + entry.name() + "' closed");
    }
    head.release();
    compactionsPublished.incrementAndGet();
    compactionBytesWritten.addAndGet(w.sizeBytes());
    synchronized (compactionProgress) {
      compactionProgress.notifyAll();
    }
    notifyWatchers(m);
    try {
      options.compactionHooks().at(entry.name(), dev.strata.engine.compaction.CompactionHooks.Step.PUBLISHED);
    } catch (Exception e) {
      log.debug("fork={} compaction hook at PUBLISHED threw: {}", entry.name(), e.toString());
    }
    log.info(
        "fork={} compaction published {}: {} segments ({} bytes) -> 1 ({} bytes), head now {} segments",
        entry.name(),
        m.getId(),
        out.runIds().size(),
        out.bytesRead(),
        w.sizeBytes(),
        segs.size());
    return new dev.strata.engine.compaction.CompactionResult(
        entry.name(), Optional.of(m), headIds.size(), segs.size(), out.bytesRead(), w.sizeBytes(), null);
  }

  /** A compaction manifest failed to publish before its rename: nothing is in doubt. */
  private static final class CleanPublishFailure extends Exception {
    CleanPublishFailure(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /** Deletes a compaction's segment that will not be queued for publication. */
  void discardUnpublished(CompactionOutput out) {
    discardCompaction(out);
  }

  /** Deletes an unpublished compaction's segment (its handle is released first). */
  private void discardCompaction(CompactionOutput out) {
    discardSegment(out.merged());
  }

  /** Records a failed compaction job for {@code Stats} ({@code last_error}). */
  public void compactionFailed(Throwable t) {
    lastCompactionError = "compaction failed: " + t.getMessage();
    lastCompactionErrorTimeMs = System.currentTimeMillis();
    wakeStalledWriters();
  }

  /** Lets writers in the segment-count stall re-check now (they re-check their condition). */
  private void wakeStalledWriters() {
    synchronized (compactionProgress) {
      compactionProgress.notifyAll();
    }
  }

  /** True if the fork takes compactions (open, writable, not being dropped). */
  public boolean compactable() {
    return !closed.get() && !dropping.get() && readOnlyReason == null;
  }

  /**
   * The last-resort write stall (RocksDB's {@code level0_stop_writes_trigger}): while the head holds
   * {@code compaction.stop_writes_segments} or more, a writer about to rotate waits for a
   * compaction to publish, at most {@code write_stall_timeout}; then RESOURCE_EXHAUSTED. Counted
   * in {@code Stats} and logged (at most every 10 s), so an operator sees compaction fall behind.
   */
  private void stallWhileTooManySegments() {
    var copts = options.compaction();
    if (!copts.enabled()) {
      return;
    }
    PublishedSnapshot head = readState.head();
    if (head == null || head.segments().size() < copts.stopWritesSegments()) {
      return;
    }
    long start = System.nanoTime();
    long deadline = start + TimeUnit.MILLISECONDS.toNanos(options.writeStallTimeoutMs());
    compactionStalls.incrementAndGet();
    if (start - lastStallLogNanos > TimeUnit.SECONDS.toNanos(10)) {
      lastStallLogNanos = start;
      log.warn(
          "fork={} write stall: the head has {} segments (compaction.stop_writes_segments={}); writers"
              + " wait for compaction to catch up",
          entry.name(),
          head.segments().size(),
          copts.stopWritesSegments());
    }
    try {
      synchronized (compactionProgress) {
        while (true) {
          PublishedSnapshot h = readState.head();
          if (h == null || h.segments().size() < copts.stopWritesSegments()) {
            return;
          }
          if (closed.get() || dropping.get() || readOnlyReason != null) {
            checkWritable(); // throws the precise status
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw StrataException.overloaded(
                "write stall on fork '" + entry.name() + "': the head has " + h.segments().size()
                    + " segments and compaction has not caught up within " + options.writeStallTimeoutMs()
                    + " ms; retry later",
                Math.max(100, options.writeStallTimeoutMs() / 10));
          }
          compactionProgress.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted during a write stall");
    } finally {
      compactionStallNanos.addAndGet(System.nanoTime() - start);
    }
  }

  // ---------------------------------------------------------------- retention

  /**
   * Deletes this fork's expired snapshots ({@link dev.strata.engine.retention.RetentionPolicy}):
   * their manifest files go first (with a directory fsync), then they leave the retained set, so
   * GC run afterwards may reclaim segments only they referenced. Readers holding an expired
   * snapshot open keep reading it: its segments stay until they release it. Never deletes the
   * head. Call from one thread at a time (the engine's GC thread).
   *
   * @param protectedIds tagged snapshots and fork bases, kept whatever their age
   * @param confirm given the ids the policy would expire, returns those that may really go (it
   *     re-checks references registered meanwhile, e.g. a new tag) and marks them as going
   * @param done told the ids once their files are deleted (or the deletion failed)
   * @return how many snapshots expired
   * @throws IOException if a manifest cannot be deleted (those deleted so far stay deleted)
   */
  public int expireSnapshots(
      Set<String> protectedIds,
      dev.strata.engine.retention.RetentionOptions retention,
      long nowMs,
      java.util.function.UnaryOperator<List<String>> confirm,
      Consumer<List<String>> done)
      throws IOException {
    if (closed.get()) {
      return 0;
    }
    List<dev.strata.engine.retention.RetentionPolicy.SnapshotInfo> infos = new ArrayList<>();
    retained.forEach(
        (seq, r) -> infos.add(new dev.strata.engine.retention.RetentionPolicy.SnapshotInfo(seq, r.id(), r.createTimeMs())));
    List<Long> candidates = dev.strata.engine.retention.RetentionPolicy.expired(infos, protectedIds, retention, nowMs);
    if (candidates.isEmpty()) {
      return 0;
    }
    Map<String, Long> seqById = new LinkedHashMap<>();
    for (long seq : candidates) {
      RetainedSnapshot r = retained.get(seq);
      if (r != null) {
        seqById.put(r.id(), seq);
      }
    }
    List<String> going = confirm.apply(new ArrayList<>(seqById.keySet()));
    List<Long> expired = new ArrayList<>();
    going.forEach(id -> expired.add(seqById.get(id)));
    if (expired.isEmpty()) {
      return 0;
    }
    try {
      manifests.delete(expired);
    } finally {
      done.accept(going);
    }
    for (long seq : expired) {
      RetainedSnapshot r = retained.remove(seq);
      if (r != null) {
        PublishedSnapshot cached = openedSnapshots.remove(r.id());
        if (cached != null) {
          cached.release();
        }
      }
    }
    log.debug("fork={} expired {} snapshots: seqs {}", entry.name(), expired.size(), expired);
    return expired.size();
  }

  // ---------------------------------------------------------------- stats

  /** A point-in-time view of the fork's counters. */
  public record Stats(
      String name,
      String forkId,
      long l0Bytes,
      long activeL0Bytes,
      long frozenL0Bytes,
      long walDurableLsn,
      long lastFlushDurationMs,
      int frozenBuffers,
      int pendingFlushes,
      int segmentCount,
      long walLastLsn,
      long coveredLsn,
      long stallTimeMs,
      long flushesPublished,
      long flushRetries,
      String readOnlyReason,
      long compactionsPublished,
      long compactionsAborted,
      long flushBytesWritten,
      long compactionBytesWritten,
      long compactionStalls,
      long compactionStallMs,
      int retainedSnapshots,
      String lastCompactionError,
      long lastCompactionErrorTimeMs) {

    /**
     * Bytes written by flushes and compactions per byte written by flushes (1.0 = no rewrite;
     * 0 before the first flush of this process).
     */
    public double writeAmplification() {
      return flushBytesWritten == 0 ? 0 : (double) (flushBytesWritten + compactionBytesWritten) / flushBytesWritten;
    }
  }

  /** Current statistics. */
  public Stats stats() {
    ReadState s = readState;
    return new Stats(
        entry.name(),
        entry.forkId(),
        s.l0Bytes(),
        s.active().sizeBytes(),
        s.l0Bytes() - s.active().sizeBytes(),
        wal.durableLsn(),
        lastFlushDurationMs,
        s.frozenNewestFirst().size(),
        flush.pendingFlushes(),
        s.head() == null ? 0 : s.head().segments().size(),
        wal.lastLsn(),
        s.head() == null ? 0 : s.head().coveredLsn(),
        flush.stallTimeMs(),
        flush.publishedCount(),
        flush.retryCount(),
        readOnlyReason,
        compactionsPublished.get(),
        compactionsAborted.get(),
        flushBytesWritten.get(),
        compactionBytesWritten.get(),
        compactionStalls.get(),
        TimeUnit.NANOSECONDS.toMillis(compactionStallNanos.get()),
        retained.size(),
        lastCompactionError,
        lastCompactionErrorTimeMs);
  }

  // ---------------------------------------------------------------- drop and close

  /** Starts a drop: refuse new writes. */
  public void beginDrop() {
    if (!dropping.compareAndSet(false, true)) {
      throw StrataException.failedPrecondition("fork '" + entry.name() + "' is already being dropped");
    }
  }

  /** Ends a drop that will not happen (drain timed out): writable again. */
  public void abortDrop() {
    dropping.set(false);
  }

  /**
   * Waits for in-flight flushes (a read-only fork has nothing to wait for: its flushes are
   * abandoned).
   *
   * @return flushes still pending
   */
  public int drain(long timeoutMs) throws InterruptedException {
    if (readOnlyReason != null) {
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
    if (readOnlyReason != null || dropping.get() || closed.get()) {
      return CompletableFuture.failedFuture(
          StrataException.failedPrecondition("fork '" + entry.name() + "' cannot flush"));
    }
    PublishedSnapshot head = readState.head();
    if (!hasUnflushedData() && flush.pendingFlushes() == 0) {
      return CompletableFuture.completedFuture(head == null ? null : head.manifest());
    }
    try {
      return awaitTicket(flush(permitWaitMs));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Stops the timer and the pipeline, fails waiting tickets, releases snapshots, closes WAL and
   * manifest store. Unflushed data stays in the WAL. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (intervalTimer != null) {
      intervalTimer.cancel(false);
    }
    try {
      int left = flush.shutdown(Math.max(1000, options.streamTimeoutMs() / 4));
      if (left > 0) {
        log.warn("fork={} closed with {} flushes unpublished; the WAL keeps their data", entry.name(), left);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    tickets.failAll(StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + entry.name() + "' closed"));
    PublishedSnapshot head =
        flush.withFlushLock(
            () -> {
              PublishedSnapshot h = readState.head();
              readState = new ReadState(readState.active(), readState.frozenNewestFirst(), null);
              return h;
            });
    if (head != null) {
      head.release();
    }
    for (String id : List.copyOf(openedSnapshots.keySet())) {
      PublishedSnapshot s = openedSnapshots.remove(id); // retention may remove (and release) it too
      if (s != null) {
        s.release();
      }
    }
    wakeStalledWriters();
    try {
      wal.close();
    } catch (IOException e) {
      log.warn("fork={} WAL close failed: {}", entry.name(), e.toString());
    }
    manifests.close();
  }

  /**
   * Simulated crash, for tests: stops the timer and releases in-memory state without draining,
   * flushing or syncing anything. Call after the engine's threads are stopped.
   */
  public void halt() {
    closed.set(true);
    if (intervalTimer != null) {
      intervalTimer.cancel(false);
    }
    try {
      wal.close();
    } catch (IOException | RuntimeException e) {
      log.debug("fork={} WAL close during halt: {}", entry.name(), e.toString());
    }
    manifests.close();
  }

  /** Rotate-to-publish time of the last published flush, ms (0 before the first). */
  public long lastFlushDurationMs() {
    return lastFlushDurationMs;
  }

  /** The head's segment sizes in bytes, newest first (what the merge policy looks at). */
  public List<Long> headSegmentSizes() {
    PublishedSnapshot h = readState.head();
    List<Long> out = new ArrayList<>();
    if (h != null) {
      h.manifest().getSegmentsList().forEach(r -> out.add(r.getSizeBytes()));
    }
    return out;
  }

  /** The engine context this fork runs in. */
  ForkContext context() {
    return ctx;
  }

  /** Fails tickets with NOT_FOUND (the fork is gone), then closes. */
  public void closeForDrop() {
    tickets.failAll(StrataException.notFound("fork '" + entry.name() + "' was dropped"));
    close();
  }
}
