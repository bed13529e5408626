package dev.strata.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Scratch directories for benchmarks. They are made under {@code -Dstrata.bench.dir} if set, else
 * under {@code java.io.tmpdir}: point it at the disk you want to measure (a tmpfs makes fsync free
 * and the numbers meaningless).
 */
public final class BenchDirs {
  private BenchDirs() {}

  /** The parent of every scratch directory. */
  public static Path root() {
    return Paths.get(System.getProperty("strata.bench.dir", System.getProperty("java.io.tmpdir")));
  }

  /** A new, empty directory named {@code <prefix>NNN} under {@link #root()}. */
  public static Path create(String prefix) throws IOException {
    return create(root(), prefix);
  }

  /** A new, empty directory named {@code <prefix>NNN} under {@code root}. */
  public static Path create(Path root, String prefix) throws IOException {
    Files.createDirectories(root);
    return Files.createTempDirectory(root, prefix);
  }

  /** Deletes {@code dir} and everything in it; a missing directory is fine. */
  public static void deleteRecursively(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
