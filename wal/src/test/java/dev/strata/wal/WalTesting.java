package dev.strata.wal;

import static org.assertj.core.api.Assertions.assertThat;

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

  /**
   * Opens a writer that replays every record from {@code fromLsn} on into {@code replayed} (copies:
   * the sink's buffer is reused), the one-pass recovery the engine uses.
   */
  static WalWriter openReplaying(
      Vfs vfs, Path dir, WalOptions options, long fromLsn, List<WalRecord> replayed)
      throws IOException {
    return WalWriter.open(
        vfs,
        dir,
        options,
        fromLsn,
        (lsn, payload) -> {
          byte[] copy = new byte[payload.remaining()];
          payload.get(payload.position(), copy);
          replayed.add(new WalRecord(lsn, copy));
        });
  }

  /**
   * Checks that one-pass replay delivered exactly the records a reader finds once recovery is
   * done: the same LSNs with the same bytes, nothing from beyond a repaired tail.
   */
  static void assertSameRecords(List<WalRecord> replayed, List<WalRecord> read) {
    assertThat(replayed)
        .extracting(WalRecord::lsn)
        .containsExactlyElementsOf(read.stream().map(WalRecord::lsn).toList());
    for (int i = 0; i < read.size(); i++) {
      assertThat(replayed.get(i).payload())
          .as("payload of LSN %d", read.get(i).lsn())
          .isEqualTo(read.get(i).payload());
    }
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
