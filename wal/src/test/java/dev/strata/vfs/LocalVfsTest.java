package dev.strata.vfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The production {@link Vfs}: each method does what the interface promises on a real disk. */
class LocalVfsTest {

  private final Vfs vfs = LocalVfs.INSTANCE;

  @TempDir Path dir;

  private static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  private String read(Path p) throws Exception {
    return new String(vfs.readAllBytes(p), StandardCharsets.UTF_8);
  }

  @Test
  void createWritesFullyAndTracksSize() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      assertThat(f.path()).isEqualTo(p);
      assertThat(f.size()).isZero();
      ByteBuffer b = utf8("hello ");
      f.write(b);
      assertThat(b.hasRemaining()).isFalse();
      f.write(utf8("world"));
      f.sync();
      assertThat(f.size()).isEqualTo(11);
    }
    assertThat(read(p)).isEqualTo("hello world");
    assertThat(vfs.size(p)).isEqualTo(11);
    assertThat(vfs.exists(p)).isTrue();
  }

  @Test
  void createRefusesAnExistingFile() throws Exception {
    Path p = dir.resolve("a");
    vfs.create(p).close();
    assertThatThrownBy(() -> vfs.create(p)).isInstanceOf(FileAlreadyExistsException.class);
  }

  @Test
  void openForAppendContinuesAtTheEnd() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      f.write(utf8("abc"));
    }
    try (WritableFile f = vfs.openForAppend(p)) {
      assertThat(f.size()).isEqualTo(3);
      f.write(utf8("def"));
      assertThat(f.size()).isEqualTo(6);
    }
    assertThat(read(p)).isEqualTo("abcdef");
    assertThatThrownBy(() -> vfs.openForAppend(dir.resolve("missing")))
        .isInstanceOf(NoSuchFileException.class);
  }

  @Test
  void openForReadStartsAtZero() throws Exception {
    Path p = dir.resolve("a");
    Files.writeString(p, "xyz");
    try (SeekableByteChannel ch = vfs.openForRead(p)) {
      ByteBuffer b = ByteBuffer.allocate(10);
      assertThat(ch.read(b)).isEqualTo(3);
      assertThat(new String(b.array(), 0, 3, StandardCharsets.UTF_8)).isEqualTo("xyz");
    }
  }

  @Test
  void truncateCutsAndNeverGrows() throws Exception {
    Path p = dir.resolve("a");
    Files.writeString(p, "0123456789");
    vfs.truncate(p, 4);
    assertThat(read(p)).isEqualTo("0123");
    vfs.truncate(p, 100);
    assertThat(vfs.size(p)).isEqualTo(4);
  }

  @Test
  void renameReplacesTheTarget() throws Exception {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    Files.writeString(a, "new");
    Files.writeString(b, "old");
    vfs.rename(a, b);
    vfs.syncDirectory(dir);
    assertThat(vfs.exists(a)).isFalse();
    assertThat(read(b)).isEqualTo("new");
  }

  @Test
  void deleteReportsWhetherSomethingWasDeleted() throws Exception {
    Path a = dir.resolve("a");
    Files.writeString(a, "x");
    assertThat(vfs.deleteIfExists(a)).isTrue();
    assertThat(vfs.deleteIfExists(a)).isFalse();
    Path sub = dir.resolve("d/e/f");
    vfs.createDirectories(sub);
    vfs.createDirectories(sub); // no-op
    Files.writeString(sub.resolve("x"), "x");
    vfs.deleteRecursively(dir.resolve("d"));
    assertThat(vfs.exists(dir.resolve("d"))).isFalse();
    vfs.deleteRecursively(dir.resolve("d")); // no-op
  }

  @Test
  void listIsSortedByNameAndFailsOnAMissingDirectory() throws Exception {
    for (String n : new String[] {"c", "a", "b10", "b2"}) {
      Files.writeString(dir.resolve(n), n);
    }
    assertThat(vfs.list(dir))
        .extracting(p -> p.getFileName().toString())
        .containsExactly("a", "b10", "b2", "c");
    assertThatThrownBy(() -> vfs.list(dir.resolve("missing")))
        .isInstanceOf(NoSuchFileException.class);
  }

  /**
   * A drop deletes a fork's directory while retention may delete its expired manifests: files that
   * vanish during the walk are not an error (CompactionRaceTest once failed a drop with
   * NoSuchFileException from the walk).
   */
  @Test
  void deleteRecursivelyToleratesFilesDeletedConcurrently() throws Exception {
    for (int round = 0; round < 30; round++) {
      Path root = dir.resolve("fork" + round);
      java.util.List<Path> files = new java.util.ArrayList<>();
      for (int d = 0; d < 4; d++) {
        Path sub = Files.createDirectories(root.resolve("d" + d));
        for (int f = 0; f < 50; f++) {
          files.add(Files.writeString(sub.resolve("f" + f), "x"));
        }
      }
      java.util.Collections.shuffle(files, new java.util.Random(round));
      java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
      Thread other = new Thread(() -> {
        try {
          go.await();
          for (Path p : files) {
            Files.deleteIfExists(p);
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      other.start();
      go.countDown();
      vfs.deleteRecursively(root);
      other.join(10_000);
      assertThat(root).doesNotExist();
    }
  }
}
