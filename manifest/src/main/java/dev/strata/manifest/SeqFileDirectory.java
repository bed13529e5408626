package dev.strata.manifest;

import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A directory of immutable files named by a zero-padded number ({@code 00000000000000000042.manifest}),
 * each written atomically and durably: temp file, fsync, rename to the final name, fsync of the
 * directory. The newest file is the one with the highest number; there is no pointer file. Shared by
 * {@link ManifestStore} (one file per seq) and {@link ForkCatalog} (one file per version).
 *
 * <p>Names:
 *
 * <pre>
 * final := 20 decimal digits + suffix                 00000000000000000042.manifest
 * temp  := final + ".tmp-" + 16 lowercase hex digits  00000000000000000042.manifest.tmp-9f0c...
 * aside := final + ".corrupt-" + epoch ms [+ "-" n]   00000000000000000042.manifest.corrupt-1763...
 * </pre>
 *
 * <p>Thread-safe: it has no mutable state; callers coordinate who writes which number.
 */
final class SeqFileDirectory {
  private static final Logger LOG = LoggerFactory.getLogger(SeqFileDirectory.class);

  static final int SEQ_DIGITS = 20;

  private final Vfs vfs;
  private final Path dir;
  private final String suffix;
  private final Pattern finalName;
  private final Pattern tempName;

  /** {@code suffix} includes the dot, e.g. {@code ".manifest"}. */
  SeqFileDirectory(Vfs vfs, Path dir, String suffix) {
    this.vfs = vfs;
    this.dir = dir;
    this.suffix = suffix;
    String quoted = Pattern.quote(suffix);
    this.finalName = Pattern.compile("\\d{" + SEQ_DIGITS + "}" + quoted);
    this.tempName = Pattern.compile("\\d{" + SEQ_DIGITS + "}" + quoted + "\\.tmp-[0-9a-f]{16}");
  }

  Path dir() {
    return dir;
  }

  Vfs vfs() {
    return vfs;
  }

  /** The final file name of {@code seq} (0 &lt;= seq). */
  String fileName(long seq) {
    if (seq < 0) {
      throw new IllegalArgumentException("seq must be in [0, 2^63): " + Long.toUnsignedString(seq));
    }
    return String.format("%0" + SEQ_DIGITS + "d%s", seq, suffix);
  }

  /** The final path of {@code seq}. */
  Path path(long seq) {
    return dir.resolve(fileName(seq));
  }

  /** What a directory listing holds, classified by name. */
  record Listing(List<Long> seqs, List<Path> temps, List<Path> others) {}

  /** Lists and classifies the directory; {@code seqs} ascending. Does not read any file. */
  Listing scan() throws IOException {
    List<Long> seqs = new ArrayList<>();
    List<Path> temps = new ArrayList<>();
    List<Path> others = new ArrayList<>();
    for (Path p : vfs.list(dir)) {
      String name = p.getFileName().toString();
      if (finalName.matcher(name).matches()) {
        long seq = parseSeq(name);
        if (seq >= 0) {
          seqs.add(seq);
          continue;
        }
      } else if (tempName.matcher(name).matches()) {
        temps.add(p);
        continue;
      }
      others.add(p);
    }
    // Zero padding makes name order numeric order; sort anyway so that never matters.
    seqs.sort(Long::compare);
    return new Listing(List.copyOf(seqs), List.copyOf(temps), List.copyOf(others));
  }

  /** The numbers of the final files, ascending. */
  List<Long> seqs() throws IOException {
    return scan().seqs();
  }

  /** -1 if the digits do not fit in a signed long (never written by us). */
  private static long parseSeq(String name) {
    try {
      return Long.parseLong(name.substring(0, SEQ_DIGITS));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /**
   * Step 1 of a publish: writes {@code bytes} to a new temp file for {@code seq}, fsyncs and closes
   * it. On failure the temp file is deleted (best effort: {@link #scan()} finds leftovers, and the
   * stores' open deletes them) and the exception is rethrown; nothing else changed.
   *
   * @return the temp file, ready for {@link #commit}
   */
  Path writeTemp(long seq, byte[] bytes) throws IOException {
    Path temp = dir.resolve(fileName(seq) + ".tmp-" + randomHex16());
    WritableFile file = vfs.create(temp);
    boolean done = false;
    try {
      file.write(ByteBuffer.wrap(bytes));
      // fsyncgate: if this throws, the file is abandoned, never synced again.
      file.sync();
      file.close();
      done = true;
    } finally {
      if (!done) {
        closeQuietly(file);
        deleteQuietly(temp);
      }
    }
    return temp;
  }

  /**
   * Step 2 of a publish: atomically renames {@code temp} to the final name of {@code seq}
   * (replacing a file of that name, which callers rule out) and fsyncs the directory, after which
   * the file survives a crash. If this throws, whether the rename happened, and whether it is
   * durable, is unknown.
   */
  void commit(Path temp, long seq) throws IOException {
    vfs.rename(temp, path(seq));
    vfs.syncDirectory(dir);
  }

  /** Renames the final file of {@code seq} to a fresh {@code .corrupt-*} name; no directory fsync. */
  Path moveAside(long seq) throws IOException {
    String base = fileName(seq) + ".corrupt-" + System.currentTimeMillis();
    Path target = dir.resolve(base);
    for (int n = 1; vfs.exists(target); n++) {
      target = dir.resolve(base + "-" + n);
    }
    vfs.rename(path(seq), target);
    return target;
  }

  /** Deletes the final file of {@code seq}; no directory fsync. @return true if it existed */
  boolean delete(long seq) throws IOException {
    return vfs.deleteIfExists(path(seq));
  }

  void syncDirectory() throws IOException {
    vfs.syncDirectory(dir);
  }

  /** Deletes {@code p}, logging instead of throwing an {@link IOException}. */
  void deleteQuietly(Path p) {
    try {
      vfs.deleteIfExists(p);
    } catch (IOException e) {
      LOG.warn("could not delete {} (it is deleted again at the next open): {}", p, e.toString());
    }
  }

  private static void closeQuietly(WritableFile file) {
    try {
      file.close();
    } catch (IOException e) {
      LOG.debug("close of abandoned {} failed: {}", file.path(), e.toString());
    }
  }

  private static String randomHex16() {
    return HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
  }
}
