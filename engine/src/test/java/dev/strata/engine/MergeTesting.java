package dev.strata.engine;

import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.manifest.proto.Manifest;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** Helpers shared by the merge and change-feed tests. Stateless. */
final class MergeTesting {
  private MergeTesting() {}

  /** Every live document of a fork at its head (L0 included): "collection/id" → body. */
  static Map<String, String> state(Fork f) {
    Map<String, String> out = new TreeMap<>();
    for (var c : f.collections().all()) {
      for (SegmentEntry e : f.scan(c.name(), "", Integer.MAX_VALUE, null)) {
        out.put(c.name() + "/" + e.id(), text(e));
      }
    }
    return out;
  }

  /** The body of a document version (its "body" field; else all fields as text). */
  static String text(SegmentEntry e) {
    FieldValue v = e.version().document().fields().get("body");
    return v instanceof FieldValue.Str s ? s.value() : e.version().document().fields().toString();
  }

  /** Flushes and waits for the snapshot. */
  static Manifest flush(Fork f) throws Exception {
    return f.awaitTicket(f.flush(5_000)).get(30, TimeUnit.SECONDS);
  }

  /** Waits for a merge's ticket. */
  static Manifest await(Fork target, FlushTicket t) throws Exception {
    return target.awaitTicket(t).get(30, TimeUnit.SECONDS);
  }

  /** Merges {@code source} into {@code target}. */
  static MergeResult merge(StrataEngine e, String source, String target, MergeStrategy s) {
    return e.mergeFork(MergeSpec.of(source, target, s));
  }
}
