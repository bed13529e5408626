package dev.strata.engine.segment;

import java.io.IOException;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;

/**
 * A forward cursor over the RocksDB keys in {@code [lower, upper)}, bounded natively with {@code
 * iterate_lower_bound}/{@code iterate_upper_bound} so the iterator never reads past the range
 * (RocksDB wiki, "Iterator"). Confined to one thread. Registered with its {@link SegmentDb}, which
 * closes it if the database closes first; every native call runs under the database's read lock so a
 * concurrent {@link SegmentDb#close()} cannot free the iterator under it.
 */
final class RangeCursor implements AutoCloseable {
  private final SegmentDb owner;
  private final byte[] lower;
  private final Slice lowerSlice;
  private final Slice upperSlice;
  private final ReadOptions readOptions;
  private final RocksIterator iterator;
  private final boolean wantValues;
  private boolean started;
  private boolean nativeClosed; // guarded by this
  private byte[] key;
  private byte[] value;

  /** Called by {@link SegmentDb#openCursor} under its read lock. */
  RangeCursor(
      SegmentDb owner,
      RocksDB db,
      byte[] lower,
      byte[] upper,
      boolean fillCache,
      boolean wantValues) {
    this.owner = owner;
    this.lower = lower;
    this.wantValues = wantValues;
    this.lowerSlice = new Slice(lower);
    this.upperSlice = new Slice(upper);
    this.readOptions =
        new ReadOptions()
            .setIterateLowerBound(lowerSlice)
            .setIterateUpperBound(upperSlice)
            .setFillCache(fillCache);
    this.iterator = db.newIterator(readOptions);
  }

  /**
   * Moves to the next key (the first on the first call).
   *
   * @return false at the end of the range
   * @throws IOException if RocksDB reports an error
   * @throws IllegalStateException if the cursor or the store is closed
   */
  boolean next() throws IOException {
    owner.lockForRead();
    try {
      synchronized (this) {
        if (nativeClosed) {
          throw new IllegalStateException("cursor is closed");
        }
        if (!started) {
          iterator.seek(lower);
          started = true;
        } else {
          iterator.next();
        }
        return loadCurrentLocked();
      }
    } finally {
      owner.unlockForRead();
    }
  }

  /**
   * Moves to the first key at or after {@code target} (within the bounds).
   *
   * @return false if there is none
   */
  boolean seek(byte[] target) throws IOException {
    owner.lockForRead();
    try {
      synchronized (this) {
        if (nativeClosed) {
          throw new IllegalStateException("cursor is closed");
        }
        started = true;
        iterator.seek(target);
        return loadCurrentLocked();
      }
    } finally {
      owner.unlockForRead();
    }
  }

  /**
   * Reads the iterator's position into {@code key}/{@code value}; caller holds this monitor and
   * the store's read lock.
   *
   * @return false at the end of the range
   */
  private boolean loadCurrentLocked() throws IOException {
    if (!iterator.isValid()) {
      try {
        iterator.status();
      } catch (RocksDBException e) {
        throw new IOException("RocksDB iteration failed: " + e.getMessage(), e);
      }
      key = null;
      value = null;
      return false;
    }
    key = iterator.key();
    value = wantValues ? iterator.value() : null;
    return true;
  }

  /** The current key (a fresh array). */
  byte[] key() {
    return key;
  }

  /** The current value, or null if the cursor was opened without values. */
  byte[] value() {
    return value;
  }

  @Override
  public void close() {
    closeNative();
    owner.unregister(this);
  }

  /** Frees the native objects; idempotent. Also called by the store when it closes. */
  synchronized void closeNative() {
    if (nativeClosed) {
      return;
    }
    nativeClosed = true;
    iterator.close();
    readOptions.close();
    lowerSlice.close();
    upperSlice.close();
  }
}
