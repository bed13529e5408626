package dev.strata.vfs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.vfs.FaultInjectingVfs.Fault;
import dev.strata.vfs.FaultInjectingVfs.InjectedIOException;
import dev.strata.vfs.FaultInjectingVfs.Op;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash model, checked both ways as LevelDB's {@code fault_injection_test} does: what was made
 * durable survives, what was not is gone. And each fault does what it says.
 */
class FaultInjectingVfsTest {

  private final FaultInjectingVfs vfs = new FaultInjectingVfs();

  @TempDir Path dir;

  private static ByteBuffer utf8(String s) {
    return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String content(Path p) throws IOException {
    return Files.readString(p);
  }

  /** Creates {@code name} with {@code synced} fsynced, then {@code unsynced} written after. */
  private Path durableFile(String name, String synced, String unsynced) throws IOException {
    Path p = dir.resolve(name);
    try (WritableFile f = vfs.create(p)) {
      f.write(utf8(synced));
      f.sync();
      f.write(utf8(unsynced));
    }
    vfs.syncDirectory(dir);
    return p;
  }

  // --- Crash model ---------------------------------------------------------------------------

  @Test
  void crashKeepsSyncedBytesAndDropsUnsyncedOnes() throws Exception {
    Path p = durableFile("a", "synced|", "unsynced");
    assertThat(content(p)).isEqualTo("synced|unsynced"); // before the crash, reads see everything
    vfs.crash();
    assertThat(content(p)).isEqualTo("synced|");
  }

  @Test
  void crashKeepsAFullySyncedFileWhole() throws Exception {
    Path p = durableFile("a", "all of it", "");
    vfs.crash();
    assertThat(content(p)).isEqualTo("all of it");
  }

  @Test
  void crashDeletesAFileCreatedSinceTheLastDirectorySync() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      f.write(utf8("data"));
      f.sync(); // the bytes are durable, the name is not
    }
    vfs.crash();
    assertThat(Files.exists(p)).isFalse();
  }

  @Test
  void aDirectorySyncMakesTheNameDurable() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      vfs.syncDirectory(dir);
      f.write(utf8("never synced"));
    }
    vfs.crash();
    assertThat(Files.exists(p)).isTrue();
    assertThat(Files.size(p)).isZero();
  }

  @Test
  void handlesOpenedBeforeACrashFailAfterIt() throws Exception {
    Path p = dir.resolve("a");
    WritableFile f = vfs.create(p);
    vfs.syncDirectory(dir);
    vfs.crash();
    assertThatThrownBy(() -> f.write(utf8("x"))).hasMessageContaining("did not survive");
    assertThatThrownBy(f::sync).hasMessageContaining("did not survive");
    f.close();
    // The instance serves the "rebooted" process normally.
    try (WritableFile g = vfs.openForAppend(p)) {
      g.write(utf8("after"));
      g.sync();
    }
    vfs.crash();
    assertThat(content(p)).isEqualTo("after");
  }

  @Test
  void openForAppendTakesWhatIsOnDiskAsDurable() throws Exception {
    Path p = durableFile("a", "one|", "");
    vfs.crash();
    try (WritableFile f = vfs.openForAppend(p)) {
      f.write(utf8("two|"));
      f.sync();
      f.write(utf8("three"));
    }
    vfs.crash();
    assertThat(content(p)).isEqualTo("one|two|");
  }

  @Test
  void anUnsyncedRenameIsUndoneAndRestoresTheReplacedFile() throws Exception {
    Path current = durableFile("CURRENT", "old", "");
    Path tmp = durableFile("CURRENT.tmp", "new", "");
    vfs.rename(tmp, current);
    assertThat(content(current)).isEqualTo("new");
    vfs.crash();
    assertThat(content(current)).isEqualTo("old");
    assertThat(content(tmp)).isEqualTo("new");
    assertThat(vfs.list(dir)).extracting(p -> p.getFileName().toString())
        .containsExactly("CURRENT", "CURRENT.tmp"); // the backup stays hidden
  }

  @Test
  void aSyncedRenameSurvives() throws Exception {
    Path current = durableFile("CURRENT", "old", "");
    Path tmp = durableFile("CURRENT.tmp", "new", "");
    vfs.rename(tmp, current);
    vfs.syncDirectory(dir);
    vfs.crash();
    assertThat(content(current)).isEqualTo("new");
    assertThat(Files.exists(tmp)).isFalse();
    assertThat(Files.list(dir).count()).isEqualTo(1); // the backup was cleaned up
  }

  @Test
  void aChainOfUnsyncedRenamesReturnsToItsStart() throws Exception {
    Path a = durableFile("a", "A", "");
    vfs.rename(a, dir.resolve("b"));
    vfs.rename(dir.resolve("b"), dir.resolve("c"));
    vfs.crash();
    assertThat(content(a)).isEqualTo("A");
    assertThat(Files.exists(dir.resolve("b"))).isFalse();
    assertThat(Files.exists(dir.resolve("c"))).isFalse();
  }

  @Test
  void anUndoneRenameBringsTheReplacedFileBackCutToItsOwnLastSync() throws Exception {
    // Fixed: the backup copied every byte of the replaced file, synced or not, and the crash
    // restored all of them.
    Path current = durableFile("CURRENT", "synced", "+unsynced");
    Path tmp = durableFile("CURRENT.tmp", "new", "");
    vfs.rename(tmp, current);
    vfs.crash();
    assertThat(content(current)).isEqualTo("synced");
  }

  @Test
  void truncateMakesWhatRemainsDurable() throws Exception {
    // Fixed: Vfs.truncate syncs the file it cuts (LocalVfs forces it), so the kept prefix is
    // durable, including bytes written but not yet synced before the cut.
    Path p = durableFile("a", "0123", "456789");
    vfs.truncate(p, 7);
    vfs.crash();
    assertThat(content(p)).isEqualTo("0123456");
  }

  @Test
  void aSyncRunningWhenTheCrashStartsEitherFailsOrIsKept() throws Exception {
    // Fixed: a crash during a sync() used to cut the file and then let the sync report success.
    // Now a crash waits for calls in flight, so "sync returned" implies "bytes survive".
    CountDownLatch inSync = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    FaultInjectingVfs slow = new FaultInjectingVfs(new SlowSyncVfs(inSync, release));
    Path p = dir.resolve("a");
    WritableFile f = slow.create(p);
    slow.syncDirectory(dir);
    f.write(utf8("payload"));
    AtomicReference<Throwable> syncResult = new AtomicReference<>();
    Thread syncer =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    f.sync();
                    syncResult.set(null);
                  } catch (Throwable t) {
                    syncResult.set(t);
                  }
                });
    assertThat(inSync.await(10, TimeUnit.SECONDS)).isTrue();
    Thread crasher =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    slow.crash();
                  } catch (IOException e) {
                    throw new RuntimeException(e);
                  }
                });
    crasher.join(200); // without the fix, the crash finishes here, under the running sync
    release.countDown();
    syncer.join(10_000);
    crasher.join(10_000);
    if (syncResult.get() == null) {
      assertThat(content(p)).as("sync() returned normally, so its bytes must survive").isEqualTo("payload");
    }
  }

  // --- Faults --------------------------------------------------------------------------------

  @Test
  void ioErrorOnWriteWritesNothing() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      vfs.failNext(Op.WRITE, Fault.IO_ERROR);
      assertThatThrownBy(() -> f.write(utf8("abcd")))
          .isInstanceOf(InjectedIOException.class)
          .hasMessageContaining("injected I/O error")
          .hasMessageContaining("WRITE");
      assertThat(f.size()).isZero();
      f.write(utf8("next")); // one fault, one call
    }
    assertThat(content(p)).isEqualTo("next");
  }

  @Test
  void shortWriteWritesHalfThenFails() throws Exception {
    Path p = dir.resolve("a");
    try (WritableFile f = vfs.create(p)) {
      vfs.failNext(Op.WRITE, Fault.SHORT_WRITE);
      ByteBuffer b = utf8("abcdefgh");
      assertThatThrownBy(() -> f.write(b)).isInstanceOf(InjectedIOException.class);
      assertThat(b.position()).isEqualTo(4);
      assertThat(f.size()).isEqualTo(4);
    }
    assertThat(content(p)).isEqualTo("abcd");
  }

  @Test
  void enospcSaysSo() throws Exception {
    vfs.failNext(Op.CREATE, Fault.ENOSPC);
    assertThatThrownBy(() -> vfs.create(dir.resolve("a")))
        .isInstanceOf(InjectedIOException.class)
        .hasMessageContaining("No space left on device");
    assertThat(Files.exists(dir.resolve("a"))).isFalse();
  }

  @Test
  void aFailedSyncMakesNothingDurable() throws Exception {
    Path p = durableFile("a", "one|", "");
    try (WritableFile f = vfs.openForAppend(p)) {
      f.write(utf8("two"));
      vfs.failNext(Op.SYNC, Fault.IO_ERROR);
      assertThatThrownBy(f::sync).isInstanceOf(InjectedIOException.class);
    }
    vfs.crash();
    assertThat(content(p)).isEqualTo("one|");
  }

  @Test
  void failOperationFailsExactlyThatOrdinal() throws Exception {
    long start = vfs.operationCount();
    vfs.failOperation(start + 2, Fault.IO_ERROR);
    Path p = dir.resolve("a");
    WritableFile f = vfs.create(p); // start
    f.write(utf8("x")); // start + 1
    assertThatThrownBy(() -> f.write(utf8("y"))).isInstanceOf(InjectedIOException.class);
    f.write(utf8("z")); // start + 3
    assertThat(vfs.operationCount()).isEqualTo(start + 4);
    f.close();
    assertThat(content(p)).isEqualTo("xz");
  }

  @Test
  void everyKindOfCallCanBeFailed() throws Exception {
    Path p = durableFile("a", "x", "");
    Path q = dir.resolve("q");
    List<Op> ops =
        List.of(
            Op.CREATE, Op.OPEN_APPEND, Op.TRUNCATE, Op.RENAME, Op.DELETE, Op.SYNC_DIR,
            Op.CREATE_DIRS, Op.READ);
    for (Op op : ops) {
      vfs.failNext(op, Fault.IO_ERROR);
      assertThatThrownBy(
              () -> {
                switch (op) {
                  case CREATE -> vfs.create(q);
                  case OPEN_APPEND -> vfs.openForAppend(p);
                  case TRUNCATE -> vfs.truncate(p, 0);
                  case RENAME -> vfs.rename(p, q);
                  case DELETE -> vfs.deleteIfExists(p);
                  case SYNC_DIR -> vfs.syncDirectory(dir);
                  case CREATE_DIRS -> vfs.createDirectories(dir.resolve("sub"));
                  case READ -> vfs.readAllBytes(p);
                  default -> throw new AssertionError(op);
                }
              })
          .as(op.toString())
          .isInstanceOf(InjectedIOException.class)
          .hasMessageContaining(op.toString());
    }
    assertThat(content(p)).isEqualTo("x"); // nothing happened
    assertThat(Files.exists(q)).isFalse();
  }

  @Test
  void clearFaultsRemovesPendingOnes() throws Exception {
    vfs.failNext(Op.CREATE, Fault.IO_ERROR);
    vfs.failOperation(vfs.operationCount() + 1, Fault.IO_ERROR);
    vfs.clearFaults();
    try (WritableFile f = vfs.create(dir.resolve("a"))) {
      f.write(utf8("ok"));
    }
  }

  /**
   * A delegate whose sync blocks, after the real fsync, until released: lets a crash start while a
   * sync is finishing.
   */
  private static final class SlowSyncVfs implements Vfs {
    private final CountDownLatch inSync;
    private final CountDownLatch release;

    SlowSyncVfs(CountDownLatch inSync, CountDownLatch release) {
      this.inSync = inSync;
      this.release = release;
    }

    @Override
    public WritableFile create(Path path) throws IOException {
      WritableFile inner = LocalVfs.INSTANCE.create(path);
      return new WritableFile() {
        @Override
        public Path path() {
          return inner.path();
        }

        @Override
        public void write(ByteBuffer src) throws IOException {
          inner.write(src);
        }

        @Override
        public void sync() throws IOException {
          inner.sync();
          // The fsync is done; the caller has not returned yet. A crash now must not undo it.
          inSync.countDown();
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }

        @Override
        public long size() {
          return inner.size();
        }

        @Override
        public void close() throws IOException {
          inner.close();
        }
      };
    }

    @Override
    public WritableFile openForAppend(Path path) throws IOException {
      return LocalVfs.INSTANCE.openForAppend(path);
    }

    @Override
    public SeekableByteChannel openForRead(Path path) throws IOException {
      return LocalVfs.INSTANCE.openForRead(path);
    }

    @Override
    public byte[] readAllBytes(Path path) throws IOException {
      return LocalVfs.INSTANCE.readAllBytes(path);
    }

    @Override
    public void truncate(Path path, long sizeBytes) throws IOException {
      LocalVfs.INSTANCE.truncate(path, sizeBytes);
    }

    @Override
    public void rename(Path source, Path target) throws IOException {
      LocalVfs.INSTANCE.rename(source, target);
    }

    @Override
    public boolean deleteIfExists(Path path) throws IOException {
      return LocalVfs.INSTANCE.deleteIfExists(path);
    }

    @Override
    public void deleteRecursively(Path d) throws IOException {
      LocalVfs.INSTANCE.deleteRecursively(d);
    }

    @Override
    public void syncDirectory(Path d) throws IOException {
      LocalVfs.INSTANCE.syncDirectory(d);
    }

    @Override
    public void createDirectories(Path d) throws IOException {
      LocalVfs.INSTANCE.createDirectories(d);
    }

    @Override
    public List<Path> list(Path d) throws IOException {
      return LocalVfs.INSTANCE.list(d);
    }

    @Override
    public boolean exists(Path path) {
      return LocalVfs.INSTANCE.exists(path);
    }

    @Override
    public long size(Path path) throws IOException {
      return LocalVfs.INSTANCE.size(path);
    }
  }
}
