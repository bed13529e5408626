package dev.strata.engine.segment;

import com.google.common.util.concurrent.ThreadFactoryBuilder;
import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.engine.segment.SharedSegment.Residency;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounded local cache of segments of a store backed by remote storage ({@code
 * storage.cache_bytes}): which segments are materialized on local disk (RocksDB rows + Lucene
 * index), fetching a remote one when a read pins it, and evicting the least recently used ones that
 * no read pins once the materialized bytes exceed the budget. The shape of Neon's layer eviction
 * (resident vs remote layers; a layer in use is never evicted).
 *
 * <h2>Two levels of reference</h2>
 *
 * A {@link Segment} handle (a snapshot holds one per segment) is a <em>logical</em> reference: the
 * segment is not deleted while it is held, but its files may be remote. A {@link SegmentPin},
 * taken by a read for its duration, makes the files local: pinning a {@code REMOTE} segment fetches
 * it through the {@link RemoteSegmentSource}; one download serves every concurrent pinner (they
 * wait on its future, at most {@link SegmentCacheOptions#downloadTimeoutMs}).
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>Only a segment known to be complete in remote storage ({@link #markUploaded}) is evicted;
 *       a segment only on local disk is the only copy.
 *   <li>A pinned segment is never evicted; an obsolete one is never evicted (the deleter owns it).
 *   <li>The budget bounds the bytes of materialized, uploaded segments whenever none of them is
 *       pinned: pins may hold it above the budget for their duration (a search pins every segment
 *       of its snapshot), and evictions run right after they are released.
 *   <li>Crash safety: an eviction first moves the Lucene directory aside (a segment without its
 *       {@code lucene/} directory reads as remote at the next open), then deletes the RocksDB rows,
 *       then the files; a fetch first deletes any leftover rows and files, ingests the SST, and
 *       moves the Lucene directory in place last. So {@code lucene/} present means complete.
 * </ol>
 *
 * <h2>Threads (owned here, stopped by {@link #close})</h2>
 *
 * {@code strata-segment-fetch-N} ({@link SegmentCacheOptions#downloadThreads}) run downloads;
 * {@code strata-segment-evictor} runs evictions. Readers only wait (bounded) on a download's
 * future. The lock is {@link SegmentHandles}' (one lock for counts and residency), never held
 * across I/O.
 */
final class SegmentCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentCache.class);
  private static final long CLOSE_WAIT_MS = 10_000;
  private static final String FETCH_DIR = "fetch";
  private static final String EVICTED_DIR = "evicted";
  /**
   * Written in a fetched segment's directory, before its Lucene directory moves in: the segment
   * came from remote storage (so it may be evicted after a restart too, without waiting for the
   * tier to learn it), and its size in bytes as decimal text.
   */
  static final String FETCHED_MARKER = "fetched";

  private final SegmentCacheOptions options;
  private final Object lock;
  private final SegmentLayout layout;
  private final Vfs vfs;
  private final SegmentDb db;
  /** Drops an internal reference (a download's or an eviction's); may queue a deletion. */
  private final Consumer<SharedSegment> releaseRef;
  private final ExecutorService downloads;
  private final ExecutorService evictor;

  /** Materialized uploaded segments in access order (least recently used first). */
  @GuardedBy("lock")
  private final LinkedHashMap<Long, SharedSegment> lru = new LinkedHashMap<>(16, 0.75f, true);

  @GuardedBy("lock")
  private long residentBytes;

  @GuardedBy("lock")
  private boolean evictionQueued;

  /** Downloads and evictions running or queued. Guarded by lock. */
  @GuardedBy("lock")
  private int busy;

  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong misses = new AtomicLong();
  private final AtomicLong evictions = new AtomicLong();
  private final AtomicLong downloadFailures = new AtomicLong();
  private final AtomicLong evictionFailures = new AtomicLong();
  private final AtomicLong downloadedBytes = new AtomicLong();
  private final AtomicLong downloadNanos = new AtomicLong();

  SegmentCache(
      SegmentCacheOptions options, Object lock, SegmentLayout layout, Vfs vfs, SegmentDb db, Consumer<SharedSegment> releaseRef) {
    this.options = options;
    this.lock = lock;
    this.layout = layout;
    this.vfs = vfs;
    this.db = db;
    this.releaseRef = releaseRef;
    if (options.fetches()) {
      this.downloads =
          Executors.newFixedThreadPool(
              options.downloadThreads(), new ThreadFactoryBuilder().setNameFormat("strata-segment-fetch-%d").setDaemon(true).build());
      this.evictor =
          Executors.newSingleThreadExecutor(new ThreadFactoryBuilder().setNameFormat("strata-segment-evictor").setDaemon(true).build());
    } else {
      this.downloads = null;
      this.evictor = null;
    }
  }

  /** Set once a segment was found remote; with eviction on, any segment may be. */
  private volatile boolean remoteSeen;

  /** True when segments may be remote (a source is configured): reads must pin. */
  boolean fetches() {
    return options.fetches();
  }

  /** True if segments are evicted ({@code storage.cache_bytes} > 0). */
  boolean evicts() {
    return options.evicts();
  }

  /** True if a read may have to wait for a download: eviction is on, or a segment was remote. */
  boolean readsMayFetch() {
    return options.evicts() || remoteSeen;
  }

  /**
   * Makes {@code s} local and pins it; the caller holds a reference on it. Fetches it if remote (or
   * waits for the running fetch or eviction), at most {@link SegmentCacheOptions#downloadTimeoutMs}.
   *
   * @throws SegmentFetchException if the fetch failed or timed out (the segment stays remote; a
   *     later pin tries again)
   * @throws IOException if the local index cannot be opened
   */
  SegmentPin pin(SharedSegment s) throws IOException {
    if (!options.fetches()) {
      return SegmentPin.NONE;
    }
    if (!options.evicts() && s.residency == Residency.LOCAL) {
      // No eviction: a local segment stays local, so nothing needs counting (no lock on a Get).
      hits.incrementAndGet();
      s.ensureOpen(layout.luceneDir(s.segmentId));
      return SegmentPin.NONE;
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.downloadTimeoutMs());
    while (true) {
      CompletableFuture<Void> wait;
      boolean start = false;
      Waiter waiter = null;
      synchronized (lock) {
        switch (s.residency) {
          case LOCAL -> {
            s.pins++;
            lru.get(s.segmentId); // access order: now the most recently used
            wait = null;
          }
          case REMOTE -> {
            startDownloadLocked(s);
            start = true;
            waiter = new Waiter();
            s.waiters.add(waiter);
            wait = s.transition;
          }
          case DOWNLOADING -> {
            waiter = new Waiter();
            s.waiters.add(waiter);
            wait = s.transition;
          }
          default -> wait = s.transition; // EVICTING: then pin again (it fetches back)
        }
      }
      if (wait == null) {
        hits.incrementAndGet();
        return opened(s);
      }
      if (start) {
        submitDownload(s);
      }
      IOException failure = null;
      try {
        await(s, wait, deadline);
      } catch (IOException e) {
        failure = e;
      }
      if (waiter != null) {
        boolean granted;
        synchronized (lock) {
          s.waiters.remove(waiter);
          granted = waiter.granted;
        }
        if (granted) {
          return opened(s); // the download pinned it for this waiter: no eviction in between
        }
      }
      if (failure != null) {
        throw failure;
      }
    }
  }

  /** A pinner waiting for a download; the download pins the segment for it when it succeeds. */
  static final class Waiter {
    /** Guarded by the lock: set (with one pin taken for it) when the download succeeded. */
    boolean granted;
  }

  /** Opens the reader of a segment pinned for the caller; the pin is given back on failure. */
  private SegmentPin opened(SharedSegment s) throws IOException {
    try {
      s.ensureOpen(layout.luceneDir(s.segmentId));
    } catch (IOException | RuntimeException e) {
      unpin(s);
      throw e;
    }
    return new SegmentPin(this, s);
  }

  /**
   * Starts fetching {@code s} if it is remote, without waiting (a caller about to pin several
   * segments lets their downloads overlap); the caller holds a reference. No-op otherwise.
   */
  void prefetch(SharedSegment s) {
    if (!options.fetches()) {
      return;
    }
    synchronized (lock) {
      if (s.residency != Residency.REMOTE) {
        return;
      }
      startDownloadLocked(s);
    }
    submitDownload(s);
  }

  /** REMOTE to DOWNLOADING, with the download's own reference (a pinner that gives up keeps it). */
  @GuardedBy("lock")
  private void startDownloadLocked(SharedSegment s) {
    s.residency = Residency.DOWNLOADING;
    s.transition = new CompletableFuture<>();
    s.refs++;
    busy++;
  }

  /** Hands a download started by {@link #startDownloadLocked} to the download threads. */
  private void submitDownload(SharedSegment s) {
    misses.incrementAndGet();
    try {
      downloads.execute(() -> download(s));
    } catch (RejectedExecutionException e) {
      fetchFailed(s, new SegmentFetchException(s.segmentId, "the segment store is closing", e));
      releaseRef.accept(s);
      idle();
    }
  }

  private void await(SharedSegment s, CompletableFuture<Void> wait, long deadline) throws IOException {
    long left = deadline - System.nanoTime();
    try {
      wait.get(Math.max(0, left), TimeUnit.NANOSECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof SegmentFetchException f) {
        throw new SegmentFetchException(s.segmentId, f.reason(), f);
      }
      throw new SegmentFetchException(s.segmentId, String.valueOf(c), c);
    } catch (TimeoutException e) {
      throw new SegmentFetchException(
          s.segmentId, "its download did not finish within " + options.downloadTimeoutMs() + " ms (it goes on)", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for segment " + SegmentFormat.hex(s.segmentId));
    }
  }

  /** Gives one pin back; evictions are queued if the budget is exceeded. Never blocks on I/O. */
  void unpin(SharedSegment s) {
    boolean evict;
    synchronized (lock) {
      s.pins--;
      assert s.pins >= 0 : "unbalanced pin of " + SegmentFormat.hex(s.segmentId);
      evict = s.pins == 0 && overBudgetLocked();
    }
    if (evict) {
      queueEviction();
    }
  }

  /**
   * Records that {@code s} is complete in remote storage, {@code sizeBytes} on local disk (SST +
   * Lucene files): from now on it may be evicted. Idempotent.
   */
  void markUploaded(SharedSegment s, long sizeBytes) {
    boolean evict;
    synchronized (lock) {
      if (s.uploaded) {
        return;
      }
      s.uploaded = true;
      s.sizeBytes = sizeBytes;
      if (s.residency == Residency.LOCAL && !s.obsolete) {
        lru.put(s.segmentId, s);
        residentBytes += sizeBytes;
      }
      evict = overBudgetLocked();
    }
    if (evict) {
      queueEviction();
    }
  }

  /**
   * The size recorded by a fetch in a local segment's directory ({@link #FETCHED_MARKER}), or -1 if
   * it was not fetched (written here) or the marker is unreadable. Reads a small file: call it
   * without the lock.
   */
  long fetchedSize(long segmentId) {
    Path marker = layout.segmentDir(segmentId).resolve(FETCHED_MARKER);
    if (!options.fetches() || !vfs.exists(marker)) {
      return -1;
    }
    try {
      return Long.parseLong(new String(vfs.readAllBytes(marker), java.nio.charset.StandardCharsets.US_ASCII).strip());
    } catch (IOException | NumberFormatException e) {
      log.warn("segment {}: unreadable {} marker, kept local until the tier learns it: {}", SegmentFormat.hex(segmentId), FETCHED_MARKER, e.toString());
      return -1;
    }
  }

  /** Called with the lock held when a new state is made for a segment without local files. */
  @GuardedBy("lock")
  void startRemoteLocked(SharedSegment s) {
    remoteSeen = true;
    s.residency = Residency.REMOTE;
    s.uploaded = true;
  }

  /** The segment was deleted (obsolete) or forgotten: it leaves the accounting. */
  void forget(SharedSegment s) {
    synchronized (lock) {
      if (lru.remove(s.segmentId, s)) {
        residentBytes -= s.sizeBytes;
      }
    }
  }

  // Downloads.

  private void download(SharedSegment s) {
    long t0 = System.nanoTime();
    long id = s.segmentId;
    Path segDir = layout.segmentDir(id);
    Path fetchDir = segDir.resolve(FETCH_DIR);
    Path lucene = fetchDir.resolve(SegmentLayout.LUCENE_DIR);
    Path sst = fetchDir.resolve(SegmentLayout.STAGED_SST);
    try {
      // Leftovers of an eviction or a fetch cut by a crash: remote means "lucene/ is absent", so
      // anything else there, and any row left in RocksDB, is incomplete.
      vfs.deleteRecursively(segDir);
      db.deleteKeyRange(id);
      vfs.createDirectories(lucene);
      RemoteSegmentSource.Fetched f = options.source().fetch(id, lucene, sst);
      if (f.hasSst()) {
        db.ingest(id, sst);
      }
      try (dev.strata.vfs.WritableFile marker = vfs.create(segDir.resolve(FETCHED_MARKER))) {
        marker.write(java.nio.ByteBuffer.wrap(Long.toString(f.bytes()).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        marker.sync();
      }
      vfs.rename(lucene, layout.luceneDir(id));
      vfs.syncDirectory(segDir);
      vfs.deleteRecursively(fetchDir);
      s.ensureOpen(layout.luceneDir(id));
      downloadedBytes.addAndGet(f.downloadedBytes());
      downloadNanos.addAndGet(System.nanoTime() - t0);
      CompletableFuture<Void> done;
      boolean evict;
      synchronized (lock) {
        s.residency = Residency.LOCAL;
        s.uploaded = true;
        s.sizeBytes = f.bytes();
        s.epoch++;
        for (Waiter w : s.waiters) {
          w.granted = true;
          s.pins++; // the waiters' pins, taken before an eviction can see the segment
        }
        s.waiters.clear();
        if (!s.obsolete) {
          lru.put(id, s);
          residentBytes += f.bytes();
        }
        done = s.transition;
        s.transition = null;
        evict = overBudgetLocked();
      }
      log.debug("fetched segment {} ({} bytes) in {} ms", SegmentFormat.hex(id), f.downloadedBytes(), (System.nanoTime() - t0) / 1_000_000);
      done.complete(null);
      if (evict) {
        queueEviction();
      }
    } catch (IOException | RuntimeException e) {
      try {
        s.closeReader();
        vfs.deleteRecursively(segDir);
        db.deleteKeyRange(id);
      } catch (IOException | RuntimeException cleanup) {
        e.addSuppressed(cleanup); // the next fetch deletes the leftovers first
      }
      fetchFailed(s, e instanceof SegmentFetchException f ? f : new SegmentFetchException(id, e.toString(), e));
    } finally {
      releaseRef.accept(s);
      idle();
    }
  }

  private void fetchFailed(SharedSegment s, SegmentFetchException e) {
    downloadFailures.incrementAndGet();
    log.warn("fetching segment {} failed (a later read tries again): {}", SegmentFormat.hex(s.segmentId), e.reason());
    CompletableFuture<Void> done;
    synchronized (lock) {
      s.residency = Residency.REMOTE;
      done = s.transition;
      s.transition = null;
      s.waiters.clear();
    }
    if (done != null) {
      done.completeExceptionally(e);
    }
  }

  // Evictions.

  @GuardedBy("lock")
  private boolean overBudgetLocked() {
    return options.evicts() && residentBytes > options.cacheBytes();
  }

  private void queueEviction() {
    synchronized (lock) {
      if (evictionQueued) {
        return;
      }
      evictionQueued = true;
      busy++;
    }
    try {
      evictor.execute(this::evictPass);
    } catch (RejectedExecutionException e) {
      synchronized (lock) {
        evictionQueued = false;
      }
      idle(); // closing: nothing is evicted any more
    }
  }

  /** Evicts least recently used unpinned segments until within the budget or none is left. */
  private void evictPass() {
    try {
      while (true) {
        SharedSegment victim = null;
        synchronized (lock) {
          if (!overBudgetLocked()) {
            evictionQueued = false;
            return;
          }
          for (SharedSegment s : lru.values()) {
            if (s.pins == 0 && !s.obsolete && s.residency == Residency.LOCAL) {
              victim = s;
              break;
            }
          }
          if (victim == null) {
            evictionQueued = false; // everything resident is pinned: the last unpin queues again
            return;
          }
          lru.remove(victim.segmentId);
          residentBytes -= victim.sizeBytes;
          victim.residency = Residency.EVICTING;
          victim.transition = new CompletableFuture<>();
          victim.refs++; // the eviction's own reference: the deleter waits for it
        }
        evict(victim);
      }
    } finally {
      idle();
    }
  }

  private void evict(SharedSegment s) {
    long id = s.segmentId;
    Path segDir = layout.segmentDir(id);
    boolean remote = false;
    try {
      if (s.rowFilter == null) {
        s.rowFilter = SegmentKeyFilter.ofRows(db, id);
      }
      s.closeReader();
      vfs.rename(layout.luceneDir(id), segDir.resolve(EVICTED_DIR));
      vfs.syncDirectory(segDir);
      remote = true; // from here the segment reads as remote, at the next open too
      db.deleteKeyRange(id);
      vfs.deleteRecursively(segDir);
      vfs.syncDirectory(layout.segmentsDir());
      evictions.incrementAndGet();
      log.debug("evicted segment {} ({} bytes)", SegmentFormat.hex(id), s.sizeBytes);
    } catch (IOException | RuntimeException e) {
      evictionFailures.incrementAndGet();
      log.warn("evicting segment {} failed{}: {}", SegmentFormat.hex(id),
          remote ? " after it became remote (the next fetch removes the leftovers)" : "; it stays local", e.toString());
    } finally {
      CompletableFuture<Void> done;
      synchronized (lock) {
        done = s.transition;
        s.transition = null;
        if (remote) {
          s.residency = Residency.REMOTE;
        } else {
          s.residency = Residency.LOCAL;
          if (!s.obsolete) {
            lru.put(id, s);
            residentBytes += s.sizeBytes;
          }
        }
      }
      done.complete(null);
      releaseRef.accept(s);
    }
  }

  // Waiting, stats, close.

  private void idle() {
    synchronized (lock) {
      busy--;
      lock.notifyAll();
    }
  }

  /**
   * Waits until no download or eviction is running or queued (tests, benchmarks).
   *
   * @return false if some were still running after {@code timeoutMs}
   */
  boolean awaitIdle(long timeoutMs) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    synchronized (lock) {
      while (busy > 0) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0) {
          return false;
        }
        lock.wait(left);
      }
      return true;
    }
  }

  /** The counters; {@code segments} are (resident, pinned-resident bytes) read under the lock. */
  SegmentCacheStats stats(int remoteSegments) {
    long pinned = 0;
    int resident;
    long bytes;
    synchronized (lock) {
      for (SharedSegment s : lru.values()) {
        if (s.pins > 0) {
          pinned += s.sizeBytes;
        }
      }
      resident = lru.size();
      bytes = residentBytes;
    }
    return new SegmentCacheStats(
        options.cacheBytes(), bytes, pinned, resident, remoteSegments, hits.get(), misses.get(), evictions.get(),
        downloadFailures.get(), evictionFailures.get(), downloadedBytes.get(), TimeUnit.NANOSECONDS.toMillis(downloadNanos.get()));
  }

  /** Stops the threads: queued evictions and downloads finish first (bounded wait, then interrupted). */
  @Override
  public void close() {
    if (downloads == null) {
      return;
    }
    evictor.shutdown();
    downloads.shutdown();
    try {
      if (!downloads.awaitTermination(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS)) {
        log.warn("segment downloads still running after {} ms; interrupting them", CLOSE_WAIT_MS);
        downloads.shutdownNow();
      }
      evictor.awaitTermination(CLOSE_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
