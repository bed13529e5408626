package dev.strata.engine.l0;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The sorted index of an L0 buffer: a lock-free, insert-only skip list whose nodes are slots in
 * {@code long[]} chunks and whose keys and versions live in a {@link ByteArena} — no Java object
 * per entry (RocksDB's {@code InlineSkipList}: branching factor 4, at most 12 levels).
 *
 * <pre>
 * node := prefix0 prefix1 keyRef versionRef next[0] .. next[height-1]
 *         (longs; prefix = the key's first 16 bytes, big-endian, zero-padded, so most comparisons
 *         never leave the node's cache line; refs into the ByteArena; next = node refs, 0 = none)
 * </pre>
 *
 * One node per distinct key, ordered by the key's unsigned bytes (collection, 0x00, id: the order of
 * segment keys). A new version of an existing key replaces the node's {@code versionRef} with a
 * compare-and-set if its LSN is at least the current one's (newest LSN wins, whatever order writers
 * apply in; a later mutation of the same record, which has the same LSN, wins too).
 *
 * <h2>Concurrency</h2>
 *
 * Any number of threads insert and read at once, without locks. A node's slots and the bytes its
 * refs point to are written before the release CAS that links it at level 0; readers follow {@code
 * next} and {@code versionRef} with acquire reads, so they see complete nodes and versions. Nodes
 * are never unlinked, so a search may resume from any node it passed. A node is linked at level 0
 * first, then upwards; a search that misses it at an upper level finds it at level 0. Two threads
 * inserting the same new key race at level 0: the loser finds the winner's node there and updates
 * its version instead (its own node stays unlinked: a few bytes, counted).
 */
final class L0SkipList {
  static final int MAX_HEIGHT = 12;
  private static final int PREFIX0 = 0;
  private static final int PREFIX1 = 1;
  private static final int KEY = 2;
  private static final int VERSION = 3;
  private static final int NEXT = 4;
  /** "No node": reference 0 is never an allocated region (chunk 0 is not allocated from). */
  private static final long NONE = 0;
  /** The head node lives in the node arena's chunk 0, after the unused slot of reference 0. */
  private static final int HEAD_OFFSET = 1;

  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

  /**
   * Scratch space of one inserting thread: a key's neighbours at every level, kept from one insert
   * to the next as a hint (RocksDB's {@code Splice}): an insert right after the previous one, as in
   * the replay of a WAL written in key order, finds its place without a search from the top.
   */
  static final class Splice {
    final long[] prev = new long[MAX_HEIGHT];
    final long[] succ = new long[MAX_HEIGHT];
    /** The list the hint belongs to, or null: a hint is never used on another list. */
    L0SkipList owner;
    final Probe probe = new Probe();
  }

  /** The long half of the buffer's memory: nodes. */
  static final class NodeArena extends ChunkedArena<long[]> {
    /** Chunk 0 holds the head node at offset {@link #HEAD_OFFSET}; chunks grow 16 KiB to 4 MiB. */
    NodeArena() {
      super(2 << 10, 512 << 10, new long[HEAD_OFFSET + NEXT + MAX_HEIGHT]);
    }

    @Override
    long[] newChunk(int units) {
      return new long[units];
    }

    @Override
    int lengthOf(long[] chunk) {
      return chunk.length;
    }
  }

  private final ByteArena data;
  private final NodeArena nodes = new NodeArena();
  private final long head = HEAD_OFFSET;
  private final AtomicInteger count = new AtomicInteger();

  L0SkipList(ByteArena data) {
    this.data = data;
  }

