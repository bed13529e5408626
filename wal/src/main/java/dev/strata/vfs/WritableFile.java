package dev.strata.vfs;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * An append-only file being written. Not thread-safe: its owner serialises calls.
 *
 * <p>fsyncgate rule: after {@link #sync()} throws, the kernel may already have dropped the dirty
 * pages, so a later successful sync proves nothing. Callers must treat the file as failed for good
 * and never call {@code sync()} on it again.
 */
public interface WritableFile extends Closeable {

  /** The file's path. */
  Path path();

  /**
   * Appends every remaining byte of {@code src} at the end of the file (loops over short writes).
   * On an exception an unknown prefix of {@code src} may have been written.
   */
  void write(ByteBuffer src) throws IOException;

  /** Forces written bytes to stable storage ({@code FileChannel.force(false)}, i.e. fdatasync). */
  void sync() throws IOException;

  /** Bytes in the file: its size at open plus every byte appended since. */
  long size();
}
