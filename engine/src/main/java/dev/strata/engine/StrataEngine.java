package dev.strata.engine;

import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.ForkContext;
import dev.strata.engine.fork.ForkStats;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.SegmentIdAllocator;
import dev.strata.engine.fork.WriteBufferManager;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SegmentStoreOptions;
import dev.strata.manifest.CatalogSnapshot;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The storage engine of one data directory: a facade over the parts that own its state.
 *
 * <ul>
 *   <li>{@link ForkRegistry}: the open {@link Fork}s, their creation and drop;
 *   <li>{@link EngineRecovery}: opening every fork after a restart;
 *   <li>{@link RetentionService} with its {@link RetentionGate}: snapshot expiry and segment GC;
 *   <li>{@link Tags}, {@link EngineVerifier}, {@link CompactionScheduler};
 *   <li>{@link EngineExecutors}: every thread pool, its bound and its shutdown;
 *   <li>the shared {@link SegmentStore} (one RocksDB instance plus Lucene directories) and the
 *       fork catalog.
 * </ul>
 *
 * <h2>On-disk layout</h2>
 *
 * <pre>
 * &lt;data&gt;/catalog/                 fork catalog versions (ForkCatalog)
 * &lt;data&gt;/forks/&lt;fork-id&gt;/wal/       the fork's WAL segments
 * &lt;data&gt;/forks/&lt;fork-id&gt;/manifests/ the fork's manifests, one file per seq
 * &lt;data&gt;/rocksdb/                 documents of every segment, keys prefixed by segment id
 * &lt;data&gt;/segments/&lt;segment-id&gt;/    each segment's Lucene index
 * &lt;data&gt;/tmp/                     compaction job directories
 * </pre>
 *
 * <p>Thread-safe. No engine-wide lock: fork create and drop reserve the name in a concurrent map,
 * so no lock is held across their I/O; the write path of one fork never touches another's.
 */
