package dev.strata.manifest;

import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Simulates kill -9 of the process at the Nth I/O call: that call and every later one through this
 * wrapper throw {@link ProcessKilled} (an Error, so no cleanup code that handles IOExceptions runs).
 * The files stay as the calls before left them; a test then "restarts" by opening the delegate.
 */
final class ProcessDeathVfs implements Vfs {

  /** The process died; nothing more happens through this wrapper. */
  static final class ProcessKilled extends Error {
    private static final long serialVersionUID = 1L;

    ProcessKilled(String what) {
      super("process killed at " + what);
    }
  }

  private final Vfs delegate;
  private final AtomicLong count = new AtomicLong();
  private volatile long killAt = -1;
  private volatile boolean dead;

  /** A live process over {@code delegate}; {@link #killAt} arms it. */
  ProcessDeathVfs(Vfs delegate) {
    this.delegate = delegate;
  }

  /** Dies at the {@code n}th call (0-based) counted from now. */
  void killAt(long n) {
    killAt = count.get() + n;
  }

  boolean killed() {
    return dead;
  }

  long calls() {
    return count.get();
  }

  private void step(String what) {
    if (dead) {
      throw new ProcessKilled(what + " (already dead)");
    }
    if (count.getAndIncrement() == killAt) {
      dead = true;
      throw new ProcessKilled(what);
    }
  }

  private void checkAlive(String what) {
    if (dead) {
      throw new ProcessKilled(what + " (already dead)");
    }
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    step("create " + path);
    return wrap(delegate.create(path));
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    step("openForAppend " + path);
    return wrap(delegate.openForAppend(path));
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    step("openForRead " + path);
    return delegate.openForRead(path);
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    step("read " + path);
    return delegate.readAllBytes(path);
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    step("truncate " + path);
    delegate.truncate(path, sizeBytes);
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    step("rename " + source + " -> " + target);
    delegate.rename(source, target);
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    step("delete " + path);
    return delegate.deleteIfExists(path);
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    step("deleteRecursively " + dir);
    delegate.deleteRecursively(dir);
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    step("syncDirectory " + dir);
    delegate.syncDirectory(dir);
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    step("createDirectories " + dir);
    delegate.createDirectories(dir);
  }

  @Override
  public List<Path> list(Path dir) throws IOException {
    checkAlive("list " + dir);
    return delegate.list(dir);
  }

  @Override
  public boolean exists(Path path) {
    checkAlive("exists " + path);
    return delegate.exists(path);
  }

  @Override
  public long size(Path path) throws IOException {
    checkAlive("size " + path);
    return delegate.size(path);
  }

  private WritableFile wrap(WritableFile inner) {
    return new WritableFile() {
      @Override
      public Path path() {
        return inner.path();
      }

      @Override
      public void write(ByteBuffer src) throws IOException {
        step("write " + inner.path());
        inner.write(src);
      }

      @Override
      public void sync() throws IOException {
        step("sync " + inner.path());
        inner.sync();
      }

      @Override
      public long size() {
        return inner.size();
      }

      @Override
      public void close() throws IOException {
        checkAlive("close " + inner.path());
        inner.close();
      }
    };
  }
}
