package dev.strata.wal;

import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Shared bits of the WAL tests. */
final class WalTesting {
  private WalTesting() {}

  static List<WalRecord> readAll(Vfs vfs, Path dir, long fromLsn) throws IOException {
    List<WalRecord> out = new ArrayList<>();
    try (WalReader r = WalReader.open(vfs, dir, fromLsn)) {
      for (WalRecord rec = r.next(); rec != null; rec = r.next()) {
        out.add(rec);
      }
    }
    return out;
  }

  static List<WalRecord> readAll(Path dir) throws IOException {
    return readAll(LocalVfs.INSTANCE, dir, 0);
  }

  static byte[] payload(Random rnd, int size) {
    byte[] b = new byte[size];
    rnd.nextBytes(b);
    return b;
  }

  /** A fresh directory for code that cannot use {@code @TempDir} (jqwik tries). */
  static Path newTempDir(String prefix) {
    try {
      return Files.createTempDirectory(prefix);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void deleteTree(Path dir) {
    try {
      LocalVfs.INSTANCE.deleteRecursively(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static List<Path> segments(Path dir) throws IOException {
    return LocalVfs.INSTANCE.list(dir).stream()
        .filter(p -> p.getFileName().toString().endsWith(".wal"))
        .toList();
  }

  /** Closes a writer whose process was "killed": its failure is expected and ignored. */
  static void closeDead(WalWriter w) {
    try {
      w.close();
    } catch (IOException expected) {
      // The writer failed when its Vfs was killed; close still released its thread.
    }
  }
}
