package dev.strata.engine.segment;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reference counts of the segments in use, as Lucene's {@code IndexFileDeleter}: one {@link
 * SharedSegment} per segment acquired at least once, holding one "live" reference of the store
 * plus one per unreleased {@link Segment} handle, and the segment's shared Lucene reader.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>A segment's files are deleted only after {@link #markObsolete} dropped the live reference
 *       <em>and</em> the last handle was released; then its deletion goes to the {@link
 *       ObsoleteSegmentDeleter}, off the releasing thread.
 *   <li>Once obsolete, a segment stays in the table until its deletion finished, so {@link
 *       #acquire} refuses it all that time (its files are going).
 *   <li>A segment that never opened (its index is missing) is forgotten again; its files are not
 *       touched.
 * </ol>
 *
 * <p>Thread-safe. Lock order: the {@link SegmentDb} close lock (read side, in {@link #acquire})
 * before {@code lock}; {@code lock} guards only the table and the counts, never I/O (a segment's
 * own monitor guards opening its reader).
 */
final class SegmentHandles implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SegmentHandles.class);

  private final SegmentLayout layout;
  private final Vfs vfs;
  private final SegmentDb db;
  private final ObsoleteSegmentDeleter deleter;
  private final Object lock = new Object();
  private final SegmentCache cache;

  /** Sizes of segments reported uploaded before any handle was taken on them. */
  @GuardedBy("lock")
  private final Map<Long, Long> uploadedBeforeAcquire = new HashMap<>();

  /** Segments acquired at least once, or obsolete and not yet deleted. */
  @GuardedBy("lock")
  private final Map<Long, SharedSegment> shared = new HashMap<>();

  /**
   * @param deleteQueueCapacity bound of the obsolete-segment deletion queue, in segments
   * @param cacheOptions the local segment cache's budget and remote source
   */
  SegmentHandles(SegmentLayout layout, Vfs vfs, SegmentDb db, int deleteQueueCapacity, SegmentCacheOptions cacheOptions) {
    this.layout = layout;
    this.vfs = vfs;
    this.db = db;
    this.deleter = new ObsoleteSegmentDeleter(db, layout, vfs, this::forget, deleteQueueCapacity);
    this.cache = new SegmentCache(cacheOptions, lock, layout, vfs, db, this::release);
  }

  /** The segment cache (pins, residency, eviction). */
  SegmentCache cache() {
    return cache;
  }

  /**
   * A counted handle whose segment is local for as long as it is held (it holds a pin): the Lucene
   * reader is opened on the first acquire and shared by all handles. With a remote source, a
   * segment that is not local is fetched first.
   *
   * @throws IllegalStateException if the segment is obsolete or the store is closed
   * @throws SegmentFetchException if it is remote and cannot be fetched
   * @throws IOException if its Lucene index cannot be opened (e.g. the segment does not exist)
   */
  Segment acquire(long segmentId) throws IOException {
    if (!cache.fetches()) {
      return acquireLocal(segmentId);
    }
    Segment ref = acquireReference(segmentId);
    try {
      return ref.withLifetimePin();
    } finally {
      ref.release();
    }
  }

  /**
   * A logical reference: the segment is not deleted while it is held, but with a remote source its
   * files may be remote; a read {@link Segment#pin()}s it. Without a remote source the same as
   * {@link #acquire}. No I/O beyond checking that the Lucene directory exists.
   *
   * @throws IllegalStateException if the segment is obsolete or the store is closed
   * @throws IOException as {@link #acquire} without a remote source
   */
  Segment acquireReference(long segmentId) throws IOException {
    if (!cache.fetches()) {
      return acquireLocal(segmentId);
    }
    SegmentFormat.requireValidSegmentId(segmentId);
    boolean local = vfs.exists(layout.luceneDir(segmentId));
    long fetchedSize = local ? cache.fetchedSize(segmentId) : -1;
    Long[] uploadedSize = {null};
    SharedSegment s =
        reference(
            segmentId,
            created -> {
              if (!local) {
                cache.startRemoteLocked(created); // named by a manifest, absent here: evicted, or never fetched
              }
              uploadedSize[0] = uploadedBeforeAcquire.remove(segmentId);
              if (uploadedSize[0] == null && fetchedSize >= 0) {
                uploadedSize[0] = fetchedSize; // fetched before a restart: in remote storage, evictable
              }
            });
    if (uploadedSize[0] != null) {
      cache.markUploaded(s, uploadedSize[0]);
    }
    return new Segment(this, s, null);
  }

  /** A second handle on a held segment's state (refs + 1); the caller holds a reference. */
  Segment duplicate(SharedSegment s, SegmentPin pin) {
    synchronized (lock) {
      s.refs++;
    }
    return new Segment(this, s, pin);
  }

  /**
   * Records that a segment is complete in remote storage and takes {@code sizeBytes} locally, so
   * the cache may evict it; remembered until the first handle if none is held. Idempotent.
   */
  void markUploaded(long segmentId, long sizeBytes) {
    SharedSegment s;
    synchronized (lock) {
      s = shared.get(segmentId);
      if (s == null) {
        uploadedBeforeAcquire.put(segmentId, sizeBytes);
        return;
      }
    }
    cache.markUploaded(s, sizeBytes);
  }

  /** Segments known here whose files are only remote (or being fetched). */
  int remoteCount() {
    int n = 0;
    synchronized (lock) {
      for (SharedSegment s : shared.values()) {
        if (s.residency != SharedSegment.Residency.LOCAL) {
          n++;
        }
      }
    }
    return n;
  }

  private Segment acquireLocal(long segmentId) throws IOException {
    SegmentFormat.requireValidSegmentId(segmentId);
    boolean[] createdHere = {false};
    SharedSegment s = reference(segmentId, created -> createdHere[0] = true);
    boolean created = createdHere[0];
    try {
      Path luceneDir = layout.luceneDir(segmentId);
      if (!vfs.exists(luceneDir)) {
        // checked first: FSDirectory.open would create the directory
        throw new NoSuchFileException(
            luceneDir.toString(), null, "segment " + SegmentFormat.hex(segmentId) + " has no Lucene index");
      }
      s.ensureOpen(luceneDir);
    } catch (IOException | RuntimeException e) {
      synchronized (lock) {
        s.refs--;
        if (created && s.refs == 1 && !s.obsolete && shared.get(segmentId) == s) {
          shared.remove(segmentId); // invariant 3
        }
      }
      throw e;
    }
    return new Segment(this, s, null);
  }

  /**
   * Takes one reference on {@code segmentId}'s state, creating it if it is not in the table (then
   * {@code onCreate} runs on it, under the lock).
   *
   * @throws IllegalStateException if the segment is obsolete or the store is closed
   */
  private SharedSegment reference(long segmentId, java.util.function.Consumer<SharedSegment> onCreate) {
    db.lockForRead();
    try {
      synchronized (lock) {
        SharedSegment s = shared.get(segmentId);
        if (s == null) {
          s = new SharedSegment(segmentId);
          shared.put(segmentId, s);
          onCreate.accept(s);
        } else if (s.obsolete) {
          throw new IllegalStateException("segment " + SegmentFormat.hex(segmentId) + " is obsolete");
        }
        s.refs++;
        return s;
      }
    } finally {
      db.unlockForRead();
    }
  }

  /** Called by {@link Segment#release()}: drops one reference; the last one queues the deletion. */
  void release(SharedSegment s) {
    boolean last;
    synchronized (lock) {
      s.refs--;
      last = s.refs == 0;
      assert !last || s.obsolete : "the live reference is only dropped by markObsolete";
    }
    if (last) {
      deleter.enqueue(s);
    }
  }

  /**
   * Drops the live reference of {@code segmentId}: no new handle can be acquired, and its deletion
   * is queued once no handle is held (now, if none is). Idempotent.
   */
  void markObsolete(long segmentId) {
    SegmentFormat.requireValidSegmentId(segmentId);
    SharedSegment s;
    boolean deleteNow;
    synchronized (lock) {
      s = shared.get(segmentId);
      if (s == null) {
        s = new SharedSegment(segmentId);
        s.refs = 0;
        s.obsolete = true;
        shared.put(segmentId, s); // blocks acquire() while the files are being deleted
        deleteNow = true;
      } else if (s.obsolete) {
        return;
      } else {
        s.obsolete = true;
        s.refs--;
        deleteNow = s.refs == 0;
      }
    }
    if (deleteNow) {
      deleter.enqueue(s);
    }
  }

  /**
   * For the orphan sweep: retires {@code segmentId} like {@link #markObsolete} would, for a
   * deletion the caller runs itself, unless a handle is held.
   *
   * @return the retired state to {@link #forget} after the deletion (null if the segment was never
   *     acquired), or {@link #IN_USE} if a handle is held (the caller must not touch it)
   */
  SharedSegment retireForSweep(long segmentId) {
    synchronized (lock) {
      SharedSegment s = shared.get(segmentId);
      if (s == null) {
        return null;
      }
      int held = s.obsolete ? s.refs : s.refs - 1;
      if (held > 0) {
        return IN_USE;
      }
      s.obsolete = true;
      s.refs = 0;
      return s;
    }
  }

  /** Returned by {@link #retireForSweep} for a segment with a handle held. */
  static final SharedSegment IN_USE = new SharedSegment(-1);

  /** Removes a deleted segment from the table (the deleter, or the orphan sweep). */
  void forget(SharedSegment s) {
    synchronized (lock) {
      shared.remove(s.segmentId, s);
      uploadedBeforeAcquire.remove(s.segmentId);
    }
    cache.forget(s);
  }

  /** Number of handles held on a segment (not counting the store's live reference). */
  int handleCount(long segmentId) {
    synchronized (lock) {
      SharedSegment s = shared.get(segmentId);
      if (s == null) {
        return 0;
      }
      return s.obsolete ? s.refs : s.refs - 1;
    }
  }

  /** The deleter, for its counters and {@link ObsoleteSegmentDeleter#awaitIdle}. */
  ObsoleteSegmentDeleter deleter() {
    return deleter;
  }

  /** Runs every queued deletion (bounded wait). Call before closing the readers and RocksDB. */
  void drainDeletions() {
    cache.close();
    deleter.close();
  }

  /**
   * Closes every shared Lucene reader (handles still held become unusable) and forgets every
   * segment. Call with the {@link SegmentDb} close lock write-held, after {@link #drainDeletions}.
   *
   * @throws IOException the first reader that failed to close
   */
  @Override
  public void close() throws IOException {
    List<SharedSegment> all;
    synchronized (lock) {
      all = new ArrayList<>(shared.values());
      shared.clear();
    }
    IOException first = null;
    for (SharedSegment s : all) {
      int held = s.obsolete ? s.refs : s.refs - 1;
      if (held > 0) {
        log.warn("closing segment store with {} handle(s) held on {}", held, SegmentFormat.hex(s.segmentId));
      }
      try {
        s.closeReader();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
