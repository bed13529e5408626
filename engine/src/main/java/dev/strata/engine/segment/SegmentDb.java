package dev.strata.engine.segment;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.CompactRangeOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.EnvOptions;
import org.rocksdb.FlushOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;
import org.rocksdb.TableProperties;
import org.rocksdb.WriteOptions;

/**
 * The one RocksDB instance that holds every segment's documents (keys prefixed by the segment id,
 * {@link SegmentFormat}), its native options, and the close lock that keeps native calls and
 * {@link #close} apart.
 *
 * <h2>Configuration and durability</h2>
 *
 * Block-based tables with a 10-bit bloom filter (whole-key filtering, so a point lookup skips the
 * SST of a segment lacking the key) and one shared LRU block cache; LZ4 compression. The same
 * {@code Options} build the staged SSTs, so their filters and format match (RocksDB wiki, "Creating
 * and Ingesting SST files"). Ingested data never passes through RocksDB's WAL or memtable, so the
 * RocksDB WAL carries nothing we need. A segment's keys are removed with {@code
 * DeleteFilesInRanges} (wiki "Delete A Range Of Keys"), which drops its SST through a MANIFEST edit
 * that is durable on its own and writes no tombstone; only keys left outside such whole files get a
 * {@code DeleteRange} tombstone, written without the WAL (a lost one is redone by the orphan sweep
 * at open).
 *
 * <h2>Thread-safety</h2>
 *
 * Every method may be called from any thread. {@code closeLock} is read-held around every native
 * call but the point reads (and by {@link RangeCursor}s) and write-held by {@link #close}, so
 * closing waits for in-flight calls and no call runs on a freed handle. Point reads ({@link #get},
 * {@link #multiGet}), the serving hot path, take no lock: a striped in-flight count beside a
 * {@code closing} flag, which {@link #close} sets and then waits for the count to drain.
 */
final class SegmentDb implements AutoCloseable {
  private final Path dir;
  private final LRUCache blockCache;
  private final BloomFilter bloomFilter;
  private final Options options;
  private final EnvOptions envOptions;
  private final ReadOptions pointReadOptions = new ReadOptions();
  private final WriteOptions gcWriteOptions = new WriteOptions().setDisableWAL(true);
  private final IngestExternalFileOptions ingestOptions = new IngestExternalFileOptions().setMoveFiles(true);
  private final RocksDB db;

  /** Read-held around every native RocksDB call; write-held to close. */
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();

  /** Written under the write lock, read under either. */
  @GuardedBy("closeLock")
  private boolean closed;

  /** Set by {@link #close} before it waits for {@link #pointReads} to drain; never cleared. */
  private volatile boolean closing;

  /**
   * Point reads ({@link #get}, {@link #multiGet}) in flight, striped by thread: a thread counts in
   * and out on the same stripe (unlike {@code LongAdder}, whose cell may change between the two on
   * contention, which would let a sum read 0 while a read is in flight). Stripes sit
   * {@link #STRIPE_SPACING} longs apart so two stripes do not share a cache line.
   */
  private final AtomicLongArray pointReads = new AtomicLongArray(POINT_READ_STRIPES * STRIPE_SPACING);

  private static final int POINT_READ_STRIPES = 16;
  private static final int STRIPE_SPACING = 8;

  private final Set<RangeCursor> openCursors = ConcurrentHashMap.newKeySet();

  private SegmentDb(Path dir, LRUCache blockCache, BloomFilter bloomFilter, Options options, EnvOptions envOptions, RocksDB db) {
    this.dir = dir;
    this.blockCache = blockCache;
    this.bloomFilter = bloomFilter;
    this.options = options;
    this.envOptions = envOptions;
    this.db = db;
  }

