package dev.strata.engine.l0;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A key of the L0 buffer: (collection, document id), ordered by the UTF-8 bytes of the collection,
 * then of the id — the same order as segment keys in RocksDB, so L0 and segment scans merge.
 * Immutable.
 */
public final class L0Key implements Comparable<L0Key> {
  private final String collection;
  private final String id;
  private final byte[] collectionBytes;
  private final byte[] idBytes;

  /** Creates the key of {@code id} in {@code collection}. */
  public L0Key(String collection, String id) {
    this.collection = collection;
    this.id = id;
    this.collectionBytes = collection.getBytes(StandardCharsets.UTF_8);
    this.idBytes = id.getBytes(StandardCharsets.UTF_8);
  }

  /** The collection name. */
  public String collection() {
    return collection;
  }

  /** The document id. */
  public String id() {
    return id;
  }

  /** Approximate heap bytes of this key, for L0 accounting. */
  public int sizeBytes() {
    return 48 + collectionBytes.length + idBytes.length + 2 * (collection.length() + id.length());
  }

  @Override
  public int compareTo(L0Key o) {
    int c = Arrays.compareUnsigned(collectionBytes, o.collectionBytes);
    return c != 0 ? c : Arrays.compareUnsigned(idBytes, o.idBytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof L0Key k && collection.equals(k.collection) && id.equals(k.id);
  }

  @Override
  public int hashCode() {
    return 31 * collection.hashCode() + id.hashCode();
  }

  @Override
  public String toString() {
    return collection + "/" + id;
  }
}
