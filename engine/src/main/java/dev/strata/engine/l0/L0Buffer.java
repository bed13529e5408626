package dev.strata.engine.l0;

import com.google.protobuf.UnsafeByteOperations;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.segment.SegmentEntry;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;

/**
 * The in-memory table (memtable) of one fork's recent writes: the newest version of each
 * (collection, id) — a document or a tombstone — with the LSN that wrote it.
 *
 * <h2>Layout</h2>
 *
 * Keys and versions are byte records in a {@link ByteArena} (chunks of 16 KiB growing to 4 MiB),
 * indexed by an {@link L0SkipList} whose nodes are slots in {@code long[]} chunks: no Java object
 * per document. A put's version is the segment's SST value byte for byte (kind, LSN, then the
 * document body the Write encoded), so it goes from the WAL record into the arena with one copy and
 * from there to the flush unchanged. Reads hand out views of the arena (never copied, never
 * overwritten: a newer version is a new record).
 *
 * <h2>Accounting</h2>
 *
 * {@link #sizeBytes()} is exact: the bytes of every record and node handed out by the arenas,
 * superseded versions included; {@link #reservedBytes()} adds the unused ends of the chunks, which
 * is what the buffer holds on the heap (besides a few fixed objects).
 *
 * <h2>Contract</h2>
 *
 * A buffer covers the LSN range {@code (startLsnExclusive, endLsnInclusive]}. While it is the
 * fork's <em>active</em> buffer the end is open; {@link #freeze} closes it at rotate. Writers route
 * each applied record by its LSN, so a record whose WAL append finished before a rotate but whose
 * apply comes after it still lands in the frozen buffer that covers it (see {@code ForkWriter} for
 * why). A frozen buffer stays readable until its flush is published.
 *
 * <p>Newest-wins by LSN: concurrent writers of one key may apply out of LSN order; the higher LSN
 * stays, so the result equals applying in LSN order.
 *
 * <p>Thread-safe. Reads are lock-free; applies share a read lock only to be atomic with respect to
 * {@link #freeze}, which takes it alone (memory only).
 */
public final class L0Buffer {
  private final long startLsnExclusive;
  private volatile long endLsnInclusive = Long.MAX_VALUE;
  private final ByteArena data = new ByteArena();
  private final L0SkipList index = new L0SkipList(data);
  private final AtomicLong maxLsn = new AtomicLong();

  /**
   * Makes "check the range, then apply a whole record" atomic with respect to {@link #freeze}:
   * appliers share it, freeze takes it alone. Held only for in-memory work.
   */
  private final ReentrantReadWriteLock freezeLock = new ReentrantReadWriteLock();

  /** An empty buffer for records with LSN greater than {@code startLsnExclusive}. */
  public L0Buffer(long startLsnExclusive) {
    this.startLsnExclusive = startLsnExclusive;
    this.maxLsn.set(startLsnExclusive);
  }

  /** LSNs above this belong here (up to {@link #endLsnInclusive()}). */
  public long startLsnExclusive() {
    return startLsnExclusive;
  }

  /** The last LSN this buffer covers; {@code Long.MAX_VALUE} while active. */
  public long endLsnInclusive() {
    return endLsnInclusive;
  }

  /** True if {@code lsn} falls in this buffer's range. */
  public boolean covers(long lsn) {
    return lsn > startLsnExclusive && lsn <= endLsnInclusive;
  }

  /**
   * Closes the range at the LSN {@code coveredLsn} returns, read while no record is being applied
   * here: called once, at rotate, under the fork's flush lock, with the WAL's last assigned LSN.
   *
   * <p>Why read it under the lock: a record applied before the freeze had its LSN assigned before
   * the read, so it is ≤ the covered LSN; a record applied after sees the closed range and is
   * routed to the next buffer. The frozen buffer therefore holds exactly the records with LSN ≤
   * its covered LSN (snapshot isolation, SPEC §5.3).
   *
   * @return the covered LSN
   * @throws IllegalStateException if already frozen
   * @throws IllegalArgumentException if the covered LSN is below the buffer's start
   */
  public long freeze(LongSupplier coveredLsn) {
    freezeLock.writeLock().lock();
    try {
      long covered = coveredLsn.getAsLong();
      if (endLsnInclusive != Long.MAX_VALUE) {
        throw new IllegalStateException("L0 buffer already frozen at LSN " + endLsnInclusive);
      }
      if (covered < startLsnExclusive) {
        throw new IllegalArgumentException(
            "covered LSN " + covered + " is below the buffer's start " + startLsnExclusive);
      }
      endLsnInclusive = covered;
      return covered;
    } finally {
      freezeLock.writeLock().unlock();
    }
  }

