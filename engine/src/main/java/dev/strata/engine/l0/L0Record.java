package dev.strata.engine.l0;

import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The mutations of one WAL record as slices of the record's bytes, ready to be copied into an L0
 * buffer: the collection name, and per mutation the id and the document body (or a tombstone). The
 * fork's WAL format code fills it (while encoding a Write, or while parsing a replayed record), so
 * the bytes go from the record straight into the arena without a decoded document in between.
 *
 * <p>Mutations are applied in order; a later mutation of the same id in the same record wins (it
 * has the same LSN, and equal LSNs replace). The engine's records hold each id once (a Write that
 * names an id twice is collapsed before it is encoded, the last mutation winning), so a reader
 * never sees a version that no Write left in place.
 *
 * <p>Not thread-safe: owned by one writer, or reused record after record by one replaying thread
 * ({@link #reset}). The source array must not change while the record is applied.
 */
public final class L0Record {
  private byte[] source;
  private int collectionOffset;
  private int collectionLength;
  private int count;
  private int[] idOffset = new int[4];
  private int[] idLength = new int[4];
  /** -1 for a tombstone. */
  private int[] bodyOffset = new int[4];
  private int[] bodyLength = new int[4];
  private int maxIdLength;
  private byte[] keyScratch = new byte[0];
  private final L0SkipList.Splice splice = new L0SkipList.Splice();

  /**
   * Starts over on a new source.
   *
   * @param source the record's bytes (all offsets below are indexes into it)
   */
  public void reset(byte[] source, int collectionOffset, int collectionLength) {
    this.source = source;
    this.collectionOffset = collectionOffset;
    this.collectionLength = collectionLength;
    this.count = 0;
    this.maxIdLength = 0;
  }

  /** Adds a put: the id's UTF-8 and the document body ({@code DocumentBody}) at these offsets. */
  public void addPut(int idOffset, int idLength, int bodyOffset, int bodyLength) {
    add(idOffset, idLength, bodyOffset, bodyLength);
  }

  /** Adds a tombstone of the id whose UTF-8 is at these offsets. */
  public void addDelete(int idOffset, int idLength) {
    add(idOffset, idLength, -1, 0);
  }

  private void add(int idOff, int idLen, int bodyOff, int bodyLen) {
    if (count == idOffset.length) {
      int n = 2 * count;
      idOffset = Arrays.copyOf(idOffset, n);
      idLength = Arrays.copyOf(idLength, n);
      bodyOffset = Arrays.copyOf(bodyOffset, n);
      bodyLength = Arrays.copyOf(bodyLength, n);
    }
    idOffset[count] = idOff;
    idLength[count] = idLen;
    bodyOffset[count] = bodyOff;
    bodyLength[count] = bodyLen;
    maxIdLength = Math.max(maxIdLength, idLen);
    count++;
  }

  /** Number of mutations. */
  public int size() {
    return count;
  }

  byte[] source() {
    return source;
  }

  /** The collection's name (decoded from its UTF-8 slice). */
  public String collection() {
    return new String(source, collectionOffset, collectionLength, StandardCharsets.UTF_8);
  }

  /** The id of mutation {@code i} (decoded from its UTF-8 slice). */
  public String id(int i) {
    return new String(source, idOffset[i], idLength[i], StandardCharsets.UTF_8);
  }

  /** The stored body ({@code DocumentBody} bytes) of put {@code i}, copied; null for a tombstone. */
  public ByteString body(int i) {
    return isTombstone(i) ? null : ByteString.copyFrom(source, bodyOffset[i], bodyLength[i]);
  }

  /** True if mutation {@code i} is a tombstone (a delete). */
  public boolean isTombstone(int i) {
    return bodyOffset[i] < 0;
  }

  int bodyOffset(int i) {
    return bodyOffset[i];
  }

  int bodyLength(int i) {
    return bodyLength[i];
  }

  /**
   * Writes the L0 key of mutation {@code i} (collection UTF-8, 0x00, id UTF-8) into a scratch
   * array owned by this record, reused for every mutation.
   *
   * @return the scratch array; the key is its first {@link #keyLength(int)} bytes
   */
  byte[] key(int i) {
    int need = collectionLength + 1 + maxIdLength;
    if (keyScratch.length < need) {
      keyScratch = new byte[need];
    }
    System.arraycopy(source, collectionOffset, keyScratch, 0, collectionLength);
    keyScratch[collectionLength] = 0;
    System.arraycopy(source, idOffset[i], keyScratch, collectionLength + 1, idLength[i]);
    return keyScratch;
  }

  L0SkipList.Splice splice() {
    return splice;
  }

  int keyLength(int i) {
    return collectionLength + 1 + idLength[i];
  }
}