public final class StrataEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StrataEngine.class);

  /** The name of the fork that exists from the start and cannot be dropped. */
  public static final String MAIN = "main";

  /** Bound on waiting for running compactions at close, ms. */
  private static final long COMPACTION_STOP_WAIT_MS = 30_000;

  private final Path dataDir;
  private final EngineOptions options;
  private final SegmentStore segments;
  private final ForkCatalog catalog;
  private final EngineExecutors executors;
  private final ForkContext ctx;
  private final SegmentIdAllocator segmentIds = new SegmentIdAllocator(1);
  private final CompactionScheduler compactions;
  private final ForkRegistry forks;
  private final Tags tags;
  private final RetentionService retention;
  private final EngineVerifier verifier;
  private final ForkMerges merges;
  private final ChangeFeed changeFeed;
  private final CopyOnWriteArrayList<Consumer<Fork>> publishListeners = new CopyOnWriteArrayList<>();
  /** L0 of all forks, held to the memory budget's L0 share. */
  private final WriteBufferManager writeBuffers;
  private volatile boolean closed;

  private StrataEngine(Path dataDir, Vfs vfs, EngineOptions options) throws IOException {
    this.dataDir = dataDir;
    this.options = options;
    vfs.createDirectories(dataDir);
    this.segments =
        SegmentStore.open(
            dataDir,
            SegmentStoreOptions.defaults()
                .withBlockCacheBytes(options.blockCacheBytes())
                .withLuceneRamBufferMb(options.memory().luceneRamBufferMbPerWrite(options.streamThreads()))
                .withVfs(vfs)
                .withCache(options.segmentCache()));
    try {
      this.catalog = ForkCatalog.open(vfs, ForkCatalog.directoryFor(dataDir));
    } catch (IOException | RuntimeException e) {
      // Release RocksDB's LOCK so this process can retry the open.
      try {
        segments.close();
      } catch (IOException | RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    this.writeBuffers = new WriteBufferManager(options.memory().l0Bytes());
    this.executors = new EngineExecutors(options);
    this.compactions = new CompactionScheduler(options.compaction(), executors.compaction());
    this.ctx =
        new ForkContext(
            vfs, dataDir, options, segments, executors.stream(), executors.finalizer(), executors.scheduler(),
            segmentIds, this::onFlushPublished, writeBuffers);
    RetentionGate gate = new RetentionGate(catalog, this::mergeSources);
    this.tags = new Tags(catalog, gate);
    this.forks = new ForkRegistry(ctx, catalog, gate, tags);
    this.retention =
        new RetentionService(forks, segments, segmentIds, gate, options.retention(), executors.gc(), options.clock()::millis);
    this.verifier = new EngineVerifier(forks, segments);
    this.merges = new ForkMerges(forks, segments, gate, options);
    this.changeFeed = new ChangeFeed(segments);
  }

  /**
   * Opens (creating if needed) the engine on {@code dataDir} and recovers every fork ({@link
   * EngineRecovery}), then starts the interval flushes, the compaction sweep and retention.
   *
   * @throws IOException if the data directory cannot be opened
   */
  public static StrataEngine open(Path dataDir, Vfs vfs, EngineOptions options) throws IOException {
    StrataEngine e = new StrataEngine(dataDir, vfs, options);
    try {
      new EngineRecovery(e.ctx, e.catalog, e.segments, e.segmentIds, e.forks, e.retention).recover();
    } catch (IOException | RuntimeException ex) {
      e.close();
      throw ex;
    }
    e.start();
    return e;
  }

  /** After recovery: flushes may run now (the orphan sweep would have deleted their segments). */
  private void start() {
    forks.openForks().forEach(Fork::startTimer);
    long check = options.compaction().checkIntervalMs();
    executors
        .scheduler()
        .scheduleWithFixedDelay(
            () -> forks.openForks().forEach(compactions::maybeSchedule), check, check, TimeUnit.MILLISECONDS);
    retention.start(executors.scheduler());
  }

  /**
   * Runs on the fork's finalizer after each flush publication: wakes writers stalled on L0 memory
   * (the flushed buffer left L0), triggers compaction, then listeners.
   */
  private void onFlushPublished(Fork f) {
    writeBuffers.memoryReleased();
    compactions.maybeSchedule(f);
    for (Consumer<Fork> l : publishListeners) {
      try {
        l.accept(f);
      } catch (RuntimeException e) {
        log.warn("publish listener failed: {}", e.toString());
      }
    }
  }

  /**
   * Calls {@code listener} after every flush any fork publishes, on that fork's finalizer (so it
   * must return quickly; e.g. record a metric). {@link Fork#stats()} then shows that flush.
   */
  public void addFlushListener(Consumer<Fork> listener) {
    publishListeners.add(listener);
  }

  /**
   * Keeps, on every retention pass from now on, the snapshots whose ids {@code pin} returns (and the
   * segments they name), as tagged snapshots are kept: the object-storage tier pins the snapshots it
   * has not uploaded yet. {@code pin} runs on the retention thread and must return quickly; if it
   * throws, that pass expires nothing.
   */
  public void addRetentionPin(Supplier<Set<String>> pin) {
    retention.addPin(pin);
  }

  /** The fork catalog's current version (forks and tags); no I/O. */
  public CatalogSnapshot catalogSnapshot() {
    return catalog.current();
  }

  private void checkOpen() {
    if (closed) {
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "the engine is closed");
    }
  }

  /** The engine's options. */
  public EngineOptions options() {
    return options;
  }

  /** The data directory. */
  public Path dataDir() {
    return dataDir;
  }

  /** The bound on L0 of all forks together: usage, stalls (the memory budget's L0 share). */
  public WriteBufferManager writeBuffers() {
    return writeBuffers;
  }

  /** The shared segment store. */
  public SegmentStore segments() {
    return segments;
  }

  /** The compaction scheduler (backlog, running jobs). */
  public CompactionScheduler compactions() {
    return compactions;
  }

  // Forks.

  /**
   * The open fork named {@code name}.
   *
   * @throws StrataException NOT_FOUND if there is none (or it is being created or dropped);
   *     UNAVAILABLE if the engine is closed
   */
  public Fork fork(String name) {
    checkOpen();
    return forks.fork(name);
  }

  /** Every open fork, by name. */
  public List<Fork> openForks() {
    return forks.openForks();
  }

  /** The fork whose id is {@code forkId}, if open. */
  public Optional<Fork> forkById(String forkId) {
    return forks.forkById(forkId);
  }

  /**
   * Creates fork {@code name} from a snapshot (O(1): one manifest that refers to the same
   * segments; no data is copied). See {@link ForkRegistry#create}.
   *
   * @param fromSnapshotId a snapshot id or tag of any fork, or null to use {@code fromFork}'s head
   * @param fromFork the fork whose head to fork from (when {@code fromSnapshotId} is null)
   * @param flushFirst flush {@code fromFork} and wait for it first
   * @param timeoutMs bound on that flush, ms
   * @throws StrataException INVALID_ARGUMENT (bad name), ALREADY_EXISTS, NOT_FOUND (source),
   *     FAILED_PRECONDITION (the source fork has no snapshot yet), DEADLINE_EXCEEDED, IO_ERROR
   */
  public Fork createFork(String name, String fromSnapshotId, String fromFork, boolean flushFirst, long timeoutMs) {
    checkOpen();
    return forks.create(name, fromSnapshotId, fromFork, flushFirst, timeoutMs);
  }

  /**
   * Drops fork {@code name} (SPEC §4, {@link ForkRegistry#drop}), then collects the segments
   * nothing refers to any more. Forks made from it keep working: their manifests refer to the
   * segments they need.
   *
   * @throws StrataException FAILED_PRECONDITION for {@code main}; NOT_FOUND; DEADLINE_EXCEEDED if
   *     the drain timed out — the fork then stays whole and writable
   */
  public void dropFork(String name, long drainTimeoutMs) {
    checkOpen();
    Fork dropped = forks.drop(name, drainTimeoutMs);
    compactions.forget(dropped);
    retention.collectGarbage();
  }

  /**
   * Merges a fork into another ({@code MergeFork}): fast-forward, three-way or nothing, all or
   * nothing ({@link ForkMerges}; the target side is {@code fork.ForkMerge}).
   *
   * @throws StrataException INVALID_ARGUMENT (source = target; no target to default to),
   *     NOT_FOUND (fork), FAILED_PRECONDITION (the target moved, is read-only or merging, no
   *     common ancestor, no source snapshot), RESOURCE_EXHAUSTED (too large, write stall),
   *     DEADLINE_EXCEEDED (the source's flush), IO_ERROR
   */
  public MergeResult mergeFork(MergeSpec spec) {
    checkOpen();
    return merges.merge(spec);
  }

  /** The source snapshots the forks' heads record as merged: retention keeps them. */
  private Set<String> mergeSources() {
    return merges.mergeSources();
  }

  /**
   * Opens a change feed cursor of {@code fork} after snapshot {@code afterSnapshotId} ({@link
   * ChangeFeed}); the caller closes it.
   *
   * @throws StrataException NOT_FOUND (fork), INVALID_ARGUMENT (not a snapshot of the fork),
   *     FAILED_PRECONDITION (the position expired; the message names the oldest retained snapshot)
   */
  public ChangeFeed.Cursor openChanges(String fork, String afterSnapshotId) {
    checkOpen();
    return changeFeed.open(forks.fork(fork), afterSnapshotId);
  }

  /**
   * Delivers the changes of every snapshot published after {@code cursor} up to the head, moving it.
   *
   * @param collection only this collection; null or empty for all
   * @return false if the sink stopped
   */
  public boolean readChanges(ChangeFeed.Cursor cursor, String collection, ChangeFeed.Sink sink) {
    checkOpen();
    return changeFeed.advance(cursor, collection, sink);
  }

  // Snapshots and tags.

  /** Finds a retained manifest by snapshot id, on any open fork. */
  public Optional<Manifest> findManifest(String snapshotId) {
    return forks.findManifest(snapshotId);
  }

  /** The open fork that owns snapshot {@code snapshotId}; NOT_FOUND if none. */
  public Fork forkOfSnapshot(String snapshotId) {
    return forks.forkOfSnapshot(snapshotId);
  }

  /**
   * Opens a retained snapshot of any fork for reading, by id or tag; the caller releases it.
   *
   * @throws StrataException NOT_FOUND if no retained snapshot has that id
   */
  public PublishedSnapshot acquireSnapshot(String idOrTag) {
    String id = tags.resolve(idOrTag);
    return forks.forkOfSnapshot(id).acquireSnapshot(id);
  }

  /**
   * The snapshot id a reference names: a tag, or a snapshot id as it is.
   *
   * @throws StrataException INVALID_ARGUMENT if empty
   */
  public String resolveSnapshotRef(String idOrTag) {
    return tags.resolve(idOrTag);
  }

  /**
   * Pins tag {@code tag} on a snapshot (moving it if it exists). Tagged snapshots are never
   * expired.
   *
   * @throws StrataException INVALID_ARGUMENT (bad tag name), NOT_FOUND (no such snapshot)
   */
  public void tagSnapshot(String snapshotId, String tag) {
    checkOpen();
    tags.tag(snapshotId, tag, id -> forks.findManifest(id).isPresent());
  }

  /**
   * Removes a tag.
   *
   * @throws StrataException NOT_FOUND if there is no such tag
   */
  public void deleteTag(String tag) {
    checkOpen();
    tags.delete(tag);
  }

  /** Every tag, tag name to snapshot id. */
  public Map<String, String> tags() {
    return tags.all();
  }

  /** The tags pinned on {@code snapshotId}. */
  public List<String> tagsOf(String snapshotId) {
    return tags.of(snapshotId);
  }

  /**
   * Streams the keys added, changed and deleted from snapshot {@code from} to {@code to} (ids or
   * tags, of one fork or of a fork and its base).
   *
   * @return entries delivered
   * @throws StrataException NOT_FOUND if either snapshot does not exist
   */
  public long diff(String from, String to, SnapshotDiff.Sink sink) {
    checkOpen();
    PublishedSnapshot a = acquireSnapshot(from);
    try {
      PublishedSnapshot b = acquireSnapshot(to);
      try {
        return SnapshotDiff.diff(a, b, segments, sink);
      } finally {
        b.release();
      }
    } finally {
      a.release();
    }
  }

  /**
   * Walks every fork's manifest chain and checks every segment its retained snapshots refer to
   * exists with its checksum (SPEC §7 verify).
   *
   * @return problems, each naming the fork, snapshot or segment; empty if all is well
   */
  public List<String> verify() {
    checkOpen();
    return verifier.verify();
  }

  // Compaction, retention and GC.

  /**
   * Compacts fork {@code name} now: one step of the merge policy, or every segment of its head
   * into one ({@code full}); queued behind the fork's running compaction if any.
   *
   * @return completes when the compaction published (or found nothing to merge)
   * @throws StrataException NOT_FOUND (no such fork), FAILED_PRECONDITION (read-only or dropping)
   */
  public CompletableFuture<CompactionResult> compact(String name, boolean full) {
    checkOpen();
    Fork f = fork(name);
    if (f.isDropping()) {
      throw StrataException.failedPrecondition("fork '" + name + "' is being dropped");
    }
    if (f.readOnlyReason() != null) {
      throw StrataException.failedPrecondition("fork '" + name + "' is read-only: " + f.readOnlyReason());
    }
    return compactions.compactNow(f, full);
  }

  /**
   * Runs one retention and GC pass now and waits for it (for tests and operators).
   *
   * @throws StrataException UNAVAILABLE if the engine is closed
   */
  public void runRetention() {
    checkOpen();
    retention.runNow();
  }

  /**
   * Marks every segment no retained manifest of any fork refers to as obsolete; the store deletes
   * each once the last reader releases it.
   *
   * @return how many segments were marked
   */
  public int collectGarbage() {
    return retention.collectGarbage();
  }

  /** Snapshots expired by retention since the engine opened. */
  public long snapshotsExpired() {
    return retention.snapshotsExpired();
  }

  /** Segments marked obsolete by GC since the engine opened (deleted once no reader holds them). */
  public long segmentsCollected() {
    return retention.segmentsCollected();
  }

  /**
   * Where a fork's segment bytes stand (from manifest sizes; shared segments counted in full for
   * every fork that refers to them).
   *
   * @param exclusiveBytes segments only this fork's retained snapshots refer to
   * @param sharedBytes segments other forks' retained snapshots refer to as well
   * @param reclaimableBytes segments no fork's head refers to: held only by older retained
   *     snapshots of this fork, freed once those expire (tagged ones never do)
   */
  public record SegmentUsage(long exclusiveBytes, long sharedBytes, long reclaimableBytes) {}

  /** {@link SegmentUsage} of every open fork, by name. */
  public Map<String, SegmentUsage> segmentUsage() {
    Map<String, Map<Long, Long>> byFork = new LinkedHashMap<>();
    Map<Long, Integer> holders = new HashMap<>();
    Set<Long> inSomeHead = new HashSet<>();
    for (Fork f : forks.openForks()) {
      Map<Long, Long> bytes = f.retainedSegmentBytes();
      byFork.put(f.name(), bytes);
      bytes.keySet().forEach(id -> holders.merge(id, 1, Integer::sum));
      f.head().ifPresent(m -> m.getSegmentsList().forEach(r -> inSomeHead.add(Long.parseUnsignedLong(r.getSegmentId(), 16))));
    }
    Map<String, SegmentUsage> out = new LinkedHashMap<>();
    byFork.forEach(
        (name, bytes) -> {
          long exclusive = 0;
          long shared = 0;
          long reclaimable = 0;
          for (Map.Entry<Long, Long> e : bytes.entrySet()) {
            if (holders.getOrDefault(e.getKey(), 0) > 1) {
              shared += e.getValue();
            } else {
              exclusive += e.getValue();
            }
            if (!inSomeHead.contains(e.getKey())) {
              reclaimable += e.getValue();
            }
          }
          out.put(name, new SegmentUsage(exclusive, shared, reclaimable));
        });
    return out;
  }

  /**
   * Where the data directory's segment bytes stand against retention's space bound, as of the last
   * retention pass (from manifest sizes; no file is read).
   *
   * @param retainedBytes distinct segment bytes every retained snapshot of every fork refers to
   * @param liveBytes distinct segment bytes the forks' heads refer to
   * @param boundBytes the space bound ({@code retention.max_bytes} or {@code
   *     retention.max_space_amplification} × live bytes, the tighter); Long.MAX_VALUE if none
   * @param expiredForSpaceTotal snapshots the bound expired early since the engine opened
   */
  public record SpaceUsage(long retainedBytes, long liveBytes, long boundBytes, long expiredForSpaceTotal) {}

  /**
   * The memory budget (SPEC §5.10) and where each share stands now.
   *
   * @param budget {@code memory.budget} and its shares
   * @param l0Bytes L0 memory of every fork now (the arena chunks of active and frozen buffers),
   *     against {@code budget.l0Bytes()}
   * @param blockCacheBytes what RocksDB's block cache holds, against {@code budget.blockCacheBytes()}
   * @param heapUsedBytes Java heap in use (garbage included until the next collection)
   * @param heapMaxBytes the heap's limit ({@code -Xmx})
   * @param l0Stalls times writers waited because L0 of all forks reached its share
   * @param l0StallMs total time they waited, ms
   * @param l0FlushesRequested rotates asked for because L0 of all forks was filling up
   */
  public record MemoryUsage(
      MemoryBudget budget,
      long l0Bytes,
      long blockCacheBytes,
      long heapUsedBytes,
      long heapMaxBytes,
      long l0Stalls,
      long l0StallMs,
      long l0FlushesRequested) {}

  /** {@link MemoryUsage} now (no I/O; sums the forks' L0 counters). */
  public MemoryUsage memoryUsage() {
    Runtime rt = Runtime.getRuntime();
    return new MemoryUsage(
        options.memory(), writeBuffers.usageBytes(), segments.blockCacheUsageBytes(), rt.totalMemory() - rt.freeMemory(),
        rt.maxMemory(), writeBuffers.stalls(), writeBuffers.stallMs(), writeBuffers.flushesRequested());
  }

  /** {@link SpaceUsage} as of the last retention pass. */
  public SpaceUsage spaceUsage() {
    return retention.spaceUsage();
  }

  /** Per-fork statistics, by fork name. */
  public Map<String, ForkStats> stats() {
    Map<String, ForkStats> out = new LinkedHashMap<>();
    for (Fork f : forks.openForks()) {
      out.put(f.name(), f.stats());
    }
    return out;
  }

  // Shutdown.

  /**
   * Flushes every fork and waits up to {@code timeoutMs} for publication (graceful shutdown), then
   * closes. Data not published stays in the WALs.
   */
  public void flushAndClose(long timeoutMs) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    Map<String, CompletableFuture<Manifest>> pending = new LinkedHashMap<>();
    for (Fork f : forks.openForks()) {
      pending.put(f.name(), f.flushForShutdown(timeoutMs));
    }
    for (Map.Entry<String, CompletableFuture<Manifest>> e : pending.entrySet()) {
      long left = Math.max(0, deadline - System.nanoTime());
      try {
        e.getValue().get(left, TimeUnit.NANOSECONDS);
      } catch (Exception ex) {
        log.warn("fork={} final flush did not complete before shutdown: {} (its WAL keeps the data)",
            e.getKey(), ex.toString());
      }
    }
    close();
  }

  /**
   * Simulates kill -9, for tests: stops every thread at once, runs {@code crash} (typically {@code
   * FaultInjectingVfs::crash}, which drops whatever was not fsynced), then releases files without
   * flushing or syncing anything. Reopen the data directory afterwards to recover.
   */
  public void haltForTesting(Callable<?> crash) throws Exception {
    closed = true;
    retention.stop();
    compactions.stop();
    executors.haltNow();
    crash.call();
    for (Fork f : forks.openForks()) {
      f.halt();
    }
    forks.clear();
    catalog.close();
    segments.close();
  }

  /** Closes every fork, stops every thread (bounded waits) and closes the segment store. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    retention.stop();
    compactions.stop();
    executors.stopCompactionsAndGc(COMPACTION_STOP_WAIT_MS);
    for (Fork f : forks.openForks()) {
      try {
        f.close();
      } catch (RuntimeException e) {
        log.warn("fork={} close failed: {}", f.name(), e.toString());
      }
    }
    forks.clear();
    executors.stopFlushPools();
    try {
      catalog.close();
    } catch (RuntimeException e) {
      log.warn("catalog close failed: {}", e.toString());
    }
    try {
      segments.close();
    } catch (IOException e) {
      log.warn("segment store close failed: {}", e.toString());
    }
  }
}
