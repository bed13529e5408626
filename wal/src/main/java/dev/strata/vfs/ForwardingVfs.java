package dev.strata.vfs;

import java.io.IOException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.List;

/**
 * A {@link Vfs} that forwards every call to a delegate {@link Vfs}: the base class for wrappers that
 * add behaviour (fault injection, recording, slow syncs, ...) to a few operations, after Lucene's
 * {@code FilterDirectory}. Override what you change; every method you leave alone passes straight
 * through, including the {@link WritableFile}s the delegate returns (wrap them in a {@link
 * ForwardingWritableFile} to change those too).
 *
 * <p>Thread-safety is that of the delegate: this class adds no state and no locking of its own.
 */
public abstract class ForwardingVfs implements Vfs {
  private final Vfs delegate;

  /** Wraps {@code delegate}, to which every call not overridden is forwarded. */
  protected ForwardingVfs(Vfs delegate) {
    this.delegate = delegate;
  }

  /** The wrapped {@link Vfs}. */
  protected Vfs delegate() {
    return delegate;
  }

  /** Forwards to {@code delegate().create(path)}. */
  @Override
  public WritableFile create(Path path) throws IOException {
    return delegate.create(path);
  }

  /** Forwards to {@code delegate().openForAppend(path)}. */
  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    return delegate.openForAppend(path);
  }

  /** Forwards to {@code delegate().openForRead(path)}. */
  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    return delegate.openForRead(path);
  }

  /** Forwards to {@code delegate().readAllBytes(path)}. */
  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    return delegate.readAllBytes(path);
  }

  /** Forwards to {@code delegate().truncate(path, sizeBytes)}. */
  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    delegate.truncate(path, sizeBytes);
  }

  /** Forwards to {@code delegate().rename(source, target)}. */
  @Override
  public void rename(Path source, Path target) throws IOException {
    delegate.rename(source, target);
  }

  /** Forwards to {@code delegate().deleteIfExists(path)}. */
  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    return delegate.deleteIfExists(path);
  }

  /** Forwards to {@code delegate().deleteRecursively(dir)}. */
  @Override
  public void deleteRecursively(Path dir) throws IOException {
    delegate.deleteRecursively(dir);
  }

  /** Forwards to {@code delegate().syncDirectory(dir)}. */
  @Override
  public void syncDirectory(Path dir) throws IOException {
    delegate.syncDirectory(dir);
  }

  /** Forwards to {@code delegate().createDirectories(dir)}. */
  @Override
  public void createDirectories(Path dir) throws IOException {
    delegate.createDirectories(dir);
  }

  /** Forwards to {@code delegate().createDirectory(dir)}. */
  @Override
  public void createDirectory(Path dir) throws IOException {
    delegate.createDirectory(dir);
  }

  /** Forwards to {@code delegate().list(dir)}. */
  @Override
  public List<Path> list(Path dir) throws IOException {
    return delegate.list(dir);
  }

  /** Forwards to {@code delegate().exists(path)}. */
  @Override
  public boolean exists(Path path) {
    return delegate.exists(path);
  }

  /** Forwards to {@code delegate().size(path)}. */
  @Override
  public long size(Path path) throws IOException {
    return delegate.size(path);
  }
}
