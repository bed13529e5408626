package dev.strata.engine;

import dev.strata.vfs.ForwardingVfs;
import dev.strata.vfs.ForwardingWritableFile;
import dev.strata.vfs.LocalVfs;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A pass-through {@link Vfs} under a {@link dev.strata.vfs.FaultInjectingVfs} that writes down each
 * call the fault injector counts, so a sweep can say what I/O call ordinal K was ("SYNC_DIR
 * .../manifests"). Only for messages: the injector's own bookkeeping calls (rename backups) are
 * logged too, so labels are approximate when a rename replaces a file. Thread-safe.
 */
final class CrashOpLog extends ForwardingVfs {
  private final Path root;
  private final List<String> ops = new ArrayList<>();

  CrashOpLog(Path root) {
    super(LocalVfs.INSTANCE);
    this.root = root;
  }

  synchronized List<String> ops() {
    return List.copyOf(ops);
  }

  /** The label of call {@code ordinal}, or "?" if there was none. */
  synchronized String label(long ordinal) {
    return ordinal < ops.size() ? ops.get((int) ordinal) : "?";
  }

  private synchronized void log(String op, Path p) {
    String s = p.toString();
    String r = root.toString();
    ops.add(op + " " + (s.startsWith(r) ? s.substring(r.length()) : s));
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    log("CREATE", path);
    return wrap(delegate().create(path));
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    log("OPEN_APPEND", path);
    return wrap(delegate().openForAppend(path));
  }

  private WritableFile wrap(WritableFile inner) {
    return new ForwardingWritableFile(inner) {
      @Override
      public void write(ByteBuffer src) throws IOException {
        log("WRITE", delegate().path());
        super.write(src);
      }

      @Override
      public void sync() throws IOException {
        log("SYNC", delegate().path());
        super.sync();
      }
    };
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    log("READ", path);
    return delegate().openForRead(path);
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    log("READ", path);
    return delegate().readAllBytes(path);
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    log("TRUNCATE", path);
    delegate().truncate(path, sizeBytes);
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    log("RENAME", target);
    delegate().rename(source, target);
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    log("DELETE", path);
    return delegate().deleteIfExists(path);
  }

  @Override
  public void deleteRecursively(Path dir) throws IOException {
    log("DELETE", dir);
    delegate().deleteRecursively(dir);
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    log("SYNC_DIR", dir);
    delegate().syncDirectory(dir);
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    log("CREATE_DIRS", dir);
    delegate().createDirectories(dir);
  }

  @Override
  public void createDirectory(Path dir) throws IOException {
    log("CREATE_DIR", dir);
    delegate().createDirectory(dir);
  }
}
