package dev.strata.engine.read;

import dev.strata.engine.segment.SegmentEntry;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;

/**
 * Merges sorted sources of one collection — L0 buffers and segments, given newest first — into one
 * stream of live documents in id order: for each id the newest source's version wins, and a
 * tombstone hides the id (the usual LSM merging iterator, as in LevelDB's {@code MergingIterator}).
 *
 * <p>Ids are ordered by Unicode code point, which equals the UTF-8 byte order of segment keys. Not
 * thread-safe; one reader drives it.
 */
public final class MergingScan implements Iterator<SegmentEntry> {
  private record Head(SegmentEntry entry, int priority, Iterator<SegmentEntry> source) {}

  private final PriorityQueue<Head> heads =
      new PriorityQueue<>(
          (a, b) -> {
            int c = compareIds(a.entry.id(), b.entry.id());
            return c != 0 ? c : Integer.compare(a.priority, b.priority);
          });
  private SegmentEntry next;

  /** @param newestFirst sorted iterators; index 0 is the newest source */
  public MergingScan(List<? extends Iterator<SegmentEntry>> newestFirst) {
    for (int i = 0; i < newestFirst.size(); i++) {
      Iterator<SegmentEntry> it = newestFirst.get(i);
      if (it.hasNext()) {
        heads.add(new Head(it.next(), i, it));
      }
    }
    next = advance();
  }

  private SegmentEntry advance() {
    while (!heads.isEmpty()) {
      Head winner = heads.poll();
      String id = winner.entry.id();
      refill(winner);
      while (!heads.isEmpty() && heads.peek().entry.id().equals(id)) {
        refill(heads.poll());
      }
      if (!winner.entry.version().isTombstone()) {
        return winner.entry;
      }
    }
    return null;
  }

  private void refill(Head h) {
    if (h.source.hasNext()) {
      heads.add(new Head(h.source.next(), h.priority, h.source));
    }
  }

  @Override
  public boolean hasNext() {
    return next != null;
  }

  @Override
  public SegmentEntry next() {
    if (next == null) {
      throw new NoSuchElementException();
    }
    SegmentEntry r = next;
    next = advance();
    return r;
  }

  /** Compares by Unicode code point (= UTF-8 byte order). */
  public static int compareIds(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  /** Drains up to {@code limit} entries. */
  public List<SegmentEntry> take(int limit) {
    List<SegmentEntry> out = new ArrayList<>();
    while (out.size() < limit && hasNext()) {
      out.add(next());
    }
    return out;
  }
}