  /** True once {@link #freeze} has run. */
  public boolean isFrozen() {
    return endLsnInclusive != Long.MAX_VALUE;
  }

  /**
   * Applies every mutation of one WAL record (all with LSN {@code lsn}) if this buffer covers
   * {@code lsn}, atomically with respect to {@link #freeze}: either the whole record lands here
   * before the buffer is frozen, or nothing does and the caller routes it to the buffer that now
   * covers it. Copies each key (if new) and version from the record's bytes into the arena.
   *
   * @return false if the buffer does not (or no longer) cover {@code lsn}
   */
  public boolean applyRecord(long lsn, L0Record record) {
    freezeLock.readLock().lock();
    try {
      if (!covers(lsn)) {
        return false;
      }
      byte[] src = record.source();
      for (int i = 0; i < record.size(); i++) {
        byte[] key = record.key(i);
        index.put(
            record.splice(),
            key,
            record.keyLength(i),
            lsn,
            record.isTombstone(i),
            src,
            record.bodyOffset(i),
            record.bodyLength(i));
      }
      maxLsn.accumulateAndGet(lsn, Math::max);
      return true;
    } finally {
      freezeLock.readLock().unlock();
    }
  }

  /**
   * A bulk load of this buffer (recovery's replay, see {@link L0BulkLoad}): only on an empty buffer
   * that no other thread uses until the load is finished.
   *
   * @throws IllegalStateException if the buffer holds entries or is frozen
   */
  public L0BulkLoad bulkLoad() {
    if (!isEmpty() || isFrozen()) {
      throw new IllegalStateException("a bulk load needs an empty, active L0 buffer");
    }
    return new L0BulkLoad(this, data, index);
  }

  /** Records that a record of {@code lsn} was applied (for {@link #maxAppliedLsn()}). */
  void noteApplied(long lsn) {
    maxLsn.accumulateAndGet(lsn, Math::max);
  }

  /** The newest version of a key, or null if this buffer has none. Lock-free. */
  public DocumentVersion get(String collection, String id) {
    byte[] key = keyOf(collection, id);
    long node = index.find(new L0SkipList.Probe().set(key, key.length));
    return node == 0 ? null : version(id, index.versionRef(node));
  }

  /**
   * Entries of one collection with id ≥ {@code startIdInclusive} (null or "" for all), in key
   * order (ids by their unsigned UTF-8 bytes); weakly consistent: sees every record applied before
   * the call, maybe some applied during it. Lock-free.
   */
  public Iterator<SegmentEntry> scan(String collection, String startIdInclusive) {
    byte[] prefix = keyOf(collection, "");
    byte[] start = keyOf(collection, startIdInclusive == null ? "" : startIdInclusive);
    return new Entries(index.seek(new L0SkipList.Probe().set(start, start.length)), collection, prefix);
  }

  /**
   * Every entry in key order (collection, then id), for the flush of a frozen buffer. The
   * documents' bodies are views of the arena. Lock-free; on an active buffer, weakly consistent.
   */
  public Iterator<SegmentEntry> entries() {
    return new Entries(index.first(), null, null);
  }

  /** Bytes of the records and nodes the buffer holds, superseded versions included: exact. */
  public long sizeBytes() {
    return data.usedUnits() + index.usedBytes();
  }

  /** Bytes of the arena chunks the buffer holds: {@link #sizeBytes()} plus unused chunk ends. */
  public long reservedBytes() {
    return data.reservedUnits() + index.reservedBytes();
  }

  /** Number of distinct keys. */
  public int entryCount() {
    return index.count();
  }

