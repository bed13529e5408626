package dev.strata.vfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** The production {@link Vfs}: the local file system through {@link FileChannel}. Thread-safe. */
public final class LocalVfs implements Vfs {

  /** The shared instance; it has no state. */
  public static final LocalVfs INSTANCE = new LocalVfs();

  private LocalVfs() {}

  @Override
  public WritableFile create(Path path) throws IOException {
    FileChannel ch =
        FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    return new ChannelFile(path, ch, 0);
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE);
    long size = ch.size();
    ch.position(size);
    return new ChannelFile(path, ch, size);
  }

  @Override
  public SeekableByteChannel openForRead(Path path) throws IOException {
    return FileChannel.open(path, StandardOpenOption.READ);
  }

  @Override
  public byte[] readAllBytes(Path path) throws IOException {
    return Files.readAllBytes(path);
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
      ch.truncate(sizeBytes);
      ch.force(true);
    }
  }

  @Override
  public void rename(Path source, Path target) throws IOException {
    Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public boolean deleteIfExists(Path path) throws IOException {
    return Files.deleteIfExists(path);
  }

  /**
   * Deletes {@code dir} and everything under it. A file or directory that vanishes during the walk
   * (another thread deleted it: retention expiring a manifest of a fork being dropped) is not an
   * error: the goal is that it is gone. Any other failure is thrown.
   */
  @Override
  public void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
              if (exc instanceof NoSuchFileException) {
                return FileVisitResult.CONTINUE;
              }
              throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
              if (exc != null && !(exc instanceof NoSuchFileException)) {
                throw exc;
              }
              Files.deleteIfExists(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (NoSuchFileException e) {
      if (!e.getFile().equals(dir.toString()) && Files.exists(dir)) {
        throw e;
      }
      // the whole directory went meanwhile
    }
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    // Opening a directory READ and forcing it is how the JDK exposes fsync(dirfd) on Linux.
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  @Override
  public void createDirectories(Path dir) throws IOException {
    Files.createDirectories(dir);
  }

  @Override
  public void createDirectory(Path dir) throws IOException {
    Files.createDirectory(dir);
  }

  @Override
  public List<Path> list(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new NoSuchFileException(dir.toString());
    }
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        out.add(p);
      }
    }
    out.sort(Comparator.comparing(p -> p.getFileName().toString()));
    return out;
  }

  @Override
  public boolean exists(Path path) {
    return Files.exists(path);
  }

  @Override
  public long size(Path path) throws IOException {
    return Files.size(path);
  }

  /** A {@link WritableFile} over a {@link FileChannel} positioned at its end. */
  private static final class ChannelFile implements WritableFile {
    private final Path path;
    private final FileChannel channel;
    private long size;

    ChannelFile(Path path, FileChannel channel, long size) {
      this.path = path;
      this.channel = channel;
      this.size = size;
    }

    @Override
    public Path path() {
      return path;
    }

    @Override
    public void write(ByteBuffer src) throws IOException {
      while (src.hasRemaining()) {
        size += channel.write(src);
      }
    }

    @Override
    public void sync() throws IOException {
      channel.force(false);
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
