package dev.strata.manifest;

import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.LockSupport;

/**
 * Makes every fsync (file and directory) take at least {@code syncNanos}, like a real disk (about
 * 300 µs here), so that concurrency tests on a fast temp file system still have races to lose.
 */
final class SlowSyncVfs implements Vfs {
  private final Vfs delegate;
  private final long syncNanos;

  SlowSyncVfs(Vfs delegate, long syncNanos) {
    this.delegate = delegate;
    this.syncNanos = syncNanos;
  }

  private void pause() {
    LockSupport.parkNanos(syncNanos);
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    WritableFile inner = delegate.create(path);
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
        pause();
        inner.sync();
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
    return delegate.openForAppend(path);
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    return delegate.openForRead(path);
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    return delegate.readAllBytes(path);
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    delegate.truncate(path, sizeBytes);
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    delegate.rename(source, target);
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    return delegate.deleteIfExists(path);
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    delegate.deleteRecursively(dir);
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    pause();
    delegate.syncDirectory(dir);
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    delegate.createDirectories(dir);
  }

  @Override
  public List<Path> list(Path dir) throws IOException {
    return delegate.list(dir);
  }

  @Override
  public boolean exists(Path path) {
    return delegate.exists(path);
  }

  @Override
  public long size(Path path) throws IOException {
    return delegate.size(path);
  }
}
