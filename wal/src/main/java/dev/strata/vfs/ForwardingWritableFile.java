package dev.strata.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A {@link WritableFile} that forwards every call to a delegate {@link WritableFile}: the base class
 * for the file handles a {@link ForwardingVfs} returns when it changes what happens on a write or a
 * sync, after Lucene's {@code FilterDirectory}. Override what you change; every method you leave
 * alone passes straight through.
 *
 * <p>Thread-safety is that of the delegate (a {@link WritableFile} is not thread-safe): this class
 * adds no state and no locking of its own.
 */
public abstract class ForwardingWritableFile implements WritableFile {
  private final WritableFile delegate;

  /** Wraps {@code delegate}, to which every call not overridden is forwarded. */
  protected ForwardingWritableFile(WritableFile delegate) {
    this.delegate = delegate;
  }

  /** The wrapped {@link WritableFile}. */
  protected WritableFile delegate() {
    return delegate;
  }

  /** Forwards to {@code delegate().path()}. */
  @Override
  public Path path() {
    return delegate.path();
  }

  /** Forwards to {@code delegate().write(src)}. */
  @Override
  public void write(ByteBuffer src) throws IOException {
    delegate.write(src);
  }

  /** Forwards to {@code delegate().sync()}. */
  @Override
  public void sync() throws IOException {
    delegate.sync();
  }

  /** Forwards to {@code delegate().size()}. */
  @Override
  public long size() {
    return delegate.size();
  }

  /** Forwards to {@code delegate().close()}. */
  @Override
  public void close() throws IOException {
    delegate.close();
  }
}
