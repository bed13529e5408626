package dev.strata.wal;

import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.ForwardingWritableFile;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Models {@code kill -9} of the process that owns a WAL: after {@link #kill()} returns, no call the
 * old process makes through this Vfs (or a handle it opened through it) reaches the disk, and no call
 * is still in flight. A crash test kills, then crashes the {@link dev.strata.vfs.FaultInjectingVfs}
 * underneath, then reopens on that one: the old writer's threads can no longer touch the "rebooted"
 * directory.
 */
final class KillableVfs extends ForwardingVfs {
  private final ReentrantReadWriteLock gate = new ReentrantReadWriteLock();
  private volatile boolean killed;

  KillableVfs(Vfs delegate) {
    super(delegate);
  }

  /** Waits for calls in flight, then makes every later call fail. */
  void kill() {
    gate.writeLock().lock();
    try {
      killed = true;
    } finally {
      gate.writeLock().unlock();
    }
  }

  private interface Call<T> {
    T run() throws IOException;
  }

  private <T> T call(Call<T> c) throws IOException {
    gate.readLock().lock();
    try {
      if (killed) {
        throw new IOException("process killed");
      }
      return c.run();
    } finally {
      gate.readLock().unlock();
    }
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    return call(() -> new Handle(delegate().create(path)));
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    return call(() -> new Handle(delegate().openForAppend(path)));
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    return call(() -> delegate().openForRead(path));
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    return call(() -> delegate().readAllBytes(path));
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    call(
        () -> {
          delegate().truncate(path, sizeBytes);
          return null;
        });
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    call(
        () -> {
          delegate().rename(source, target);
          return null;
        });
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    return call(() -> delegate().deleteIfExists(path));
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    call(
        () -> {
          delegate().deleteRecursively(dir);
          return null;
        });
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    call(
        () -> {
          delegate().syncDirectory(dir);
          return null;
        });
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    call(
        () -> {
          delegate().createDirectories(dir);
          return null;
        });
  }

  @Override
  public List<Path> list(Path dir) throws IOException {
    return call(() -> delegate().list(dir));
  }

  @Override
  public long size(Path path) throws IOException {
    return call(() -> delegate().size(path));
  }

  private final class Handle extends ForwardingWritableFile {
    Handle(WritableFile inner) {
      super(inner);
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      call(
          () -> {
            delegate().write(src);
            return null;
          });
    }

    @Override
    public void sync() throws IOException {
      call(
          () -> {
            delegate().sync();
            return null;
          });
    }
  }
}
