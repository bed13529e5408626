package dev.strata.engine;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.ForkContext;
import dev.strata.engine.fork.SegmentIdAllocator;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.engine.segment.SegmentStoreOptions;
import dev.strata.manifest.CatalogConflictException;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.ForkNames;
import dev.strata.manifest.ForkState;
import dev.strata.manifest.proto.Manifest;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The storage engine of one data directory: the fork catalog, one {@link Fork} per fork, the
 * shared {@link SegmentStore} (one RocksDB instance plus Lucene directories), and the thread pools.
 *
 * <h2>On-disk layout</h2>
 *
 * <pre>
 * &lt;data&gt;/catalog/                 fork catalog versions (ForkCatalog)
 * &lt;data&gt;/forks/&lt;fork-id&gt;/wal/       the fork's WAL segments
 * &lt;data&gt;/forks/&lt;fork-id&gt;/manifests/ the fork's manifests, one file per seq
 * &lt;data&gt;/rocksdb/                 documents of every segment, keys prefixed by segment id
 * &lt;data&gt;/segments/&lt;segment-id&gt;/    each segment's Lucene index
 * </pre>
 *
 * <h2>Threads (all owned and stopped by {@link #close})</h2>
 *
 * {@code strata-stream-N} (stream phases, bounded), {@code strata-finalizer-N} (each fork's
 * finalizer runs on it as a sequential executor), {@code strata-scheduler} (interval flushes,
 * retries, stream timeouts), and one WAL syncer per fork (owned by its WAL).
 *
 * <p>Thread-safe. Fork create and drop reserve the name in a concurrent map instead of taking a
 * lock, so no lock is held across their I/O; the write path of one fork never touches another's.
 */
public final class StrataEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StrataEngine.class);

  /** The name of the fork that exists from the start and cannot be dropped. */
  public static final String MAIN = "main";

  private final Path dataDir;
  private final Vfs vfs;
  private final EngineOptions options;
  private final SegmentStore segments;
  private final ForkCatalog catalog;
  private final ExecutorService streamExecutor;
  private final ExecutorService finalizerPool;
  private final ScheduledExecutorService scheduler;
  private final SegmentIdAllocator segmentIds = new SegmentIdAllocator(1);
  private final ForkContext ctx;
  private final CompactionScheduler compactions;
  /** Retention and GC run here, one pass at a time ({@code strata-gc}). */
  private final ExecutorService gcExecutor;
  private final java.util.concurrent.atomic.AtomicLong snapshotsExpired = new java.util.concurrent.atomic.AtomicLong();
  /** A periodic retention pass is queued or running. */
  private final java.util.concurrent.atomic.AtomicBoolean retentionQueued = new java.util.concurrent.atomic.AtomicBoolean();
  private final java.util.concurrent.atomic.AtomicLong segmentsCollected = new java.util.concurrent.atomic.AtomicLong();

  /** Open forks by name; a name being created or dropped maps to a reservation. */
  private final ConcurrentHashMap<String, Object> forks = new ConcurrentHashMap<>();

  /** Base segments of forks being created, by new fork name: GC keeps them. */
  private final ConcurrentHashMap<String, Set<Long>> pinnedForCreation = new ConcurrentHashMap<>();

  private volatile boolean closed;

  private StrataEngine(Path dataDir, Vfs vfs, EngineOptions options) throws IOException {
    this.dataDir = dataDir;
    this.vfs = vfs;
    this.options = options;
    vfs.createDirectories(dataDir);
    this.segments =
        SegmentStore.open(
            dataDir,
            SegmentStoreOptions.defaults().withBlockCacheBytes(options.blockCacheBytes()).withVfs(vfs));
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
    this.streamExecutor =
        new ThreadPoolExecutor(
            options.streamThreads(),
            options.streamThreads(),
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(),
            daemon("strata-stream-%d"));
    this.finalizerPool =
        Executors.newFixedThreadPool(Math.max(2, options.streamThreads() / 2), daemon("strata-finalizer-%d"));
    ScheduledThreadPoolExecutor sched = new ScheduledThreadPoolExecutor(1, daemon("strata-scheduler-%d"));
    sched.setRemoveOnCancelPolicy(true);
    this.scheduler = sched;
    this.compactions = new CompactionScheduler(options.compaction());
    this.gcExecutor = Executors.newSingleThreadExecutor(daemon("strata-gc-%d"));
    this.ctx =
        new ForkContext(
            vfs, dataDir, options, segments, streamExecutor, finalizerPool, scheduler, segmentIds,
            this::onFlushPublished);
  }

  private static java.util.concurrent.ThreadFactory daemon(String format) {
    return new ThreadFactoryBuilder().setNameFormat(format).setDaemon(true).build();
  }

  /**
   * Opens (creating if needed) the engine on {@code dataDir} and recovers every fork: finishes
   * interrupted drops, completes interrupted fork creations, verifies manifest chains, replays
   * WALs, and deletes segments no manifest refers to (leftovers of unpublished flushes).
   *
   * @throws IOException if the data directory cannot be opened
   */
  public static StrataEngine open(Path dataDir, Vfs vfs, EngineOptions options) throws IOException {
    StrataEngine e = new StrataEngine(dataDir, vfs, options);
    try {
      e.recover();
    } catch (IOException | RuntimeException ex) {
      e.close();
      throw ex;
    }
    return e;
  }

  private void recover() throws IOException {
    // No compaction runs yet: whatever a crashed one left in its job directory goes.
    segments.deleteJobDirectories();
    Set<Long> onDisk = segments.segmentIdsOnDisk();
    segmentIds.advanceTo(onDisk.stream().mapToLong(Long::longValue).max().orElse(0) + 1);
    if (catalog.byName(MAIN).isEmpty()) {
      try {
        catalog.put(ForkEntry.create(MAIN, "", System.currentTimeMillis()));
      } catch (CatalogConflictException ex) {
        throw new IOException("cannot create fork main", ex);
      }
    }
    List<ForkEntry> entries = new ArrayList<>(catalog.current().forks());
    // A fork's base fork opens before it (a fork whose creation was cut short gets its first
    // manifest from its base's), so order by depth in the base chain.
    Map<String, ForkEntry> byId = new java.util.HashMap<>();
    entries.forEach(e -> byId.put(e.forkId(), e));
    entries.sort(java.util.Comparator.comparingInt(e -> baseDepth(e, byId)));
    for (ForkEntry entry : entries) {
      if (entry.state() == ForkState.DROPPING) {
        log.info("fork={} id={} was being dropped at the crash: finishing the drop", entry.name(), entry.forkId());
        vfs.deleteRecursively(ctx.forkDir(entry.forkId()));
        removeFromCatalog(entry.forkId());
        continue;
      }
      Manifest base = null;
      if (!entry.baseSnapshotId().isEmpty()) {
        base = findManifest(entry.baseSnapshotId()).orElse(null);
        if (base == null && !Fork.hasManifest(ctx, entry)) {
          // Its creation never finished and its base is gone: it never existed for anyone.
          log.warn("fork={} id={} was never completed and its base {} is gone: removing it",
              entry.name(), entry.forkId(), entry.baseSnapshotId());
          abandonEntry(entry);
          continue;
        }
      }
      forks.put(entry.name(), Fork.open(ctx, entry, base));
    }
    Set<Long> referenced = referencedSegments();
    long max = referenced.stream().mapToLong(Long::longValue).max().orElse(0);
    segmentIds.advanceTo(max + 1);
    List<String> unknown = openForks().stream().filter(f -> !f.segmentsKnown()).map(Fork::name).toList();
    if (unknown.isEmpty()) {
      var cleanup = segments.deleteOrphans(referenced);
      if (!cleanup.isEmpty()) {
        log.info("recovery deleted orphan segments of unpublished flushes: {}", cleanup);
      }
    } else {
      // A manifest that could not be read may name segments no readable one does (compaction
      // leaves such segments to older snapshots): deleting "orphans" now could destroy it.
      log.warn("fork(s) {} have unreadable manifests: the orphan sweep is skipped until they are repaired", unknown);
    }
    // Only now may flushes run: the sweep above would delete their in-flight segments.
    openForks().forEach(Fork::startTimer);
    long check = options.compaction().checkIntervalMs();
    scheduler.scheduleWithFixedDelay(
        () -> openForks().forEach(compactions::maybeSchedule), check, check, TimeUnit.MILLISECONDS);
    long gc = options.retention().intervalMs();
    scheduler.scheduleWithFixedDelay(
        () -> {
          if (!retentionQueued.compareAndSet(false, true)) {
            return; // the previous pass is still queued or running: do not pile them up
          }
          try {
            gcExecutor.execute(
                () -> {
                  try {
                    retentionPass();
                  } finally {
                    retentionQueued.set(false);
                  }
                });
          } catch (java.util.concurrent.RejectedExecutionException e) {
            retentionQueued.set(false); // closing
          }
        },
        gc,
        gc,
        TimeUnit.MILLISECONDS);
  }

  /** How many forks lie between {@code e} and a root along base snapshots (cycles cut). */
  private static int baseDepth(ForkEntry e, Map<String, ForkEntry> byId) {
    int depth = 0;
    ForkEntry cur = e;
    while (cur != null && !cur.baseSnapshotId().isEmpty() && depth <= byId.size()) {
      String base = cur.baseSnapshotId();
      int dash = base.lastIndexOf('-');
      cur = dash > 0 ? byId.get(base.substring(0, dash)) : null;
      depth++;
    }
    return depth;
  }

  /** Removes a catalog entry whose fork never became usable, and its directory. */
  private void abandonEntry(ForkEntry entry) throws IOException {
    try {
      catalog.update(entry.withState(ForkState.DROPPING));
    } catch (CatalogConflictException ex) {
      throw new IOException("cannot abandon fork " + entry.name(), ex);
    }
    vfs.deleteRecursively(ctx.forkDir(entry.forkId()));
    removeFromCatalog(entry.forkId());
  }

  /**
   * One retention pass: every fork expires its snapshots past retention (keeping tagged ones and
   * the bases of existing forks), then unreferenced segments are collected. Runs on {@code
   * strata-gc}; {@link #runRetention} runs one now.
   */
  private void retentionPass() {
    if (closed) {
      return;
    }
    Set<String> protectedIds = new HashSet<>(catalog.current().tags().values());
    for (ForkEntry e : catalog.current().forks()) {
      if (!e.baseSnapshotId().isEmpty()) {
        protectedIds.add(e.baseSnapshotId());
      }
    }
    // Forks being created: their base is not in the catalog yet.
    long now = System.currentTimeMillis();
    int expired = 0;
    for (Fork f : openForks()) {
      try {
        expired += f.expireSnapshots(protectedIds, options.retention(), now, this::confirmExpiry, this::expired);
      } catch (IOException | RuntimeException e) {
        log.warn("fork={} retention failed (retried next pass): {}", f.name(), e.toString());
      }
    }
    snapshotsExpired.addAndGet(expired);
    int collected = collectGarbage();
    if (expired > 0 || collected > 0) {
      log.info("retention: {} snapshots expired, {} segments no longer referenced", expired, collected);
    }
  }

  /**
   * Runs one retention and GC pass now and waits for it (for tests and operators).
   *
   * @throws StrataException UNAVAILABLE if the engine is closed
   */
  public void runRetention() {
    checkOpen();
    try {
      gcExecutor.submit(this::retentionPass).get(5, TimeUnit.MINUTES);
    } catch (java.util.concurrent.ExecutionException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "retention failed: " + e.getCause(), e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw StrataException.of(StrataException.Kind.DEADLINE_EXCEEDED, "retention pass took longer than 5 minutes");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
  }

  /** Snapshots expired by retention since the engine opened. */
  public long snapshotsExpired() {
    return snapshotsExpired.get();
  }

  /** Segments marked obsolete by GC since the engine opened (deleted once no reader holds them). */
  public long segmentsCollected() {
    return segmentsCollected.get();
  }

  private final java.util.concurrent.CopyOnWriteArrayList<java.util.function.Consumer<Fork>> publishListeners =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Runs on the fork's finalizer after each flush publication: triggers, then listeners. */
  private void onFlushPublished(Fork f) {
    compactions.maybeSchedule(f);
    for (java.util.function.Consumer<Fork> l : publishListeners) {
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
  public void addFlushListener(java.util.function.Consumer<Fork> listener) {
    publishListeners.add(listener);
  }

  /** The compaction scheduler (backlog, running jobs). */
  public CompactionScheduler compactions() {
    return compactions;
  }

  /**
   * Compacts fork {@code name} now: one step of the merge policy, or every segment of its head
   * into one ({@code full}); queued behind the fork's running compaction if any.
   *
   * @return completes when the compaction published (or found nothing to merge)
   * @throws StrataException NOT_FOUND (no such fork), FAILED_PRECONDITION (read-only or dropping)
   */
  public java.util.concurrent.CompletableFuture<dev.strata.engine.compaction.CompactionResult> compact(
      String name, boolean full) {
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
    List<Fork> forks = openForks();
    Map<String, Map<Long, Long>> byFork = new java.util.LinkedHashMap<>();
    Map<Long, Integer> holders = new java.util.HashMap<>();
    Set<Long> inSomeHead = new HashSet<>();
    for (Fork f : forks) {
      Map<Long, Long> bytes = f.retainedSegmentBytes();
      byFork.put(f.name(), bytes);
      bytes.keySet().forEach(id -> holders.merge(id, 1, Integer::sum));
      f.head().ifPresent(m -> m.getSegmentsList().forEach(r -> inSomeHead.add(Long.parseUnsignedLong(r.getSegmentId(), 16))));
    }
    Map<String, SegmentUsage> out = new java.util.LinkedHashMap<>();
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

  private Set<Long> referencedSegments() {
    Set<Long> out = new HashSet<>();
    pinnedForCreation.values().forEach(out::addAll);
    for (Fork f : openForks()) {
      out.addAll(f.referencedSegments());
    }
    return out;
  }

  private void removeFromCatalog(String forkId) throws IOException {
    try {
      catalog.remove(forkId);
    } catch (CatalogConflictException ex) {
      throw new IOException("cannot remove fork " + forkId + " from the catalog", ex);
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

  /** The shared segment store. */
  public SegmentStore segments() {
    return segments;
  }

  /**
   * The open fork named {@code name}.
   *
   * @throws StrataException NOT_FOUND if there is none (or it is being created or dropped)
   */
  public Fork fork(String name) {
    checkOpen();
    Object f = name == null ? null : forks.get(name);
    if (f instanceof Fork fork) {
      return fork;
    }
    throw StrataException.notFound("fork '" + name + "' does not exist");
  }

  /** Every open fork, by name. */
  public List<Fork> openForks() {
    List<Fork> out = new ArrayList<>();
    for (Object o : forks.values()) {
      if (o instanceof Fork f) {
        out.add(f);
      }
    }
    out.sort((a, b) -> a.name().compareTo(b.name()));
    return out;
  }

  /** The fork whose id is {@code forkId}, if open. */
  public Optional<Fork> forkById(String forkId) {
    return openForks().stream().filter(f -> f.id().equals(forkId)).findFirst();
  }

  /** Finds a retained manifest by snapshot id, on any open fork. */
  public Optional<Manifest> findManifest(String snapshotId) {
    String forkId = Fork.forkIdOf(snapshotId);
    for (Fork f : openForks()) {
      if (f.id().equals(forkId)) {
        try {
          return Optional.of(f.loadSnapshot(snapshotId));
        } catch (StrataException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  /** Tag names: {@code [A-Za-z0-9][A-Za-z0-9._-]{0,127}}. */
  private static final java.util.regex.Pattern TAG = java.util.regex.Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  /**
   * The snapshot id a reference names: a tag, or a snapshot id as it is.
   *
   * @throws StrataException INVALID_ARGUMENT if empty
   */
  public String resolveSnapshotRef(String idOrTag) {
    if (idOrTag == null || idOrTag.isEmpty()) {
      throw StrataException.invalid("a snapshot id or tag is required");
    }
    String target = catalog.current().tags().get(idOrTag);
    return target != null ? target : idOrTag;
  }

  /** The open fork that owns snapshot {@code snapshotId}. */
  public Fork forkOfSnapshot(String snapshotId) {
    String forkId = Fork.forkIdOf(snapshotId);
    for (Fork f : openForks()) {
      if (f.id().equals(forkId)) {
        return f;
      }
    }
    throw StrataException.notFound("snapshot '" + snapshotId + "' does not exist (no open fork owns it)");
  }

  /**
   * Opens a retained snapshot of any fork for reading, by id or tag; the caller releases it.
   *
   * @throws StrataException NOT_FOUND if no retained snapshot has that id
   */
  public dev.strata.engine.read.PublishedSnapshot acquireSnapshot(String idOrTag) {
    String id = resolveSnapshotRef(idOrTag);
    return forkOfSnapshot(id).acquireSnapshot(id);
  }

  /**
   * Pins tag {@code tag} on a snapshot (moving it if it exists). Tagged snapshots are never
   * expired.
   *
   * @throws StrataException INVALID_ARGUMENT (bad tag name), NOT_FOUND (no such snapshot)
   */
  public void tagSnapshot(String snapshotId, String tag) {
    checkOpen();
    if (tag == null || !TAG.matcher(tag).matches()) {
      throw StrataException.invalid("tag must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, got '" + tag + "'");
    }
    String id = resolveSnapshotRef(snapshotId);
    protectFromRetention(id);
    try {
      findManifest(id).orElseThrow(() -> StrataException.notFound("snapshot '" + snapshotId + "' does not exist"));
      catalog.putTag(tag, id);
    } catch (IOException | CatalogConflictException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot save tag '" + tag + "': " + e.getMessage(), e);
    } finally {
      unprotect(id);
    }
  }

  // ---------------------------------------------------------------- retention vs. new references

  /**
   * Serializes the two moments that matter between retention and a new reference to a snapshot
   * (a tag, a fork's base): retention's final choice of what to delete, and the registration of
   * the reference. Held only for in-memory set operations, never across I/O.
   */
  private final Object retentionGate = new Object();
  /** Snapshot ids a tag or fork creation is about to refer to; guarded by retentionGate. */
  private final Map<String, Integer> referencesInFlight = new java.util.HashMap<>();
  /** Snapshot ids retention decided to delete and is deleting; guarded by retentionGate. */
  private final Set<String> expiring = new HashSet<>();

  /**
   * Keeps retention away from {@code snapshotId} until {@link #unprotect}: either retention
   * decided first (then this fails with NOT_FOUND: the snapshot is going) or it will see the id and
   * keep the snapshot. The caller then checks the snapshot still exists and saves its reference.
   */
  private void protectFromRetention(String snapshotId) {
    synchronized (retentionGate) {
      if (expiring.contains(snapshotId)) {
        throw StrataException.notFound("snapshot '" + snapshotId + "' has expired");
      }
      referencesInFlight.merge(snapshotId, 1, Integer::sum);
    }
  }

  private void unprotect(String snapshotId) {
    synchronized (retentionGate) {
      referencesInFlight.computeIfPresent(snapshotId, (k, n) -> n == 1 ? null : n - 1);
    }
  }

  /**
   * Retention's final choice: of {@code candidates}, those no tag, fork base or in-flight
   * reference protects, marked as expiring until {@link #expired}. Reads the catalog in memory.
   */
  private List<String> confirmExpiry(List<String> candidates) {
    synchronized (retentionGate) {
      Set<String> keep = new HashSet<>(catalog.current().tags().values());
      for (ForkEntry e : catalog.current().forks()) {
        keep.add(e.baseSnapshotId());
      }
      keep.addAll(referencesInFlight.keySet());
      List<String> go = new ArrayList<>();
      for (String id : candidates) {
        if (!keep.contains(id)) {
          go.add(id);
          expiring.add(id);
        }
      }
      return go;
    }
  }

  private void expired(List<String> ids) {
    synchronized (retentionGate) {
      ids.forEach(expiring::remove);
    }
  }

  /**
   * Removes a tag.
   *
   * @throws StrataException NOT_FOUND if there is no such tag
   */
  public void deleteTag(String tag) {
    checkOpen();
    try {
      catalog.removeTag(tag);
    } catch (CatalogConflictException e) {
      throw StrataException.notFound("tag '" + tag + "' does not exist");
    } catch (IOException e) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot delete tag '" + tag + "': " + e.getMessage(), e);
    }
  }

  /** Every tag, tag name to snapshot id. */
  public Map<String, String> tags() {
    return catalog.current().tags();
  }

  /** The tags pinned on {@code snapshotId}, sorted. */
  public List<String> tagsOf(String snapshotId) {
    List<String> out = new ArrayList<>();
    catalog.current().tags().forEach((t, id) -> {
      if (id.equals(snapshotId)) {
        out.add(t);
      }
    });
    return out;
  }

  /**
   * Streams the keys added, changed and deleted from snapshot {@code from} to {@code to} (ids or
   * tags, of one fork or of a fork and its base).
   *
   * @return entries delivered
   * @throws StrataException NOT_FOUND if either snapshot does not exist
   */
  public long diff(String from, String to, dev.strata.engine.read.SnapshotDiff.Sink sink) {
    checkOpen();
    var a = acquireSnapshot(from);
    try {
      var b = acquireSnapshot(to);
      try {
        return dev.strata.engine.read.SnapshotDiff.diff(a, b, segments, sink);
      } finally {
        b.release();
      }
    } finally {
      a.release();
    }
  }

  /**
   * Walks every fork's manifest chain and checks every segment its head refers to exists with its
   * checksum (SPEC §7 verify).
   *
   * @return problems, each naming the fork, snapshot or segment; empty if all is well
   */
  public List<String> verify() {
    checkOpen();
    List<String> problems = new ArrayList<>();
    Set<Long> checked = new HashSet<>();
    for (Fork f : openForks()) {
      try {
        f.verifyChain().forEach(p -> problems.add("fork " + f.name() + ": " + p));
      } catch (IOException e) {
        problems.add("fork " + f.name() + ": manifest chain unreadable: " + e.getMessage());
      }
      if (f.readOnlyReason() != null) {
        problems.add("fork " + f.name() + ": read-only: " + f.readOnlyReason());
      }
      for (Manifest m : f.listSnapshots()) {
        for (var ref : m.getSegmentsList()) {
          long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
          if (!checked.add(id)) {
            continue;
          }
          String problem;
          try {
            problem = segments.check(id, Integer.toUnsignedLong(ref.getChecksum())).orElse(null);
          } catch (IOException | RuntimeException e) {
            problem = e.getMessage();
          }
          // Retention may have expired the snapshot and GC reclaimed the segment during the walk:
          // that is not a problem. A snapshot still retained keeps its segments, so then it is.
          if (problem != null && findManifest(m.getId()).isPresent()) {
            problems.add("segment " + ref.getSegmentId() + " (snapshot " + m.getId() + "): " + problem);
          } else if (problem != null) {
            checked.remove(id);
          }
        }
      }
    }
    return problems;
  }

  /**
   * Creates fork {@code name} from a snapshot (O(1): one manifest that refers to the same
   * segments; no data is copied).
   *
   * @param fromSnapshotId a snapshot id of any fork, or null to use {@code fromFork}'s head
   * @param fromFork the fork whose head to fork from (when {@code fromSnapshotId} is null)
   * @param flushFirst flush {@code fromFork} and wait for it first, so the new fork has every
   *     acknowledged write of it
   * @param timeoutMs bound on that flush
   * @throws StrataException INVALID_ARGUMENT (bad name), ALREADY_EXISTS, NOT_FOUND (source), or
   *     FAILED_PRECONDITION (the source fork has no snapshot yet)
   */
  public Fork createFork(String name, String fromSnapshotId, String fromFork, boolean flushFirst, long timeoutMs) {
    checkOpen();
    String problem = ForkNames.problem(name);
    if (problem != null) {
      throw StrataException.invalid(problem);
    }
    Object reservation = new Object();
    if (forks.putIfAbsent(name, reservation) != null) {
      throw StrataException.of(StrataException.Kind.ALREADY_EXISTS, "fork '" + name + "' already exists");
    }
    boolean done = false;
    try {
      Manifest base;
      if (fromSnapshotId != null && !fromSnapshotId.isEmpty()) {
        base =
            findManifest(resolveSnapshotRef(fromSnapshotId))
                .orElseThrow(() -> StrataException.notFound("snapshot '" + fromSnapshotId + "' does not exist"));
      } else {
        Fork source = fork(fromFork == null || fromFork.isEmpty() ? MAIN : fromFork);
        if (flushFirst) {
          FlushTicket t = source.flush(options.writeStallTimeoutMs());
          try {
            source.awaitTicket(t).get(timeoutMs, TimeUnit.MILLISECONDS);
          } catch (java.util.concurrent.TimeoutException ex) {
            throw StrataException.of(
                StrataException.Kind.DEADLINE_EXCEEDED,
                "flush of fork '" + source.name() + "' did not publish within " + timeoutMs + " ms");
          } catch (java.util.concurrent.ExecutionException ex) {
            throw ex.getCause() instanceof StrataException se
                ? se
                : StrataException.of(StrataException.Kind.IO_ERROR, ex.getCause().getMessage(), ex.getCause());
          } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
          }
        }
        base =
            source
                .head()
                .orElseThrow(
                    () ->
                        StrataException.failedPrecondition(
                            "fork '" + source.name() + "' has no snapshot yet: flush it first (or pass flush_first)"));
      }
      // Pin the base's segments for GC until the new fork's own manifest refers to them, then
      // check the base still exists (a concurrent drop of its fork may have collected them).
      Set<Long> baseSegments = new HashSet<>();
      base.getSegmentsList().forEach(r -> baseSegments.add(Long.parseUnsignedLong(r.getSegmentId(), 16)));
      pinnedForCreation.put(name, baseSegments);
      Manifest pinnedBase = base;
      // Retention must not expire the base between this check and the catalog entry that names it.
      protectFromRetention(base.getId());
      ForkEntry entry = ForkEntry.create(name, base.getId(), System.currentTimeMillis());
      try {
        if (findManifest(base.getId()).isEmpty()) {
          throw StrataException.notFound(
              "snapshot '" + pinnedBase.getId() + "' no longer exists (its fork was dropped or it expired)");
        }
        catalog.put(entry);
      } catch (CatalogConflictException ex) {
        throw StrataException.of(StrataException.Kind.ALREADY_EXISTS, ex.getMessage());
      } finally {
        unprotect(base.getId());
      }
      Fork fork;
      dev.strata.engine.read.PublishedSnapshot openBase = null;
      try {
        try {
          openBase = forkOfSnapshot(base.getId()).acquireSnapshot(base.getId());
        } catch (StrataException ex) {
          openBase = null; // the new fork rebuilds the liveness itself
        }
        fork = Fork.create(ctx, entry, base, openBase);
      } catch (IOException | RuntimeException ex) {
        try {
          abandonEntry(entry);
        } catch (IOException | RuntimeException cleanup) {
          ex.addSuppressed(cleanup); // the next open finishes it
        }
        throw ex;
      } finally {
        if (openBase != null) {
          openBase.release();
        }
      }
      forks.put(name, fork);
      fork.startTimer();
      done = true;
      log.info("fork={} id={} created from snapshot {}", name, entry.forkId(), base.getId());
      return fork;
    } catch (IOException ex) {
      throw StrataException.of(StrataException.Kind.IO_ERROR, "cannot create fork '" + name + "': " + ex.getMessage(), ex);
    } finally {
      pinnedForCreation.remove(name);
      if (!done) {
        forks.remove(name, reservation);
      }
    }
  }

  /**
   * Drops fork {@code name} (SPEC §4): refuses new writes, drains its in-flight flushes for at most
   * {@code drainTimeoutMs}, closes its pipeline, deletes its WAL and manifests, then deletes
   * segments nothing refers to any more. Forks made from it keep working: their manifests refer to
   * the segments they need.
   *
   * @throws StrataException FAILED_PRECONDITION for {@code main}; NOT_FOUND; DEADLINE_EXCEEDED if
   *     the drain timed out — the fork then stays whole and writable
   */
  public void dropFork(String name, long drainTimeoutMs) {
    checkOpen();
    if (MAIN.equals(name)) {
      throw StrataException.failedPrecondition("fork 'main' cannot be dropped");
    }
    Fork fork = fork(name);
    fork.beginDrop();
    int pending;
    try {
      pending = fork.drain(drainTimeoutMs);
    } catch (InterruptedException ex) {
      fork.abortDrop();
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
    if (pending > 0) {
      fork.abortDrop();
      throw StrataException.of(
          StrataException.Kind.DEADLINE_EXCEEDED,
          "drop of fork '" + name + "' timed out after " + drainTimeoutMs + " ms with " + pending
              + " flushes pending; the fork stays whole and writable");
    }
    try {
      catalog.update(fork.entry().withState(ForkState.DROPPING));
    } catch (IOException | CatalogConflictException ex) {
      fork.abortDrop();
      throw StrataException.of(
          StrataException.Kind.IO_ERROR,
          "drop of fork '" + name + "' failed before it began (the fork is unchanged): " + ex.getMessage(),
          ex);
    }
    try {
      for (Map.Entry<String, String> t : catalog.current().tags().entrySet()) {
        if (Fork.forkIdOf(t.getValue()).equals(fork.id())) {
          catalog.removeTag(t.getKey());
        }
      }
      forks.remove(name, fork);
      fork.closeForDrop();
      compactions.forget(fork);
      vfs.deleteRecursively(ctx.forkDir(fork.id()));
      removeFromCatalog(fork.id());
    } catch (IOException | CatalogConflictException ex) {
      throw StrataException.of(
          StrataException.Kind.IO_ERROR,
          "drop of fork '" + name + "' failed: " + ex.getMessage() + " (a restart finishes it)",
          ex);
    }
    collectGarbage();
    log.info("fork={} id={} dropped", name, fork.id());
  }

  /**
   * Marks every segment no retained manifest of any fork refers to as obsolete; the store deletes
   * each once the last reader releases it.
   *
   * @return how many segments were marked
   */
  public int collectGarbage() {
    int n = 0;
    for (Fork f : openForks()) {
      if (!f.segmentsKnown()) {
        log.warn("fork={} has an unreadable manifest: segment GC is off until it is repaired", f.name());
        return 0;
      }
    }
    try {
      // Order matters (see SegmentIdAllocator): disk, then in flight, then referenced.
      Set<Long> onDisk = segments.segmentIdsOnDisk();
      Set<Long> inFlight = segmentIds.inFlight();
      Set<Long> referenced = referencedSegments();
      for (long id : onDisk) {
        if (!referenced.contains(id) && !inFlight.contains(id)) {
          segments.markObsolete(id);
          n++;
          segmentsCollected.incrementAndGet();
        }
      }
    } catch (IOException e) {
      // GC is retried by the next drop or restart; nothing referenced is touched.
      log.warn("segment GC failed: {}", e.toString());
    }
    return n;
  }

  /** Per-fork statistics. */
  public Map<String, Fork.Stats> stats() {
    Map<String, Fork.Stats> out = new java.util.LinkedHashMap<>();
    for (Fork f : openForks()) {
      out.put(f.name(), f.stats());
    }
    return out;
  }

  private void checkOpen() {
    if (closed) {
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "the engine is closed");
    }
  }

  /**
   * Flushes every fork and waits up to {@code timeoutMs} for publication (graceful shutdown), then
   * closes. Data not published stays in the WALs.
   */
  public void flushAndClose(long timeoutMs) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    Map<String, java.util.concurrent.CompletableFuture<Manifest>> pending = new java.util.LinkedHashMap<>();
    for (Fork f : openForks()) {
      pending.put(f.name(), f.flushForShutdown(timeoutMs));
    }
    for (Map.Entry<String, java.util.concurrent.CompletableFuture<Manifest>> e : pending.entrySet()) {
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
  public void haltForTesting(java.util.concurrent.Callable<?> crash) throws Exception {
    closed = true;
    scheduler.shutdownNow();
    compactions.shutdown(30_000);
    gcExecutor.shutdownNow();
    streamExecutor.shutdownNow();
    finalizerPool.shutdownNow();
    streamExecutor.awaitTermination(30, TimeUnit.SECONDS);
    finalizerPool.awaitTermination(30, TimeUnit.SECONDS);
    gcExecutor.awaitTermination(30, TimeUnit.SECONDS);
    crash.call();
    for (Fork f : openForks()) {
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
    compactions.shutdown(30_000);
    gcExecutor.shutdown();
    try {
      gcExecutor.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Fork f : openForks()) {
      try {
        f.close();
      } catch (RuntimeException e) {
        log.warn("fork={} close failed: {}", f.name(), e.toString());
      }
    }
    forks.clear();
    scheduler.shutdownNow();
    streamExecutor.shutdownNow();
    finalizerPool.shutdown();
    try {
      streamExecutor.awaitTermination(30, TimeUnit.SECONDS);
      finalizerPool.awaitTermination(30, TimeUnit.SECONDS);
      scheduler.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
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
