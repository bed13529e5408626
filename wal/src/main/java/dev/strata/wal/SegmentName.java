package dev.strata.wal;

import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Segment file names: the LSN of the segment's first record, zero-padded to 20 digits (enough for
 * any positive long), then {@code .wal}, e.g. {@code 00000000000000000001.wal}. Name order is LSN
 * order, as with Kafka's segment files.
 */
final class SegmentName {
  private static final Logger log = LoggerFactory.getLogger(SegmentName.class);

  static final String SUFFIX = ".wal";
  static final int DIGITS = 20;

  /** A segment file and the LSN of its first record. */
  record Segment(long firstLsn, Path path) {}

  private SegmentName() {}

  static String fileName(long firstLsn) {
    return String.format("%0" + DIGITS + "d" + SUFFIX, firstLsn);
  }

  static Path path(Path dir, long firstLsn) {
    return dir.resolve(fileName(firstLsn));
  }

  /** The first LSN named by {@code file}, or -1 if it is not a segment name. */
  static long parse(Path file) {
    String n = file.getFileName().toString();
    if (n.length() != DIGITS + SUFFIX.length() || !n.endsWith(SUFFIX)) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < DIGITS; i++) {
      char c = n.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      if (v > (Long.MAX_VALUE - (c - '0')) / 10) {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v >= 1 ? v : -1;
  }

  /** The segments in {@code dir}, ascending by first LSN; other files are ignored (and logged). */
  static List<Segment> list(Vfs vfs, Path dir) throws IOException {
    List<Segment> out = new ArrayList<>();
    for (Path p : vfs.list(dir)) {
      long lsn = parse(p);
      if (lsn > 0) {
        out.add(new Segment(lsn, p));
      } else {
        log.warn("Ignoring {} in WAL directory {}: not a segment file name", p.getFileName(), dir);
      }
    }
    out.sort(Comparator.comparingLong(Segment::firstLsn));
    return out;
  }
}
