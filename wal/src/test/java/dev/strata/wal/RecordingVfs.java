package dev.strata.wal;

import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.ForwardingWritableFile;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Records every call that changes the disk, in order, as {@code "OP path"} (with {@code " failed"}
 * appended when it threw), and can run a hook before each file sync. Lets a test assert what a WAL
 * did after a failure: the fsyncgate rule says nothing at all.
 */
final class RecordingVfs extends ForwardingVfs {
  private final List<String> calls = new ArrayList<>();
  /** The thread that made each call, parallel to {@link #calls}. */
  private final List<String> threads = new ArrayList<>();
  private volatile Consumer<Path> beforeSync = p -> {};

  RecordingVfs(Vfs delegate) {
    super(delegate);
  }

  /** Runs {@code hook} (on the syncing thread) before every {@link WritableFile#sync()}. */
  void beforeSync(Consumer<Path> hook) {
    beforeSync = hook;
  }

  /** A copy of the calls so far. */
  synchronized List<String> calls() {
    return new ArrayList<>(calls);
  }

  /** Names of the threads that made the calls starting with {@code op + " "}, in order. */
  synchronized List<String> threadsOf(String op) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < calls.size(); i++) {
      if (calls.get(i).startsWith(op + " ")) {
        out.add(threads.get(i));
      }
    }
    return out;
  }

  synchronized int size() {
    return calls.size();
  }

  /** The calls made after the first {@code n}. */
  synchronized List<String> callsSince(int n) {
    return new ArrayList<>(calls.subList(n, calls.size()));
  }

  /** Successful and failed file syncs of {@code path}. */
  synchronized long syncs(Path path) {
    return calls.stream().filter(c -> c.startsWith("SYNC " + path)).count();
  }

  /** Every file sync, of any file. */
  synchronized long syncs() {
    return calls.stream().filter(c -> c.startsWith("SYNC ")).count();
  }

  private interface Call<T> {
    T run() throws IOException;
  }

  private <T> T record(String op, Object path, Call<T> c) throws IOException {
    try {
      T t = c.run();
      add(op + " " + path);
      return t;
    } catch (IOException | RuntimeException e) {
      add(op + " " + path + " failed");
      throw e;
    }
  }

  private synchronized void add(String s) {
    calls.add(s);
    threads.add(Thread.currentThread().getName());
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    return record("CREATE", path, () -> new Handle(delegate().create(path)));
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    return record("OPEN_APPEND", path, () -> new Handle(delegate().openForAppend(path)));
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    record(
        "TRUNCATE",
        path,
        () -> {
          delegate().truncate(path, sizeBytes);
          return null;
        });
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    record(
        "RENAME",
        source + " -> " + target,
        () -> {
          delegate().rename(source, target);
          return null;
        });
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    return record("DELETE", path, () -> delegate().deleteIfExists(path));
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    record(
        "DELETE",
        dir,
        () -> {
          delegate().deleteRecursively(dir);
          return null;
        });
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    record(
        "SYNC_DIR",
        dir,
        () -> {
          delegate().syncDirectory(dir);
          return null;
        });
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    record(
        "CREATE_DIRS",
        dir,
        () -> {
          delegate().createDirectories(dir);
          return null;
        });
  }

  private final class Handle extends ForwardingWritableFile {
    Handle(WritableFile inner) {
      super(inner);
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      record(
          "WRITE",
          delegate().path(),
          () -> {
            delegate().write(src);
            return null;
          });
    }

    @Override
    public void sync() throws IOException {
      beforeSync.accept(delegate().path());
      record(
          "SYNC",
          delegate().path(),
          () -> {
            delegate().sync();
            return null;
          });
    }
  }
}
