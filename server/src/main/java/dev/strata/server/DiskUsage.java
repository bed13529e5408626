package dev.strata.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Bytes of files on disk, for statistics. Stateless and thread-safe. */
final class DiskUsage {
  private DiskUsage() {}

  /** Total size of the regular files under {@code dir}; 0 if it does not exist. */
  static long bytesUnder(Path dir) {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.filter(Files::isRegularFile).mapToLong(DiskUsage::sizeOrZero).sum();
    } catch (IOException | UncheckedIOException e) {
      return 0; // files come and go (WAL truncation): statistics are best effort
    }
  }

  private static long sizeOrZero(Path p) {
    try {
      return Files.size(p);
    } catch (NoSuchFileException e) {
      return 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /** The WAL directory of a fork (docs/architecture.md, "On-disk layout"). */
  static Path walDir(Path dataDir, String forkId) {
    return dataDir.resolve("forks").resolve(forkId).resolve("wal");
  }
}