  /**
   * Opens (creating if missing) the RocksDB instance in {@code dir}.
   *
   * @param blockCacheBytes size of the shared block cache, bytes
   * @throws IOException if RocksDB does not open (e.g. another process holds its LOCK)
   */
  static SegmentDb open(Path dir, long blockCacheBytes) throws IOException {
    RocksDB.loadLibrary();
    LRUCache cache = new LRUCache(blockCacheBytes);
    BloomFilter bloom = new BloomFilter(10);
    Options options =
        new Options()
            .setCreateIfMissing(true)
            .setCompressionType(CompressionType.LZ4_COMPRESSION)
            .setBottommostCompressionType(CompressionType.LZ4_COMPRESSION)
            .setKeepLogFileNum(4)
            .setMaxLogFileSize(16L << 20)
            .setTableFormatConfig(new BlockBasedTableConfig().setFilterPolicy(bloom).setBlockCache(cache));
    EnvOptions envOptions = new EnvOptions();
    try {
      return new SegmentDb(dir, cache, bloom, options, envOptions, RocksDB.open(options, dir.toString()));
    } catch (RocksDBException e) {
      envOptions.close();
      options.close();
      bloom.close();
      cache.close();
      throw new IOException("cannot open RocksDB at " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * Bytes the block cache holds now (RocksDB's {@code Cache::GetUsage}); 0 once closed. Any
   * thread.
   */
  long blockCacheUsageBytes() {
    lockForRead();
    try {
      return blockCache.isOwningHandle() ? blockCache.getUsage() : 0;
    } finally {
      unlockForRead();
    }
  }

  /** The native options staged SSTs are built with (valid until {@link #close}). */
  Options options() {
    return options;
  }

  /** The native environment options staged SSTs are built with. */
  EnvOptions envOptions() {
    return envOptions;
  }

  /**
   * Ingests a staged SST, moving it (hard link, fsync of the file and the DB directory, then a
   * MANIFEST edit); durable when it returns, all or nothing.
   *
   * @throws IOException if RocksDB refuses the file
   */
  void ingest(long segmentId, Path stagedSst) throws IOException {
    lockForRead();
    try {
      db.ingestExternalFile(List.of(stagedSst.toString()), ingestOptions);
    } catch (RocksDBException e) {
      throw new IOException(
          "ingesting segment " + SegmentFormat.hex(segmentId) + " from " + stagedSst + " failed: " + e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /**
   * One point lookup through the bloom filters with a shared {@code ReadOptions}.
   *
   * @return the value, or null if the key is absent
   * @throws RocksDBException if RocksDB reports an error
   */
  byte[] get(byte[] key) throws RocksDBException {
    int stripe = enterPointRead();
    try {
      return db.get(pointReadOptions, key);
    } finally {
      pointReads.decrementAndGet(stripe);
    }
  }

  /**
   * Point lookups of several keys in one native call ({@code MultiGet}, which batches the bloom
   * filter probes and block reads of keys in the same files), with the shared {@code ReadOptions}.
   *
   * @return one value per key, in order; null where a key is absent
   * @throws RocksDBException if RocksDB reports an error
   */
  List<byte[]> multiGet(List<byte[]> keys) throws RocksDBException {
    int stripe = enterPointRead();
    try {
      return db.multiGetAsList(pointReadOptions, keys);
    } finally {
      pointReads.decrementAndGet(stripe);
    }
  }

  /**
   * Counts a point read in ({@link #pointReads}) unless the database is closing. Point reads are
   * the serving hot path (every Get probes several segments): they take no lock, only a striped
   * counter, which {@link #close} waits to drain after it set {@code closing}. The order (count,
   * then look at the flag; set the flag, then look at the count; all volatile, so sequentially
   * consistent) is the usual one of a reference count beside a volatile flag: whichever side comes
   * second sees the other.
   *
   * @return the stripe to count out on
   * @throws IllegalStateException if closing or closed
   */
  private int enterPointRead() {
    int stripe = (int) (Thread.currentThread().getId() % POINT_READ_STRIPES) * STRIPE_SPACING;
    pointReads.incrementAndGet(stripe);
    if (closing) {
      pointReads.decrementAndGet(stripe);
      throw new IllegalStateException("segment store " + dir.getParent() + " is closed");
    }
    return stripe;
  }

  /**
   * A cursor over {@code [lower, upper)}, registered so {@link #close} can free it first.
   *
   * @param fillCache whether the blocks it reads enter the block cache
   * @param values whether it reads values (false: keys only)
   */
  RangeCursor openCursor(byte[] lower, byte[] upper, boolean fillCache, boolean values) {
    lockForRead();
    try {
      RangeCursor c = new RangeCursor(this, db, lower, upper, fillCache, values);
      openCursors.add(c);
      return c;
    } finally {
      unlockForRead();
    }
  }

  void unregister(RangeCursor cursor) {
    openCursors.remove(cursor);
  }

  /**
   * Removes a segment's key range. {@code DeleteFilesInRanges} first: it drops every SST lying
   * wholly inside the range through a MANIFEST edit (durable, no tombstone), which is every file in
   * normal operation since each segment is ingested as its own SST. Only if keys remain (an SST
   * shared with neighbouring segments, e.g. after a forced compaction) is a {@code DeleteRange}
   * tombstone written — without the WAL, then flushed without waiting, so range tombstones do not
   * pile up in the memtable and slow every read (RocksDB wiki "DeleteRange"). A crash before that
   * flush loses the tombstone; the keys then reappear as an orphan range and the orphan sweep
   * deletes them again.
   *
   * @throws IOException if RocksDB reports an error
   */
  void deleteKeyRange(long segmentId) throws IOException {
    byte[] begin = SegmentFormat.segmentPrefix(segmentId);
    byte[] end = SegmentFormat.segmentRangeEnd(segmentId);
    lockForRead();
    try {
      db.deleteFilesInRanges(null, List.of(begin, end), false);
      if (hasKeyInLocked(begin, end)) {
        db.deleteRange(gcWriteOptions, begin, end);
        try (FlushOptions flush = new FlushOptions().setWaitForFlush(false)) {
          db.flush(flush);
        }
      }
    } catch (RocksDBException e) {
      throw new IOException("deleting the key range of segment " + SegmentFormat.hex(segmentId) + " failed: " + e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /** True if RocksDB has a key in {@code [begin, end)}. Caller holds the read lock. */
  private boolean hasKeyInLocked(byte[] begin, byte[] end) throws RocksDBException {
    try (Slice upper = new Slice(end);
        ReadOptions ro = new ReadOptions().setIterateUpperBound(upper).setFillCache(false);
        RocksIterator it = db.newIterator(ro)) {
      it.seek(begin);
      if (it.isValid()) {
        return true;
      }
      it.status();
      return false;
    }
  }

  /**
   * Segment ids that have at least one key. Reads one key per segment: after each prefix found it
   * seeks straight to the next prefix, so the cost is one seek per segment. Sorted.
   *
   * @throws IOException if RocksDB reports an error
   */
  SortedSet<Long> segmentIdsWithKeys() throws IOException {
    SortedSet<Long> ids = new TreeSet<>();
    byte[] lower = new byte[SegmentFormat.PREFIX_BYTES];
    byte[] upper = SegmentFormat.segmentPrefix(Long.MIN_VALUE); // 0x80 00..: past every id >= 0
    try (RangeCursor c = openCursor(lower, upper, false, false)) {
      boolean valid = c.next();
      while (valid) {
        byte[] key = c.key();
        if (key.length < SegmentFormat.PREFIX_BYTES) {
          valid = c.next(); // not ours; cannot happen with this store's writes
          continue;
        }
        long id = SegmentFormat.segmentIdOf(key);
        ids.add(id);
        if (id == Long.MAX_VALUE) {
          break;
        }
        valid = c.seek(SegmentFormat.segmentRangeEnd(id));
      }
    }
    return ids;
  }

  /**
   * The filter policy and compression of every live SST, as "policy/compression" strings keyed by
   * file name (diagnostics: ingested files carry their bloom filters).
   */
  Map<String, String> tableFilterPolicies() throws IOException {
    lockForRead();
    try {
      Map<String, String> out = new TreeMap<>();
      for (Map.Entry<String, TableProperties> e : db.getPropertiesOfAllTables().entrySet()) {
        out.put(e.getKey(), e.getValue().getFilterPolicyName() + "/" + e.getValue().getCompressionName());
      }
      return out;
    } catch (RocksDBException e) {
      throw new IOException("reading table properties failed: " + e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /** Rewrites every SST, bottommost level included, so neighbouring segments share files (tests). */
  void compactAll() throws IOException {
    lockForRead();
    try (CompactRangeOptions o =
        new CompactRangeOptions().setBottommostLevelCompaction(CompactRangeOptions.BottommostLevelCompaction.kForce)) {
      db.compactRange(null, null, null, o);
    } catch (RocksDBException e) {
      throw new IOException(e.getMessage(), e);
    } finally {
      unlockForRead();
    }
  }

  /**
   * Takes the read side of the close lock.
   *
   * @throws IllegalStateException if closed
   */
  void lockForRead() {
    closeLock.readLock().lock();
    if (closed) {
      closeLock.readLock().unlock();
      throw new IllegalStateException("segment store " + dir.getParent() + " is closed");
    }
  }

  void unlockForRead() {
    closeLock.readLock().unlock();
  }

  /**
   * Runs {@code body} with the write side of the close lock held and marks the database closed,
   * unless it already is: closes open cursors, runs {@code body} (the caller's own cleanup that
   * must not race native calls), then closes RocksDB (which flushes its memtable, i.e. pending GC
   * range tombstones) and every native option. Idempotent.
   *
   * @throws IOException the first failure of {@code body} or of RocksDB's close
   */
  void close(IoAction body) throws IOException {
    closeLock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      closing = true;
      awaitPointReads();
      for (RangeCursor c : openCursors) {
        c.closeNative();
      }
      openCursors.clear();
      IOException first = null;
      try {
        body.run();
      } catch (IOException e) {
        first = e;
      }
      try {
        db.closeE();
      } catch (RocksDBException e) {
        if (first == null) {
          first = new IOException("closing RocksDB failed: " + e.getMessage(), e);
        }
      }
      ingestOptions.close();
      gcWriteOptions.close();
      pointReadOptions.close();
      envOptions.close();
      options.close();
      bloomFilter.close();
      blockCache.close();
      if (first != null) {
        throw first;
      }
    } finally {
      closeLock.writeLock().unlock();
    }
  }

  /**
   * Waits until no point read is in flight. It cannot give up: freeing the native handles under a
   * running read would crash the JVM; each read is one bounded RocksDB lookup (microseconds, or a
   * few block reads from disk), and no new one starts once {@code closing} is set.
   */
  private void awaitPointReads() {
    while (pointReadsInFlight() > 0) {
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(50));
    }
  }

  private long pointReadsInFlight() {
    long n = 0;
    for (int i = 0; i < POINT_READ_STRIPES; i++) {
      n += pointReads.get(i * STRIPE_SPACING);
    }
    return n;
  }

  /** {@link #close(IoAction)} with nothing of the caller's. */
  @Override
  public void close() throws IOException {
    close(() -> {});
  }

  /** An action that may fail with an {@link IOException}. */
  @FunctionalInterface
  interface IoAction {
    void run() throws IOException;
  }
}
