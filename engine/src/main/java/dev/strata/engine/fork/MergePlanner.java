package dev.strata.engine.fork;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.MergingScan;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.CollectionDef;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The three-way merge's decision, a pure function of its inputs: the changes from the merge base
 * to the source snapshot ({@link SnapshotDiff}), each compared with the target's current version of
 * the same key.
 *
 * <p>For a key the source changed (base version {@code b}, source version {@code s}, a missing
 * document or a tombstone being "absent"), with the target's newest version {@code t}:
 *
 * <table>
 *   <caption>Rules</caption>
 *   <tr><th>target</th><th>decision</th></tr>
 *   <tr><td>{@code t == b} (unchanged since the base)</td><td>apply {@code s} (put or delete)</td></tr>
 *   <tr><td>{@code t == s} (the same change on both sides)</td><td>nothing</td></tr>
 *   <tr><td>otherwise</td><td>a conflict: FAIL reports it, SOURCE_WINS applies {@code s},
 *       TARGET_WINS keeps {@code t}</td></tr>
 * </table>
 *
 * Equality is of the documents' fields, so two sides that wrote the same document, or both deleted
 * it, do not conflict (lakeFS and Dolt decide the same way). Keys only the target changed are not
 * visited at all: the merge leaves them as they are.
 *
 * <p>Collections: each of the source's is compared with the target's. Absent on the target: the
 * merge creates it with the source's schema. Present with the same schema: nothing. Present with
 * another schema (both sides created it): a schema conflict, which no strategy resolves (a
 * collection's schema never changes); its documents are not planned.
 *
 * <p>Cost: the diff reads every live document of the base and the source (a merge of their
 * segment scans), plus one point read on the target per changed key. Memory: the planned changes
 * (at most {@code maxBytes}; beyond that the plan is marked too large and stops keeping them) and
 * one page of conflicts. Stateless; thread-safe.
 */
final class MergePlanner {
  private MergePlanner() {}

  /** The target as the planner reads it. */
  interface Target {
    /** The newest version of a key (a tombstone included) at the target's head, or null. */
    DocumentVersion newest(String collection, String id);

    /** The target's schema of a collection, or null if it has none. */
    CollectionSchema schema(String collection);
  }

  /**
   * A merge's plan.
   *
   * @param definitions collections the merge creates on the target (name → schema), by name
   * @param changes per collection, the documents to put and delete, in id order
   * @param conflicts the requested page of conflicts
   * @param bytes approximate size of the changes (documents and ids)
   * @param tooLarge the changes passed {@code maxBytes}: {@code changes} is incomplete
   */
  record Plan(
      Map<String, CollectionSchema> definitions,
      Map<String, List<Mutation>> changes,
      long puts,
      long deletes,
      long conflictCount,
      long schemaConflicts,
      List<MergeResult.Conflict> conflicts,
      boolean moreConflicts,
      long bytes,
      boolean tooLarge) {

    /** True if the merge writes nothing. */
    boolean isEmpty() {
      return definitions.isEmpty() && puts == 0 && deletes == 0;
    }

    /** True if the merge must not be applied (with the given strategy). */
    boolean blocked(MergeStrategy strategy) {
      return schemaConflicts > 0 || (strategy == MergeStrategy.FAIL && conflictCount > 0);
    }
  }

  /**
   * Plans the merge of {@code source} into {@code target} from {@code base}.
   *
   * @param base the merge base (the caller holds a reference)
   * @param source the source snapshot (the caller holds a reference)
   * @param pageAfterCollection list conflicts after this key ("" for the first page)
   * @param maxBytes keep at most about this many bytes of changes
   */
  static Plan plan(
      PublishedSnapshot base,
      PublishedSnapshot source,
      SegmentStore store,
      Target target,
      MergeStrategy strategy,
      String pageAfterCollection,
      String pageAfterId,
      int pageSize,
      long maxBytes) {
    Builder b = new Builder(strategy, pageAfterCollection, pageAfterId, pageSize, maxBytes);
    for (CollectionDef d : source.manifest().getCollectionsList()) {
      CollectionSchema theirs = CollectionRegistry.fromDef(d).schema();
      CollectionSchema ours = target.schema(d.getName());
      if (ours == null) {
        b.definitions.put(d.getName(), theirs);
      } else if (!ours.equals(theirs)) {
        b.schemaConflicts++;
        b.conflict(
            new MergeResult.Conflict(
                MergeResult.Conflict.Kind.SCHEMA, d.getName(), "", 0, 0, false, false, ours.describeDifference(theirs)));
      }
    }
    SnapshotDiff.diff(
        base,
        source,
        store,
        e -> {
          b.decide(e, source, store, target);
          return true;
        });
    return b.build();
  }

  /** Accumulates one plan. Confined to the planning thread. */
  private static final class Builder {
    final MergeStrategy strategy;
    final String afterCollection;
    final String afterId;
    final int pageSize;
    final long maxBytes;
    final Map<String, CollectionSchema> definitions = new LinkedHashMap<>();
    final Map<String, List<Mutation>> changes = new LinkedHashMap<>();
    final List<MergeResult.Conflict> page = new ArrayList<>();
    final Set<String> schemaConflictNames = new HashSet<>();
    long puts;
    long deletes;
    long conflicts;
    long schemaConflicts;
    boolean more;
    long bytes;
    boolean tooLarge;

    Builder(MergeStrategy strategy, String afterCollection, String afterId, int pageSize, long maxBytes) {
      this.strategy = strategy;
      this.afterCollection = afterCollection == null ? "" : afterCollection;
      this.afterId = afterId == null ? "" : afterId;
      this.pageSize = Math.max(1, pageSize);
      this.maxBytes = maxBytes;
    }

    void decide(SnapshotDiff.Entry e, PublishedSnapshot source, SegmentStore store, Target target) {
      String c = e.collection();
      if (schemaConflictNames.contains(c)) {
        return; // the collection's schema conflict blocks its documents
      }
      CollectionSchema ours = target.schema(c);
      // Stored bodies are canonical (equal bytes are equal fields): compared and carried over as
      // bytes, never decoded.
      EncodedDocument base = e.oldVersion() == null ? null : e.oldVersion().version().stored();
      EncodedDocument theirs = e.newVersion() == null ? null : e.newVersion().version().stored();
      DocumentVersion t = ours == null ? null : target.newest(c, e.id());
      EncodedDocument mine = t == null ? null : t.stored();
      if (Objects.equals(mine, base)) {
        apply(c, e.id(), theirs);
      } else if (!Objects.equals(mine, theirs)) {
        long sourceLsn = e.newVersion() != null ? e.newVersion().version().lsn() : tombstoneLsn(source, store, c, e.id());
        conflicts++;
        conflict(
            new MergeResult.Conflict(
                MergeResult.Conflict.Kind.DOCUMENT, c, e.id(), sourceLsn, t == null ? 0 : t.lsn(), theirs == null, mine == null, ""));
        if (strategy == MergeStrategy.SOURCE_WINS) {
          apply(c, e.id(), theirs);
        }
      }
    }

    void conflict(MergeResult.Conflict x) {
      if (x.kind() == MergeResult.Conflict.Kind.SCHEMA) {
        schemaConflictNames.add(x.collection());
      }
      if (!after(x)) {
        return;
      }
      if (page.size() < pageSize) {
        page.add(x);
      } else {
        more = true;
      }
    }

    /** True if {@code x} comes after the page key. */
    private boolean after(MergeResult.Conflict x) {
      if (afterCollection.isEmpty()) {
        return true;
      }
      int c = x.collection().compareTo(afterCollection);
      return c > 0 || (c == 0 && MergingScan.compareIds(x.id(), afterId) > 0);
    }

    void apply(String collection, String id, EncodedDocument doc) {
      if (doc == null) {
        deletes++;
      } else {
        puts++;
      }
      bytes += id.length() + 16L + (doc == null ? 0 : doc.bodySize());
      if (bytes > maxBytes) {
        tooLarge = true;
      }
      if (!tooLarge) {
        changes
            .computeIfAbsent(collection, k -> new ArrayList<>())
            .add(doc == null ? new Mutation.Delete(id) : new Mutation.Put(doc));
      }
    }

    Plan build() {
      return new Plan(
          definitions, changes, puts, deletes, conflicts + schemaConflicts, schemaConflicts, page, more, bytes, tooLarge);
    }
  }

  /** The LSN of the source's tombstone of a deleted key (0 if none is found). */
  private static long tombstoneLsn(PublishedSnapshot source, SegmentStore store, String collection, String id) {
    DocumentVersion v = source.get(store, collection, id);
    return v == null ? 0 : v.lsn();
  }
}