  /**
   * Adds a version of {@code key} (its first {@code keyLength} bytes): copies the key (if new) and
   * the version into the arena, then links or updates the key's node.
   *
   * @param splice the calling thread's scratch space
   * @param src the put's body is {@code src[bodyOffset, bodyOffset + bodyLength)}; ignored for a
   *     tombstone
   * @return true if the version became the key's newest (false: a newer LSN was already there)
   */
  boolean put(
      Splice splice, byte[] key, int keyLength, long lsn, boolean tombstone, byte[] src, int bodyOffset, int bodyLength) {
    long[] prev = splice.prev;
    long[] succ = splice.succ;
    Probe probe = splice.probe.set(key, keyLength);
    int valueLength = ByteArena.VALUE_HEADER_BYTES + (tombstone ? 0 : bodyLength);
    long found = findSpliceHinted(probe, splice);
    if (found != NONE) {
      return replaceVersion(found, writeVersion(lsn, tombstone, src, bodyOffset, valueLength), lsn);
    }
    // A new key: key and version in one allocation.
    long keyRef = writeEntry(data, key, keyLength, lsn, tombstone, src, bodyOffset, bodyLength);
    long versionRef = keyRef + ByteArena.KEY_HEADER_BYTES + keyLength;

    int height = randomHeight();
    long node = nodes.allocate(NEXT + height);
    long[] n = nodes.chunkOf(node);
    int base = ChunkedArena.offsetOf(node);
    n[base + PREFIX0] = probe.prefix0;
    n[base + PREFIX1] = probe.prefix1;
    n[base + KEY] = keyRef;
    n[base + VERSION] = versionRef;
    for (int i = 0; i < height; i++) {
      n[base + NEXT + i] = succ[i];
    }
    // Level 0 decides whether the key is new: the release CAS publishes the node.
    while (!casNext(prev[0], 0, succ[0], node)) {
      long equal = findSpliceAt(0, probe, prev, succ);
      if (equal != NONE) {
        return replaceVersion(equal, versionRef, lsn); // another thread linked this key first
      }
      SLOT.setRelease(n, base + NEXT, succ[0]);
    }
    count.incrementAndGet();
    prev[0] = node; // the hint for the next insert: right after this key
    for (int level = 1; level < height; level++) {
      while (!casNext(prev[level], level, succ[level], node)) {
        findSpliceAt(level, probe, prev, succ);
        SLOT.setRelease(n, base + NEXT + level, succ[level]);
      }
      prev[level] = node;
    }
    return true;
  }

  /**
   * {@link #findSplice} starting from the hint the splice holds, when it still brackets the key:
   * the lowest level whose hint is tight ({@code prev.next == succ}) and has {@code prev < key <=
   * succ} is exact, and every level above it brackets the key too (a splice's levels are nested),
   * so only the levels below it are searched again, from its {@code prev}. Concurrent inserts only
   * loosen a hint: the CAS that links a node checks every level anyway.
   */
  private long findSpliceHinted(Probe key, Splice splice) {
    long[] prev = splice.prev;
    long[] succ = splice.succ;
    if (splice.owner != this) {
      splice.owner = this;
      return findSplice(key, prev, succ);
    }
    int level = 0;
    while (level < MAX_HEIGHT) {
      long p = prev[level];
      long s = succ[level];
      if (next(p, level) == s
          && (p == head || compareKey(p, key) < 0)
          && (s == NONE || compareKey(s, key) >= 0)) {
        break;
      }
      level++;
    }
    if (level == MAX_HEIGHT) {
      return findSplice(key, prev, succ);
    }
    long x = prev[level];
    for (int l = level - 1; l >= 0; l--) {
      long next;
      while (true) {
        next = next(x, l);
        if (next == NONE || compareKey(next, key) >= 0) {
          break;
        }
        x = next;
      }
      prev[l] = x;
      succ[l] = next;
    }
    long s0 = succ[0];
    return s0 != NONE && compareKey(s0, key) == 0 ? s0 : NONE;
  }

  /** The node of a key, or 0 if absent. */
  long find(Probe key) {
    long x = head;
    for (int level = MAX_HEIGHT - 1; level >= 0; level--) {
      while (true) {
        long next = next(x, level);
        if (next == NONE) {
          break;
        }
        int c = compareKey(next, key);
        if (c < 0) {
          x = next;
        } else {
          if (c == 0) {
            return next;
          }
          break;
        }
      }
    }
    return NONE;
  }

  /** The first node whose key is ≥ the given key, or 0. */
  long seek(Probe key) {
    long x = head;
    long next = NONE;
    for (int level = MAX_HEIGHT - 1; level >= 0; level--) {
      while (true) {
        next = next(x, level);
        if (next == NONE || compareKey(next, key) >= 0) {
          break;
        }
        x = next;
      }
    }
    return next;
  }

  /** The first node, or 0 if the list is empty. */
  long first() {
    return next(head, 0);
  }

  /** The node after {@code node} at level 0, or 0. */
  long next(long node) {
    return next(node, 0);
  }

  /** A node's key record (see {@link ByteArena}). */
  long keyRef(long node) {
    return nodes.chunkOf(node)[ChunkedArena.offsetOf(node) + KEY];
  }

  /** A node's newest version record (acquire read: a writer may replace it at any time). */
  long versionRef(long node) {
    return (long) SLOT.getAcquire(nodes.chunkOf(node), ChunkedArena.offsetOf(node) + VERSION);
  }

  /** Distinct keys linked. */
  int count() {
    return count.get();
  }

  /** Bytes of nodes handed out. */
  long usedBytes() {
    return 8 * nodes.usedUnits();
  }

  /** Bytes of node chunks held. */
  long reservedBytes() {
    return 8 * nodes.reservedUnits();
  }

