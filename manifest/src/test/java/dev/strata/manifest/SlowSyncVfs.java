package dev.strata.manifest;

import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.ForwardingWritableFile;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.locks.LockSupport;

/**
 * Makes every fsync (file and directory) take at least {@code syncNanos}, like a real disk (about
 * 300 µs here), so that concurrency tests on a fast temp file system still have races to lose.
 */
final class SlowSyncVfs extends ForwardingVfs {
  private final long syncNanos;

  SlowSyncVfs(Vfs delegate, long syncNanos) {
    super(delegate);
    this.syncNanos = syncNanos;
  }

  private void pause() {
    LockSupport.parkNanos(syncNanos);
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    WritableFile inner = delegate().create(path);
    return new ForwardingWritableFile(inner) {
      @Override
      public void sync() throws IOException {
        pause();
        super.sync();
      }
    };
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    pause();
    super.syncDirectory(dir);
  }
}
