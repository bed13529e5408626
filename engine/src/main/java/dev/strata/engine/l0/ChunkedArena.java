package dev.strata.engine.l0;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Append-only memory in chunks, the allocator under an L0 buffer (RocksDB's {@code Arena}, with
 * its bump pointer and chunks that grow): {@link #allocate} hands out regions that are never moved,
 * freed or reused while the arena lives; the garbage collector frees the whole arena with its
 * buffer.
 *
 * <p>A region is named by a reference {@code (chunk index << 32) | offset}, in the chunk's units
 * (bytes or longs). Chunks start at {@code firstChunkUnits} and double up to {@code
 * maxChunkUnits}; a region larger than a quarter of that gets a chunk of its own, so little is
 * wasted at chunk ends.
 *
 * <p>Thread-safe and lock-free on the common path: a compare-and-set on one cursor. Installing a new
 * chunk takes the arena's monitor (memory only). A region's contents, written by its allocator,
 * become visible to other threads through whatever publishes the region's reference (the L0 skip
 * list's release CAS): the chunk table is volatile and installed before any reference into it
 * exists.
 *
 * @param <A> the chunk type, {@code byte[]} or {@code long[]}
 */
abstract class ChunkedArena<A> {
  private final int firstChunkUnits;
  private final int maxChunkUnits;
  /** The chunk table; copied on growth, so a reader's view is never torn. */
  @GuardedBy("this")
  private volatile Object[] chunks;
  @GuardedBy("this")
  private int chunkCount;
  /** {@code (index of the chunk being filled << 32) | next free offset in it}. */
  private final AtomicLong cursor = new AtomicLong();
  /** Units handed out by {@link #allocate}: exact use, whatever the chunk ends waste. */
  private final AtomicLong usedUnits = new AtomicLong();
  /** Units of every chunk installed: what the arena holds. */
  private final AtomicLong reservedUnits = new AtomicLong();

  /**
   * @param chunk0 chunk 0: never allocated from and not counted (empty, or a fixed structure such as
   *     a skip list's head); the first allocation installs chunk 1, so an unused arena holds
   *     nothing more. Reference 0 (chunk 0, offset 0) therefore never names an allocated region.
   */
  ChunkedArena(int firstChunkUnits, int maxChunkUnits, A chunk0) {
    this.firstChunkUnits = firstChunkUnits;
    this.maxChunkUnits = maxChunkUnits;
    this.chunks = new Object[] {chunk0};
    this.chunkCount = 1;
    this.cursor.set(lengthOf(chunk0));
  }

  /** A new chunk of {@code units} units. */
  abstract A newChunk(int units);

  /** The length of a chunk in units. */
  abstract int lengthOf(A chunk);

  /**
   * A region of {@code units} units.
   *
   * @return its reference
   */
  final long allocate(int units) {
    if (units > maxChunkUnits / 4) {
      return allocateOwnChunk(units);
    }
    while (true) {
      long c = cursor.get();
      int index = (int) (c >>> 32);
      int offset = (int) c;
      A chunk = chunk(index);
      if (offset + units <= lengthOf(chunk)) {
        if (cursor.compareAndSet(c, c + units)) {
          usedUnits.addAndGet(units);
          return c;
        }
      } else {
        installNext(c, units);
      }
    }
  }

  /** The chunk a reference points into. */
  @SuppressWarnings("unchecked")
  final A chunkOf(long ref) {
    return (A) chunks[(int) (ref >>> 32)];
  }

  /** The offset of a reference inside its chunk. */
  static int offsetOf(long ref) {
    return (int) ref;
  }

  /** Units handed out so far. */
  final long usedUnits() {
    return usedUnits.get();
  }

  /** Units of all chunks installed so far. */
  final long reservedUnits() {
    return reservedUnits.get();
  }

  @SuppressWarnings("unchecked")
  private A chunk(int index) {
    return (A) chunks[index];
  }

  /** Installs the next chunk unless another thread did since {@code seen} was read. */
  private synchronized void installNext(long seen, int units) {
    if (cursor.get() != seen) {
      return;
    }
    int current = (int) (seen >>> 32);
    int lastSize = current == 0 ? 0 : lengthOf(chunk(current));
    int size = Math.max(units, lastSize == 0 ? firstChunkUnits : Math.min(maxChunkUnits, 2 * lastSize));
    int index = add(newChunk(size));
    cursor.set((long) index << 32);
  }

  private synchronized long allocateOwnChunk(int units) {
    int index = add(newChunk(units));
    usedUnits.addAndGet(units);
    return (long) index << 32;
  }

  private int add(A chunk) {
    Object[] table = chunks;
    if (chunkCount == table.length) {
      table = Arrays.copyOf(table, 2 * table.length);
    }
    table[chunkCount] = chunk;
    chunks = table; // volatile: publishes the chunk before any reference into it is handed out
    reservedUnits.addAndGet(lengthOf(chunk));
    return chunkCount++;
  }
}
