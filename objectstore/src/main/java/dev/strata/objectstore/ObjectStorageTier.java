package dev.strata.objectstore;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.Segment;
import dev.strata.manifest.CatalogSnapshot;
import dev.strata.manifest.ForkCatalog;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The object-storage tier of one engine: uploads every fork's published snapshots (segments, then
 * manifest) in seq order to an S3-compatible bucket, and the fork catalog on each change.
 *
 * <h2>Threads (owned here, stopped by {@link #close})</h2>
 *
 * <ul>
 *   <li>{@code strata-upload-timer} (1 thread): every {@value #TICK_MS} ms queues a drain for each
 *       fork with snapshots to upload, the catalog upload when its version changed, and the
 *       heartbeat of the writer generation every lease / 3. It does no upload itself, so a long
 *       upload never delays the heartbeat.
 *   <li>{@code strata-upload-N} ({@code storage.upload_threads}): the drains ({@link ForkUploader},
 *       at most one per fork at a time) and catalog uploads. A publish also queues its fork's drain
 *       at once (a flush listener).
 * </ul>
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>A manifest object is written only after every bundle it names was PUT successfully (by
 *       this or an earlier generation); so a manifest is never visible before its segments.
 *   <li>Per fork, manifests are written in strictly increasing seq, none skipped while retained;
 *       retention keeps every snapshot not yet uploaded ({@link StrataEngine#addRetentionPin}).
 *   <li>Each segment is uploaded once per process (concurrent forks needing it wait for the one
 *       upload); a key is written by one generation only.
 *   <li>Every manifest and catalog PUT is preceded by the fencing check ({@link WriterFence}).
 * </ol>
 *
 * <p>Thread-safe.
 */
public final class ObjectStorageTier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ObjectStorageTier.class);
  static final long TICK_MS = 200;
  private static final long SEGMENT_WAIT_MINUTES = 10;
  private static final long CLOSE_WAIT_MS = 10_000;

  private final StrataEngine engine;
  private final ObjectStore store;
  private final ObjectStoreConfig config;
  private final BucketLayout layout;
  private final WriterFence fence;
  private final Path workDir;
  private final ScheduledExecutorService timer;
  private final ExecutorService pool;

  private final Map<String, ForkUploader> uploaders = new ConcurrentHashMap<>();
  /** Segment id -> bundle key (relative to the prefix) of every segment known to be in the bucket. */
  private final Map<Long, String> uploadedSegments = new ConcurrentHashMap<>();
  private final Map<Long, CompletableFuture<String>> inflight = new ConcurrentHashMap<>();
  /** Segment ids with a parallel upload queued ({@link #prefetchSegment}). */
  private final Set<Long> prefetching = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean catalogQueued = new AtomicBoolean();
  private final AtomicBoolean gcQueued = new AtomicBoolean();
  private final BucketGc gc;
  private volatile long lastGcNanos = System.nanoTime();
  private final AtomicLong bytesUploaded = new AtomicLong();
  private final AtomicLong segmentsUploaded = new AtomicLong();
  private volatile long uploadedCatalogVersion = -1;
  /** Fork ids of the catalog version this process uploaded last; null before the first upload. */
  private Set<String> uploadedCatalogForks;
  /** Forks dropped since an uploaded catalog listed them, whose drop marker is not written yet. */
  private final Set<String> dropMarkersDue = ConcurrentHashMap.newKeySet();
  private volatile long lastHeartbeatNanos = System.nanoTime();
  private volatile boolean closing;
  private volatile String fencedBy;

  private ObjectStorageTier(StrataEngine engine, ObjectStore store, ObjectStoreConfig config, WriterFence fence, Path workDir) {
    this.engine = engine;
    this.store = store;
    this.config = config;
    this.layout = new BucketLayout(config.prefix());
    this.fence = fence;
    this.workDir = workDir;
    this.timer = Executors.newSingleThreadScheduledExecutor(named("strata-upload-timer"));
    this.pool = Executors.newFixedThreadPool(config.uploadThreads(), named("strata-upload-"));
    this.gc = new BucketGc(this, engine, System::currentTimeMillis);
  }

  /**
   * Starts the tier on {@code engine} with a new S3 client for {@code config}.
   *
   * @throws WriterFencedException if another live server writes the prefix
   * @throws IOException if the bucket cannot be reached
   */
  public static ObjectStorageTier start(StrataEngine engine, ObjectStoreConfig config) throws IOException {
    return start(engine, S3ObjectStore.open(config), config);
  }

  /**
   * Starts the tier on {@code engine} over {@code store} (which it then owns and closes): takes a
   * writer generation, pins the snapshots not yet uploaded, and starts its threads.
   *
   * @throws WriterFencedException if another live server writes the prefix (the store is closed)
   * @throws IOException if the bucket cannot be reached (the store is closed)
   */
  public static ObjectStorageTier start(StrataEngine engine, ObjectStore store, ObjectStoreConfig config) throws IOException {
    try {
      BucketLayout layout = new BucketLayout(config.prefix());
      WriterFence fence =
          WriterFence.acquire(store, layout, config.location(), engine.dataDir(), config.leaseMs(), System::currentTimeMillis);
      Path work = engine.segments().createJobDirectory("upload");
      ObjectStorageTier tier = new ObjectStorageTier(engine, store, config, fence, work);
      tier.begin();
      return tier;
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
  }

  private void begin() {
    engine.addRetentionPin(this::pinnedSnapshotIds);
    engine.addFlushListener(this::kick);
    timer.scheduleWithFixedDelay(this::tick, 0, TICK_MS, TimeUnit.MILLISECONDS);
    log.info("object storage tier on: {} (generation {}, {} upload threads)", config, fence.generation(), config.uploadThreads());
  }

  // Accessors for ForkUploader.

  ObjectStore store() {
    return store;
  }

  BucketLayout layout() {
    return layout;
  }

  ObjectStoreConfig config() {
    return config;
  }

  WriterFence fence() {
    return fence;
  }

  long generation() {
    return fence.generation();
  }

  boolean isClosing() {
    return closing || fencedBy != null;
  }

  /** This server's writer generation on the prefix. */
  public long writerGeneration() {
    return fence.generation();
  }

  /** Where the tier writes: {@code s3://bucket/prefix}. */
  public String location() {
    return config.location();
  }

  // Scheduling.

  private void tick() {
    try {
      if (isClosing()) {
        return;
      }
      Set<String> open = new HashSet<>();
      for (Fork f : engine.openForks()) {
        open.add(f.id());
        uploaderOf(f);
      }
      for (ForkUploader u : uploaders.values()) {
        if (!open.contains(u.fork().id())) {
          uploaders.remove(u.fork().id());
          // Dropped here (ids are never reused): its marker follows the next catalog upload, even
          // if no uploaded catalog version ever listed it (created and dropped between two).
          dropMarkersDue.add(u.fork().id());
          u.abandon(StrataException.notFound("fork '" + u.fork().name() + "' was dropped; its uploads stopped"));
        } else if (u.wantsDrain()) {
          queue(u);
        }
      }
      if ((engine.catalogSnapshot().version() != uploadedCatalogVersion || !dropMarkersDue.isEmpty())
          && catalogQueued.compareAndSet(false, true)) {
        submit(this::uploadCatalog, () -> catalogQueued.set(false));
      }
      if (System.nanoTime() - lastGcNanos >= TimeUnit.MILLISECONDS.toNanos(gcIntervalMs())
          && gcQueued.compareAndSet(false, true)) {
        lastGcNanos = System.nanoTime();
        submit(this::gcPass, () -> gcQueued.set(false));
      }
      if (System.nanoTime() - lastHeartbeatNanos >= TimeUnit.MILLISECONDS.toNanos(config.leaseMs() / 3)) {
        lastHeartbeatNanos = System.nanoTime();
        fence.heartbeat();
      }
    } catch (WriterFencedException e) {
      fenced(e);
    } catch (IOException | RuntimeException e) {
      log.warn("object storage tier tick failed (next tick retries): {}", e.toString());
    }
  }

  private ForkUploader uploaderOf(Fork f) {
    return uploaders.computeIfAbsent(f.id(), id -> new ForkUploader(this, f));
  }

  /** Queues {@code f}'s drain now (after a publish); no-op if one is queued or running. */
  private void kick(Fork f) {
    if (!isClosing()) {
      ForkUploader u = uploaderOf(f);
      if (u.wantsDrain()) {
        queue(u);
      }
    }
  }

  private void queue(ForkUploader u) {
    if (u.queued.compareAndSet(false, true)) {
      submit(u::drain, () -> u.queued.set(false));
    }
  }

  private void submit(Runnable task, Runnable onReject) {
    try {
      pool.execute(task);
    } catch (RejectedExecutionException e) {
      onReject.run(); // closing
    }
  }

  /**
   * Uploads the catalog if it changed, then writes the drop marker of every fork an earlier
   * uploaded version listed and this one does not, and of every fork whose uploader the tick
   * retired because the fork is no longer open (fork ids are never reused, so a fork leaves only
   * by a drop here), once the uploaded catalog no longer lists it. The marker follows the catalog: a bucket never says a fork was
   * dropped while its newest catalog still lists it. A drop this process did not see (it happened
   * before a crash, between two uploads) leaves no marker: its objects stay (a leak, never a loss).
   * Runs on the upload pool, one at a time ({@code catalogQueued}).
   */
  private void uploadCatalog() {
    try {
      CatalogSnapshot cat = engine.catalogSnapshot();
      if (cat.version() != uploadedCatalogVersion) {
        fence.check();
        store.put(layout.catalogKey(cat.version(), generation()), ForkCatalog.encode(cat, System.currentTimeMillis()));
        uploadedCatalogVersion = cat.version();
        Set<String> ids = new HashSet<>();
        cat.forks().forEach(e -> ids.add(e.forkId()));
        if (uploadedCatalogForks != null) {
          uploadedCatalogForks.stream().filter(id -> !ids.contains(id)).forEach(dropMarkersDue::add);
        }
        uploadedCatalogForks = ids;
      }
      for (String forkId : Set.copyOf(dropMarkersDue)) {
        if (uploadedCatalogForks != null && uploadedCatalogForks.contains(forkId)) {
          continue; // still in the catalog this process uploaded last (DROPPING): not yet
        }
        fence.check();
        store.put(layout.droppedMarkerKey(forkId, generation()), new byte[0]);
        dropMarkersDue.remove(forkId);
        log.info("fork {} was dropped: its drop marker is in the bucket; bucket GC collects its manifests after"
            + " storage.delete_grace", forkId);
      }
    } catch (WriterFencedException e) {
      fenced(e);
    } catch (IOException | RuntimeException e) {
      log.warn("fork catalog upload failed (next tick retries): {}", e.toString());
    } finally {
      catalogQueued.set(false);
    }
  }

  // Bucket GC.

  /** A GC pass every quarter of the grace, at least every second and at most every 10 minutes. */
  private long gcIntervalMs() {
    return Math.max(1_000, Math.min(600_000, config.deleteGraceMs() / 4));
  }

  private void gcPass() {
    try {
      gc.run();
    } catch (WriterFencedException e) {
      fenced(e);
    } catch (IOException | RuntimeException e) {
      log.warn("bucket GC pass failed (the next one retries): {}", e.toString());
    } finally {
      gcQueued.set(false);
    }
  }

  /**
   * Runs one bucket GC pass now on the calling thread and waits for none queued (tests and
   * operators); see {@link BucketGc}.
   *
   * @return manifests, bundles and catalog versions deleted, and candidates still in their grace
   * @throws IOException if the bucket cannot be listed or an object cannot be deleted
   */
  public synchronized int[] collectGarbageNow() throws IOException {
    while (!gcQueued.compareAndSet(false, true)) {
      try {
        Thread.sleep(10); // a periodic pass is running: passes never overlap
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for a bucket GC pass");
      }
    }
    try {
      BucketGc.Pass p = gc.run();
      return new int[] {p.manifestsDeleted(), p.bundlesDeleted(), p.catalogsDeleted(), p.candidatesWaiting()};
    } finally {
      gcQueued.set(false);
    }
  }

  /** The fork's upload watermark, or empty before its uploads resumed (or after they stopped). */
  OptionalLong watermark(Fork fork) {
    return uploaderOf(fork).watermark();
  }

  /** Bundle keys (full keys) this process knows for {@code segmentIds}. */
  Set<String> bundleKeysOf(Set<Long> segmentIds) {
    Set<String> out = new HashSet<>();
    for (long id : segmentIds) {
      String rel = uploadedSegments.get(id);
      if (rel != null) {
        out.add(layout.key(rel));
      }
    }
    return out;
  }

  // Segments.

  /**
   * Records that segment {@code segmentId} is in the bucket under {@code relKey}; the local segment
   * cache may evict it from now on ({@code sizeBytes} on local disk).
   */
  void learnSegment(long segmentId, String relKey, long sizeBytes) {
    uploadedSegments.putIfAbsent(segmentId, relKey);
    engine.segments().markUploaded(segmentId, sizeBytes);
  }

  boolean isSegmentUploaded(long segmentId) {
    return uploadedSegments.containsKey(segmentId);
  }

  /**
   * The bundle key (relative to the prefix) of the segment {@code ref} names, uploading it first if
   * this process does not know it to be in the bucket. Another fork's upload of the same segment is
   * waited for (at most 10 minutes) rather than repeated.
   *
   * @throws IOException if the bundle cannot be written or uploaded
   */
  /**
   * Queues the upload of {@code ref}'s bundle on the upload pool, so the segments of the snapshots
   * a fork has pending go up in parallel (up to {@code storage.upload_threads} at once) while its
   * drain commits manifests strictly in seq order. Best effort: a segment already in the bucket,
   * being uploaded, or queued here is skipped; a failure is only logged, since the drain, reaching
   * the segment, uploads it itself (it claims the segment first if this task has not started, so it
   * never waits on a queued task) and surfaces the error. Never blocks.
   */
  void prefetchSegment(SegmentRef ref) {
    long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
    if (uploadedSegments.containsKey(id) || inflight.containsKey(id) || !prefetching.add(id)) {
      return;
    }
    Runnable task = () -> {
      try {
        if (!isClosing() && !uploadedSegments.containsKey(id) && !inflight.containsKey(id)) {
          ensureSegment(ref);
        }
      } catch (IOException | RuntimeException e) {
        log.debug("parallel upload of segment {} failed (its fork's drain retries it): {}", ref.getSegmentId(),
            e.toString());
      } finally {
        prefetching.remove(id);
      }
    };
    submit(task, () -> prefetching.remove(id));
  }

  String ensureSegment(SegmentRef ref) throws IOException {
    long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
    String known = uploadedSegments.get(id);
    if (known != null) {
      engine.segments().markUploaded(id, ref.getSizeBytes()); // idempotent
      return known;
    }
    CompletableFuture<String> mine = new CompletableFuture<>();
    CompletableFuture<String> other = inflight.putIfAbsent(id, mine);
    if (other != null) {
      try {
        return other.get(SEGMENT_WAIT_MINUTES, TimeUnit.MINUTES);
      } catch (ExecutionException e) {
        throw new IOException("segment " + ref.getSegmentId() + " upload failed: " + e.getCause(), e.getCause());
      } catch (TimeoutException e) {
        throw new IOException("segment " + ref.getSegmentId() + " upload by another fork took over 10 minutes", e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for segment " + ref.getSegmentId());
      }
    }
    try {
      String rel = uploadedSegments.get(id);
      if (rel == null) {
        rel = BucketLayout.bundleRelKey(ref.getSegmentId(), generation());
        SegmentBundle.Written w;
        // A pinning handle: with the segment cache on, a segment evicted before a restart (its
        // earlier bundle was PUT, its manifest not) is fetched back for the export, never exported
        // from absent files.
        try (Segment held = engine.segments().acquire(id)) {
          w = SegmentBundle.write(engine.segments(), id, ref.getChecksum(), generation(), workDir);
        }
        try {
          store.putFile(layout.key(rel), w.file());
        } finally {
          Files.deleteIfExists(w.file());
        }
        bytesUploaded.addAndGet(w.sizeBytes());
        segmentsUploaded.incrementAndGet();
        uploadedSegments.put(id, rel);
      }
      engine.segments().markUploaded(id, ref.getSizeBytes()); // evictable from now on
      mine.complete(rel);
      return rel;
    } catch (IOException | RuntimeException e) {
      mine.completeExceptionally(e);
      throw e;
    } finally {
      inflight.remove(id, mine);
    }
  }

  // Fencing.

  void fenced(WriterFencedException e) {
    if (fencedBy == null) {
      fencedBy = e.getMessage();
      log.error("object storage tier stopped: {}", e.getMessage());
    }
    uploaders.values().forEach(u -> u.stop(e.getMessage()));
  }

  /** Why this server stopped uploading (another generation took the prefix), or null. */
  public String fencedBy() {
    return fencedBy;
  }

  // Tickets and stats.

  /**
   * Completes when snapshot seq {@code seq} of fork {@code forkId} and every earlier one are in
   * the bucket (the {@code UPLOADED} ticket level).
   *
   * @return a future failed with {@link StrataException} FAILED_PRECONDITION if this fork's uploads
   *     stopped for good (fenced, diverged), NOT_FOUND if the fork is not open (dropped),
   *     UNAVAILABLE when the tier closes first
   */
  public CompletableFuture<Void> awaitUploaded(String forkId, long seq) {
    Fork fork = engine.forkById(forkId).orElse(null);
    if (fork == null) {
      return CompletableFuture.failedFuture(StrataException.notFound("fork " + forkId + " is not open"));
    }
    if (closing) {
      return CompletableFuture.failedFuture(StrataException.of(StrataException.Kind.UNAVAILABLE, "the object storage tier is closed"));
    }
    String fenced = fencedBy;
    if (fenced != null) {
      return CompletableFuture.failedFuture(StrataException.failedPrecondition(fenced));
    }
    ForkUploader u = uploaderOf(fork);
    CompletableFuture<Void> f = u.awaitSeq(seq);
    kick(fork);
    return f;
  }

  /** Upload lag of one open fork. */
  public UploadLag lagOf(Fork fork) {
    return uploaderOf(fork).lag();
  }

  /** Upload lag of every open fork, by fork name. */
  public Map<String, UploadLag> lag() {
    Map<String, UploadLag> out = new LinkedHashMap<>();
    for (Fork f : engine.openForks()) {
      out.put(f.name(), uploaderOf(f).lag());
    }
    return out;
  }

  /** Bundle bytes this server uploaded since it started. */
  public long bytesUploaded() {
    return bytesUploaded.get();
  }

  /** Segments this server uploaded since it started. */
  public long segmentsUploaded() {
    return segmentsUploaded.get();
  }

  private Set<String> pinnedSnapshotIds() {
    Set<String> out = new HashSet<>();
    if (fencedBy != null) {
      return out; // nothing will be uploaded any more: retention goes back to normal
    }
    for (Fork f : engine.openForks()) {
      out.addAll(uploaderOf(f).pinnedSnapshotIds());
    }
    return out;
  }

  // Shutdown.

  /**
   * Stops the threads (a running upload step finishes, waits bounded: 10 s, then interrupts),
   * fails waiting tickets with UNAVAILABLE, closes the client and removes the work directory. An
   * upload cut short resumes at the next start. Idempotent.
   */
  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    stopThreads(CLOSE_WAIT_MS);
    finish();
  }

  /** Simulates kill -9 of the uploads, for tests: interrupts every thread at once, no waiting. */
  public void haltForTesting() {
    closing = true;
    timer.shutdownNow();
    pool.shutdownNow();
    try {
      pool.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    finish();
  }

  private void stopThreads(long waitMs) {
    timer.shutdown();
    pool.shutdown();
    try {
      if (!pool.awaitTermination(waitMs, TimeUnit.MILLISECONDS)) {
        log.warn("uploads did not stop within {} ms; interrupting them (they resume at the next start)", waitMs);
        pool.shutdownNow();
        pool.awaitTermination(5, TimeUnit.SECONDS);
      }
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      pool.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private void finish() {
    StrataException closed = StrataException.of(StrataException.Kind.UNAVAILABLE, "the object storage tier closed before the upload");
    uploaders.values().forEach(u -> u.abandon(closed));
    store.close();
    try {
      try (Stream<Path> files = Files.walk(workDir)) {
        for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    } catch (IOException | RuntimeException e) {
      log.warn("could not remove {}: {}", workDir, e.toString());
    }
  }

  private static ThreadFactory named(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix.endsWith("-") ? prefix + n.incrementAndGet() : prefix);
      t.setDaemon(true);
      return t;
    };
  }
}