  /**
   * Writes a key record and a version record in one allocation of {@code data} (see {@link
   * ByteArena}); the version starts right after the key.
   *
   * @return the key record's reference
   */
  static long writeEntry(
      ByteArena data, byte[] key, int keyLength, long lsn, boolean tombstone, byte[] src, int bodyOffset, int bodyLength) {
    int valueLength = ByteArena.VALUE_HEADER_BYTES + (tombstone ? 0 : bodyLength);
    long keyRef =
        data.allocate(ByteArena.KEY_HEADER_BYTES + keyLength + ByteArena.VERSION_HEADER_BYTES + valueLength);
    byte[] chunk = data.chunkOf(keyRef);
    int off = ChunkedArena.offsetOf(keyRef);
    ByteArena.putShort(chunk, off, keyLength);
    System.arraycopy(key, 0, chunk, off + ByteArena.KEY_HEADER_BYTES, keyLength);
    fillVersion(chunk, off + ByteArena.KEY_HEADER_BYTES + keyLength, lsn, tombstone, src, bodyOffset, valueLength);
    return keyRef;
  }

  /**
   * Links nodes into an empty list in strictly increasing key order, with no other thread touching
   * the list (an {@link L0BulkLoad}): each level is appended at its tail, no search at all.
   */
  final class Appender {
    private final long[] tail = new long[MAX_HEIGHT];
    private int linked;

    private Appender() {
      Arrays.fill(tail, head);
    }

    /** Appends a node for the key at {@code keyRef} (greater than every key appended before). */
    void append(long p0, long p1, long keyRef, long versionRef) {
      int height = randomHeight();
      long node = nodes.allocate(NEXT + height);
      long[] n = nodes.chunkOf(node);
      int base = ChunkedArena.offsetOf(node);
      n[base + PREFIX0] = p0;
      n[base + PREFIX1] = p1;
      n[base + KEY] = keyRef;
      n[base + VERSION] = versionRef;
      for (int level = 0; level < height; level++) {
        SLOT.setRelease(nodes.chunkOf(tail[level]), ChunkedArena.offsetOf(tail[level]) + NEXT + level, node);
        tail[level] = node;
      }
      linked++;
    }

    /** Counts the appended keys. */
    void done() {
      count.addAndGet(linked);
      linked = 0;
    }
  }

  /**
   * An appender for a bulk load.
   *
   * @throws IllegalStateException if the list is not empty
   */
  Appender appender() {
    if (count.get() != 0 || next(head, 0) != NONE) {
      throw new IllegalStateException("a bulk load needs an empty L0 buffer");
    }
    return new Appender();
  }

  /** Compares two key records, unsigned bytes. */
  int compareKeys(long keyRefA, long keyRefB) {
    byte[] a = data.chunkOf(keyRefA);
    int ao = ChunkedArena.offsetOf(keyRefA);
    int al = ByteArena.getUnsignedShort(a, ao);
    byte[] b = data.chunkOf(keyRefB);
    int bo = ChunkedArena.offsetOf(keyRefB);
    int bl = ByteArena.getUnsignedShort(b, bo);
    return Arrays.compareUnsigned(
        a, ao + ByteArena.KEY_HEADER_BYTES, ao + ByteArena.KEY_HEADER_BYTES + al,
        b, bo + ByteArena.KEY_HEADER_BYTES, bo + ByteArena.KEY_HEADER_BYTES + bl);
  }

  /** True if two key records hold the same key. */
  boolean sameKey(long keyRefA, long keyRefB) {
    return compareKeys(keyRefA, keyRefB) == 0;
  }

  private long writeVersion(long lsn, boolean tombstone, byte[] src, int bodyOffset, int valueLength) {
    long ref = data.allocate(ByteArena.VERSION_HEADER_BYTES + valueLength);
    fillVersion(data.chunkOf(ref), ChunkedArena.offsetOf(ref), lsn, tombstone, src, bodyOffset, valueLength);
    return ref;
  }

  private static void fillVersion(
      byte[] chunk, int off, long lsn, boolean tombstone, byte[] src, int bodyOffset, int valueLength) {
    ByteArena.putInt(chunk, off, valueLength);
    chunk[off + ByteArena.VERSION_HEADER_BYTES] = tombstone ? ByteArena.KIND_TOMBSTONE : ByteArena.KIND_PUT;
    ByteArena.putLong(chunk, off + ByteArena.VERSION_HEADER_BYTES + 1, lsn);
    if (!tombstone) {
      System.arraycopy(
          src,
          bodyOffset,
          chunk,
          off + ByteArena.VERSION_HEADER_BYTES + ByteArena.VALUE_HEADER_BYTES,
          valueLength - ByteArena.VALUE_HEADER_BYTES);
    }
  }

