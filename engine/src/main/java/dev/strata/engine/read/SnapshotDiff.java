package dev.strata.engine.read;

import dev.strata.engine.segment.CloseableIterator;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.CollectionDef;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The keys added, changed and deleted between two published snapshots (of one fork, or of a fork
 * and its base): a merge of the two snapshots' live documents, collection by collection, in id
 * order. Both snapshots are read as they are — they never change — so the result is exact.
 *
 * <p>Cost is linear in the documents of both snapshots. Stateless; thread-safe.
 */
public final class SnapshotDiff {
  private SnapshotDiff() {}

  /** How a key differs. */
  public enum Change {
    ADDED,
    CHANGED,
    DELETED
  }

  /**
   * One differing key.
   *
   * @param newVersion the version in {@code to} (null for DELETED)
   * @param oldVersion the version in {@code from} (null for ADDED)
   */
  public record Entry(String collection, String id, Change change, SegmentEntry newVersion, SegmentEntry oldVersion) {}

  /** Receives entries; returns false to stop early (e.g. the client went away). */
  @FunctionalInterface
  public interface Sink {
    boolean accept(Entry e);
  }

  /**
   * Streams the differences from {@code from} to {@code to} into {@code sink}, collections in name
   * order, ids in code-point order. The caller holds references to both snapshots.
   *
   * @return the number of entries delivered
   */
  public static long diff(PublishedSnapshot from, PublishedSnapshot to, SegmentStore store, Sink sink) {
    // Every segment of both is scanned: pinned local for the whole diff (remote ones fetched).
    try (SegmentPins a = from.pinAll();
        SegmentPins b = to.pinAll()) {
      return diffPinned(from, to, store, sink);
    }
  }

  private static long diffPinned(PublishedSnapshot from, PublishedSnapshot to, SegmentStore store, Sink sink) {
    TreeSet<String> collections = new TreeSet<>();
    from.manifest().getCollectionsList().stream().map(CollectionDef::getName).forEach(collections::add);
    to.manifest().getCollectionsList().stream().map(CollectionDef::getName).forEach(collections::add);
    long n = 0;
    for (String c : collections) {
      List<CloseableIterator<SegmentEntry>> open = new ArrayList<>();
      try {
        Iterator<SegmentEntry> a = live(from, c, store, open);
        Iterator<SegmentEntry> b = live(to, c, store, open);
        SegmentEntry x = next(a);
        SegmentEntry y = next(b);
        while (x != null || y != null) {
          int cmp = x == null ? 1 : y == null ? -1 : MergingScan.compareIds(x.id(), y.id());
          Entry e;
          if (cmp < 0) {
            e = new Entry(c, x.id(), Change.DELETED, null, x);
            x = next(a);
          } else if (cmp > 0) {
            e = new Entry(c, y.id(), Change.ADDED, y, null);
            y = next(b);
          } else {
            // Bodies are canonical: equal bytes are equal fields, so no decoding.
            boolean same = Objects.equals(x.version().stored(), y.version().stored());
            e = same ? null : new Entry(c, y.id(), Change.CHANGED, y, x);
            x = next(a);
            y = next(b);
          }
          if (e != null) {
            n++;
            if (!sink.accept(e)) {
              return n;
            }
          }
        }
      } finally {
        for (CloseableIterator<SegmentEntry> it : open) {
          it.close();
        }
      }
    }
    return n;
  }

  private static Iterator<SegmentEntry> live(
      PublishedSnapshot s, String collection, SegmentStore store, List<CloseableIterator<SegmentEntry>> open) {
    List<Iterator<SegmentEntry>> sources = new ArrayList<>();
    for (Segment seg : s.segments()) {
      CloseableIterator<SegmentEntry> it = store.scan(seg.segmentId(), collection, "");
      open.add(it);
      sources.add(it);
    }
    return new MergingScan(sources);
  }

  private static SegmentEntry next(Iterator<SegmentEntry> it) {
    return it.hasNext() ? it.next() : null;
  }
}
