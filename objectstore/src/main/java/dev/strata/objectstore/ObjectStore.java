package dev.strata.objectstore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The seam between Strata and an object store (S3 or anything speaking its API): the four
 * operations the tier needs, on keys relative to the bucket (the tier adds its prefix itself, see
 * {@link BucketLayout}). {@link S3ObjectStore} is the production implementation; tests wrap it to
 * fail or stall requests.
 *
 * <p>Semantics expected of an implementation, which S3 has had since December 2020 (strong
 * read-after-write consistency): a {@code put} is atomic (a reader sees the whole object or
 * nothing, never a prefix); once it returned, {@code get} and {@code list} see it; {@code delete}
 * of a missing key succeeds. No conditional request is used anywhere: the tier's ordering and its
 * writer fencing do not depend on them (s3proxy and several S3 look-alikes ignore them).
 *
 * <p>Implementations are thread-safe. Every method blocks the calling thread for one request
 * (or, for {@link #list}, one request per page of up to 1,000 keys) and throws {@link IOException}
 * when it fails; the caller decides whether to retry ({@link ObjectStoreException#retryable()}).
 */
public interface ObjectStore extends AutoCloseable {

  /** One object of a listing: key (relative to the bucket) and size in bytes. */
  record ObjectInfo(String key, long sizeBytes) {}

  /**
   * Stores {@code bytes} under {@code key}, replacing any object there.
   *
   * @throws IOException if the request failed (the object is then either absent, the old one, or
   *     the new one whole)
   */
  void put(String key, byte[] bytes) throws IOException;

  /**
   * Stores the content of {@code file} (read from its start; its size at call time) under {@code
   * key}, replacing any object there. The file may be read more than once (retries by the client).
   *
   * @throws IOException if the file cannot be read or the request failed
   */
  void putFile(String key, Path file) throws IOException;

  /**
   * The object under {@code key}, whole, or empty if there is none.
   *
   * @throws IOException if the request failed (a missing key is not a failure)
   */
  Optional<byte[]> get(String key) throws IOException;

  /**
   * Writes the object under {@code key} to {@code target} (replacing it).
   *
   * @return false if there is no such object ({@code target} is then untouched)
   * @throws IOException if the request or the local write failed
   */
  boolean getToFile(String key, Path target) throws IOException;

  /**
   * Every object whose key starts with {@code prefix}, in ascending UTF-8 key order (S3's order),
   * all pages followed.
   *
   * @throws IOException if a request failed
   */
  List<ObjectInfo> list(String prefix) throws IOException;

  /**
   * Deletes the object under {@code key}; a missing key is not an error.
   *
   * @throws IOException if the request failed
   */
  void delete(String key) throws IOException;

  /** Releases the client's connections. Idempotent. */
  @Override
  void close();
}