  /** The LSN of a version record. */
  long lsnOf(long versionRef) {
    return ByteArena.getLong(
        data.chunkOf(versionRef), ChunkedArena.offsetOf(versionRef) + ByteArena.VERSION_HEADER_BYTES + 1);
  }

  private boolean replaceVersion(long node, long versionRef, long lsn) {
    long[] n = nodes.chunkOf(node);
    int slot = ChunkedArena.offsetOf(node) + VERSION;
    while (true) {
      long current = (long) SLOT.getAcquire(n, slot);
      if (lsnOf(current) > lsn) {
        return false;
      }
      if (SLOT.compareAndSet(n, slot, current, versionRef)) {
        return true;
      }
    }
  }

  /**
   * Fills {@code prev}/{@code succ} at every level for the key: prev's key < key ≤ succ's key.
   *
   * @return the node holding the key, or 0
   */
  private long findSplice(Probe key, long[] prev, long[] succ) {
    long x = head;
    long found = NONE;
    for (int level = MAX_HEIGHT - 1; level >= 0; level--) {
      long next;
      while (true) {
        next = next(x, level);
        if (next == NONE) {
          break;
        }
        int c = compareKey(next, key);
        if (c >= 0) {
          if (c == 0) {
            found = next;
          }
          break;
        }
        x = next;
      }
      prev[level] = x;
      succ[level] = next;
    }
    return found;
  }

  /**
   * Recomputes the splice at one level after a failed CAS, starting from the old predecessor (still
   * before the key: nodes are never removed).
   *
   * @return the node holding the key if the scan met it, or 0
   */
  private long findSpliceAt(int level, Probe key, long[] prev, long[] succ) {
    long x = prev[level];
    while (true) {
      long next = next(x, level);
      if (next == NONE) {
        prev[level] = x;
        succ[level] = NONE;
        return NONE;
      }
      int c = compareKey(next, key);
      if (c >= 0) {
        prev[level] = x;
        succ[level] = next;
        return c == 0 ? next : NONE;
      }
      x = next;
    }
  }

  private long next(long node, int level) {
    return (long) SLOT.getAcquire(nodes.chunkOf(node), ChunkedArena.offsetOf(node) + NEXT + level);
  }

  private boolean casNext(long node, int level, long expected, long value) {
    return SLOT.compareAndSet(nodes.chunkOf(node), ChunkedArena.offsetOf(node) + NEXT + level, expected, value);
  }

  /**
   * Compares a node's key with the probe's, unsigned bytes: first the 16-byte prefixes held in the
   * node (one cache line with its next pointers), and only when they are equal the whole keys in the
   * arena, which is where a search would otherwise take a second cache miss per node it visits.
   */
  private int compareKey(long node, Probe key) {
    long[] n = nodes.chunkOf(node);
    int b = ChunkedArena.offsetOf(node);
    int c = Long.compareUnsigned(n[b + PREFIX0], key.prefix0);
    if (c != 0) {
      return c;
    }
    c = Long.compareUnsigned(n[b + PREFIX1], key.prefix1);
    if (c != 0) {
      return c;
    }
    long keyRef = n[b + KEY];
    byte[] chunk = data.chunkOf(keyRef);
    int k = ChunkedArena.offsetOf(keyRef);
    int len = ByteArena.getUnsignedShort(chunk, k);
    return Arrays.compareUnsigned(
        chunk, k + ByteArena.KEY_HEADER_BYTES, k + ByteArena.KEY_HEADER_BYTES + len, key.bytes, 0, key.length);
  }

  /**
   * A key being searched for: its bytes and their first 16 bytes as two big-endian longs
   * (zero-padded), compared unsigned. Mutable, confined to one thread.
   */
  static final class Probe {
    private byte[] bytes;
    private int length;
    private long prefix0;
    private long prefix1;

    /** Points the probe at {@code bytes[0, length)}. */
    Probe set(byte[] bytes, int length) {
      this.bytes = bytes;
      this.length = length;
      this.prefix0 = prefix(bytes, 0, length);
      this.prefix1 = prefix(bytes, 8, length);
      return this;
    }
  }

  /** Bytes {@code [from, from + 8)} of {@code key[0, length)} as a big-endian long, zero-padded. */
  static long prefix(byte[] key, int from, int length) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      int at = from + i;
      v = (v << 8) | (at < length ? key[at] & 0xFF : 0);
    }
    return v;
  }

  /** 1 + the number of times a 1-in-4 chance came up in a row, at most {@link #MAX_HEIGHT}. */
  private static int randomHeight() {
    int r = ThreadLocalRandom.current().nextInt();
    return Math.min(MAX_HEIGHT, 1 + Integer.numberOfTrailingZeros(r) / 2);
  }
}
