package dev.strata.engine.segment;

import dev.strata.engine.model.DocumentVersion;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.NoSuchElementException;

/** Adapts a cursor over one collection's keys to decoded entries. */
final class EntryIterator implements CloseableIterator<SegmentEntry> {
  private final long segmentId;
  private final String collection;
  private final RangeCursor cursor;
  private SegmentEntry next;
  private boolean done;

  EntryIterator(long segmentId, String collection, RangeCursor cursor) {
    this.segmentId = segmentId;
    this.collection = collection;
    this.cursor = cursor;
  }

  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (done) {
      return false;
    }
    try {
      if (!cursor.next()) {
        done = true;
        cursor.close();
        return false;
      }
      byte[] key = cursor.key();
      int sep = SegmentFormat.separatorIndex(key);
      if (sep < 0) {
        throw new SegmentCorruptionException(segmentId, "key without separator");
      }
      String id = new String(key, sep + 1, key.length - sep - 1, StandardCharsets.UTF_8);
      DocumentVersion v = SegmentFormat.decodeValue(segmentId, id, cursor.value());
      next = new SegmentEntry(collection, id, v);
      return true;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public SegmentEntry next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    SegmentEntry e = next;
    next = null;
    return e;
  }

  @Override
  public void close() {
    done = true;
    cursor.close();
  }
}
