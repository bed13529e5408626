package dev.strata.vfs;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;

/**
 * A small interface over the file operations Strata's own storage code needs.
 *
 * <p>Durability model (POSIX, as in LevelDB's {@code Env}): bytes written to a file are durable only
 * after {@link WritableFile#sync()} returns; a new, renamed or deleted directory entry is durable
 * only after {@link #syncDirectory(Path)} on its parent returns. {@link FaultInjectingVfs} enforces
 * exactly this model when it simulates a crash.
 *
 * <p>Implementations are thread-safe: any method may be called from any thread. A single {@link
 * WritableFile} is not; its owner serialises calls to it.
 */
public interface Vfs {

  /**
   * Creates a new, empty file for writing.
   *
   * @throws java.nio.file.FileAlreadyExistsException if {@code path} exists
   * @throws IOException on any other I/O failure
   */
  WritableFile create(Path path) throws IOException;

  /**
   * Opens an existing file for appending at its current end (used to continue a WAL segment after
   * recovery).
   *
   * @throws java.nio.file.NoSuchFileException if {@code path} does not exist
   */
  WritableFile openForAppend(Path path) throws IOException;

  /** Opens an existing file for reading from position 0. The caller closes the channel. */
  SeekableByteChannel openForRead(Path path) throws IOException;

  /** Reads a whole file into memory; for small files such as manifests (a few KiB to a few MiB). */
  byte[] readAllBytes(Path path) throws IOException;

  /**
   * Cuts a closed file down to {@code sizeBytes} and syncs it, so the cut is durable when this
   * returns. Used by WAL recovery to remove a torn tail.
   */
  void truncate(Path path, long sizeBytes) throws IOException;

  /**
   * Atomically renames {@code source} to {@code target}, replacing {@code target} if it exists. The
   * new name is durable only after {@link #syncDirectory(Path)} on the parent.
   */
  void rename(Path source, Path target) throws IOException;

  /**
   * Deletes a file or an empty directory if it exists.
   *
   * @return true if something was deleted
   */
  boolean deleteIfExists(Path path) throws IOException;

  /** Deletes a directory and everything below it; no-op if it does not exist. */
  void deleteRecursively(Path dir) throws IOException;

  /** Makes the entries of {@code dir} (creations, renames, deletions) durable: fsync on the directory. */
  void syncDirectory(Path dir) throws IOException;

  /** Creates a directory and any missing parents; no-op if it exists. */
  void createDirectories(Path dir) throws IOException;

  /**
   * Creates one new directory whose parent exists, failing if anything is already at {@code dir}:
   * the exclusive create that gives a job a directory no one else owns ({@code mkdir(2)} without
   * {@code -p}). The default checks and then creates, which is not atomic; {@link LocalVfs} uses
   * {@link java.nio.file.Files#createDirectory}, which is.
   *
   * @throws java.nio.file.FileAlreadyExistsException if {@code dir} exists
   * @throws IOException on any other I/O failure (e.g. the parent is missing)
   */
  default void createDirectory(Path dir) throws IOException {
    if (exists(dir)) {
      throw new java.nio.file.FileAlreadyExistsException(dir.toString());
    }
    createDirectories(dir);
  }

  /**
   * Lists the direct children of {@code dir}, sorted by file name.
   *
   * @throws java.nio.file.NoSuchFileException if {@code dir} does not exist
   */
  List<Path> list(Path dir) throws IOException;

  /** True if {@code path} exists (file or directory). */
  boolean exists(Path path);

  /** Size of a file in bytes. */
  long size(Path path) throws IOException;
}