  /** True if no record was applied. */
  public boolean isEmpty() {
    return index.count() == 0;
  }

  /** Highest LSN applied so far (or the start LSN if none). */
  public long maxAppliedLsn() {
    return maxLsn.get();
  }

  private static byte[] keyOf(String collection, String id) {
    byte[] c = collection.getBytes(StandardCharsets.UTF_8);
    byte[] i = id.getBytes(StandardCharsets.UTF_8);
    byte[] key = new byte[c.length + 1 + i.length];
    System.arraycopy(c, 0, key, 0, c.length);
    System.arraycopy(i, 0, key, c.length + 1, i.length);
    return key;
  }

  /** The version at {@code ref}: a tombstone, or a put whose body is a view of the arena. */
  private DocumentVersion version(String id, long ref) {
    byte[] chunk = data.chunkOf(ref);
    int off = ChunkedArena.offsetOf(ref);
    int valueLength = ByteArena.getInt(chunk, off);
    int v = off + ByteArena.VERSION_HEADER_BYTES;
    long lsn = ByteArena.getLong(chunk, v + 1);
    if (chunk[v] == ByteArena.KIND_TOMBSTONE) {
      return new DocumentVersion(lsn, null);
    }
    int bodyLength = valueLength - ByteArena.VALUE_HEADER_BYTES;
    return new DocumentVersion(
        lsn,
        EncodedDocument.wrap(
            id, UnsafeByteOperations.unsafeWrap(chunk, v + ByteArena.VALUE_HEADER_BYTES, bodyLength)));
  }

  /** Walks level 0 from a node, optionally only while keys start with {@code prefix}. */
  private final class Entries implements Iterator<SegmentEntry> {
    private final String fixedCollection;
    private final byte[] prefix;
    private long node;
    private String collection;
    private byte[] collectionBytes;

    Entries(long first, String collection, byte[] prefix) {
      this.fixedCollection = collection;
      this.prefix = prefix;
      this.node = first;
      if (node != 0 && prefix != null && !startsWithPrefix(node)) {
        node = 0;
      }
    }

    private boolean startsWithPrefix(long n) {
      long keyRef = index.keyRef(n);
      byte[] chunk = data.chunkOf(keyRef);
      int k = ChunkedArena.offsetOf(keyRef) + ByteArena.KEY_HEADER_BYTES;
      int len = ByteArena.getUnsignedShort(chunk, k - ByteArena.KEY_HEADER_BYTES);
      return len >= prefix.length
          && Arrays.equals(chunk, k, k + prefix.length, prefix, 0, prefix.length);
    }

    @Override
    public boolean hasNext() {
      return node != 0;
    }

    @Override
    public SegmentEntry next() {
      if (node == 0) {
        throw new NoSuchElementException();
      }
      long keyRef = index.keyRef(node);
      byte[] chunk = data.chunkOf(keyRef);
      int k = ChunkedArena.offsetOf(keyRef) + ByteArena.KEY_HEADER_BYTES;
      int len = ByteArena.getUnsignedShort(chunk, k - ByteArena.KEY_HEADER_BYTES);
      int sep = k;
      while (chunk[sep] != 0) {
        sep++;
      }
      String coll = fixedCollection != null ? fixedCollection : collectionAt(chunk, k, sep - k);
      String id = new String(chunk, sep + 1, k + len - sep - 1, StandardCharsets.UTF_8);
      SegmentEntry e = new SegmentEntry(coll, id, version(id, index.versionRef(node)));
      node = index.next(node);
      if (node != 0 && prefix != null && !startsWithPrefix(node)) {
        node = 0;
      }
      return e;
    }

    /** The collection name, shared by consecutive entries of one collection. */
    private String collectionAt(byte[] chunk, int off, int len) {
      if (collectionBytes == null || !Arrays.equals(collectionBytes, 0, collectionBytes.length, chunk, off, off + len)) {
        collectionBytes = Arrays.copyOfRange(chunk, off, off + len);
        collection = new String(collectionBytes, StandardCharsets.UTF_8);
      }
      return collection;
    }
  }
}
