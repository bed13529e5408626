package dev.strata.engine.fork;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.ByteString;
import dev.strata.engine.l0.L0Record;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.MergeBatch;
import dev.strata.engine.proto.MergeCommit;
import dev.strata.engine.proto.MergeMarker;
import dev.strata.engine.proto.MergeStrategyRecord;
import dev.strata.engine.proto.CollectionDefinition;
import dev.strata.engine.proto.WalEntry;
import dev.strata.vfs.Vfs;
import dev.strata.wal.WalReader;
import dev.strata.wal.WalRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The WAL records of the merge record protocol ({@code records.proto}: {@code MergeBatch}, {@code
 * MergeCommit}, {@code MergeMarker}) and the commit rule both the merge and recovery evaluate.
 *
 * <h2>The commit rule</h2>
 *
 * A three-way merge is planned against the target as of its read LSN {@code r} and committed at
 * LSN {@code c}. Records with {@code r < LSN < c} other than the merge's own batches are the
 * target's concurrent writes; let W be the keys they wrote and the collections they defined. Then
 * (and only then, at {@code c}):
 *
 * <ul>
 *   <li>a collection the merge defines that is in W voids the merge (it cannot happen when the
 *       merge reserved its names first, as {@link ForkMerge} does; recovery applies the same rule);
 *   <li>{@code FAIL}: a merge key in W voids the merge (a late conflict);
 *   <li>{@code TARGET_WINS}: the merge's changes to keys in W are dropped;
 *   <li>{@code SOURCE_WINS}: the merge applies whole.
 * </ul>
 *
 * The rule reads only the log, so the run time and a replay after a crash decide the same.
 *
 * <p>Stateless; thread-safe.
 */
final class MergeRecords {
  private MergeRecords() {}

  /** Field numbers of {@code WalEntry}'s kinds: a record's first tag names its kind. */
  static final int WRITE = WalEntry.WRITE_FIELD_NUMBER;

  static final int DEFINE = WalEntry.DEFINE_COLLECTION_FIELD_NUMBER;
  static final int BATCH = WalEntry.MERGE_BATCH_FIELD_NUMBER;
  static final int COMMIT = WalEntry.MERGE_COMMIT_FIELD_NUMBER;
  static final int MARKER = WalEntry.MERGE_MARKER_FIELD_NUMBER;

  /**
   * The kind of a {@code WalEntry} payload (its oneof's field number) from its first tag, without
   * parsing the rest: a serialized message with one field set starts with that field's tag.
   *
   * @return the field number, 0 for an empty payload
   */
  static int kindOf(byte[] payload) {
    return kindOf(payload, 0, payload.length);
  }

  /** {@link #kindOf(byte[])} of the payload at {@code src[off, off + len)}. */
  static int kindOf(byte[] src, int off, int len) {
    if (len == 0) {
      return 0;
    }
    try {
      return CodedInputStream.newInstance(src, off, Math.min(len, 10)).readTag() >>> 3;
    } catch (IOException e) {
      return 0;
    }
  }

  /**
   * A merge's changes as batch records of at most about {@code maxBatchBytes} each (a document
   * larger than that gets a batch of its own): definitions first, then each collection's
   * mutations.
   */
  static List<byte[]> encodeBatches(
      String mergeId, Map<String, CollectionSchema> definitions, Map<String, List<Mutation>> changes, int maxBatchBytes) {
    List<byte[]> out = new ArrayList<>();
    MergeBatch.Builder b = MergeBatch.newBuilder().setMergeId(mergeId).setIndex(0);
    definitions.forEach((name, schema) -> b.addDefinitions(WalEntries.toDefinition(name, schema)));
    long batchBytes = b.build().getSerializedSize();
    for (Map.Entry<String, List<Mutation>> e : changes.entrySet()) {
      // Runs of one collection's mutations, each encoded as a Write's record is (bodies copied as
      // they are stored), cut where the batch would outgrow maxBatchBytes.
      List<Mutation> run = new ArrayList<>();
      int overhead = e.getKey().length() + 16;
      for (Mutation m : e.getValue()) {
        int size = m.id().length() + (m instanceof Mutation.Put p ? p.document().bodySize() : 0) + 12;
        if (batchBytes > 0 && batchBytes + size + overhead > maxBatchBytes) {
          if (!run.isEmpty()) {
            b.addWrites(ByteString.copyFrom(WalEntries.encodeWrite(e.getKey(), run).bytes()));
            run = new ArrayList<>();
          }
          out.add(WalEntry.newBuilder().setMergeBatch(b).build().toByteArray());
          b.clear().setMergeId(mergeId).setIndex(out.size());
          batchBytes = 0;
        }
        run.add(m);
        batchBytes += size;
      }
      if (!run.isEmpty()) {
        b.addWrites(ByteString.copyFrom(WalEntries.encodeWrite(e.getKey(), run).bytes()));
        batchBytes += overhead;
      }
    }
    if (b.getWritesCount() > 0 || b.getDefinitionsCount() > 0 || out.isEmpty()) {
      out.add(WalEntry.newBuilder().setMergeBatch(b).build().toByteArray());
    }
    return out;
  }

  static byte[] encodeCommit(MergeCommit commit) {
    return WalEntry.newBuilder().setMergeCommit(commit).build().toByteArray();
  }

  static byte[] encodeMarker(MergeMarker marker) {
    return WalEntry.newBuilder().setMergeMarker(marker).build().toByteArray();
  }

  static MergeStrategyRecord toRecord(MergeStrategy s) {
    return switch (s) {
      case FAIL -> MergeStrategyRecord.MERGE_STRATEGY_RECORD_FAIL;
      case SOURCE_WINS -> MergeStrategyRecord.MERGE_STRATEGY_RECORD_SOURCE_WINS;
      case TARGET_WINS -> MergeStrategyRecord.MERGE_STRATEGY_RECORD_TARGET_WINS;
    };
  }

  static MergeStrategy fromRecord(MergeStrategyRecord r) {
    return switch (r) {
      case MERGE_STRATEGY_RECORD_SOURCE_WINS -> MergeStrategy.SOURCE_WINS;
      case MERGE_STRATEGY_RECORD_TARGET_WINS -> MergeStrategy.TARGET_WINS;
      default -> MergeStrategy.FAIL;
    };
  }

  /**
   * What the target wrote concurrently with a merge: the keys (of {@code mergeKeys}) and collection
   * names (of {@code mergeCollections}) written or defined by the records with {@code readLsn <
   * LSN < commitLsn} other than the merge's own batches.
   */
  record Window(Set<Key> keys, Set<String> collections) {}

  /** A document's key: collection and id. */
  record Key(String collection, String id) {}

  /**
   * Reads the window of a merge from the WAL in {@code walDir} (see the class comment).
   *
   * @throws IOException if the records cannot be read (e.g. the WAL was truncated past them)
   */
  static Window window(
      Vfs vfs, Path walDir, long readLsn, long commitLsn, String mergeId, Set<Key> mergeKeys, Set<String> mergeCollections)
      throws IOException {
    Set<Key> keys = new HashSet<>();
    Set<String> collections = new HashSet<>();
    L0Record record = new L0Record();
    if (commitLsn - readLsn <= 1) {
      return new Window(keys, collections);
    }
    try (WalReader reader = WalReader.open(vfs, walDir, readLsn + 1)) {
      WalRecord r;
      while ((r = reader.next()) != null && r.lsn() < commitLsn) {
        if (r.lsn() <= readLsn) {
          continue;
        }
        int kind = kindOf(r.payload());
        if (kind != WRITE && kind != DEFINE) {
          continue; // this merge's batches; markers and void merges wrote nothing
        }
        CollectionDefinition d = WalEntries.parse(r.lsn(), r.payload(), 0, r.payload().length, record);
        if (d != null) {
          if (mergeCollections.contains(d.getName())) {
            collections.add(d.getName());
          }
          continue;
        }
        String c = record.collection();
        for (int i = 0; i < record.size(); i++) {
          Key k = new Key(c, record.id(i));
          if (mergeKeys.contains(k)) {
            keys.add(k);
          }
        }
      }
    }
    return new Window(keys, collections);
  }

  /** Every key a plan's changes write. */
  static Set<Key> keysOf(Map<String, List<Mutation>> changes) {
    Set<Key> out = new HashSet<>();
    changes.forEach((c, ms) -> ms.forEach(m -> out.add(new Key(c, m.id()))));
    return out;
  }

  /**
   * The commit rule (class comment): the changes that take effect, or null if the merge is void.
   *
   * @param mergeId for messages only
   */
  static Map<String, List<Mutation>> effective(
      MergeStrategy strategy, Map<String, List<Mutation>> changes, Window w, String mergeId) {
    if (!w.collections().isEmpty()) {
      return null;
    }
    if (w.keys().isEmpty() || strategy == MergeStrategy.SOURCE_WINS) {
      return changes;
    }
    if (strategy == MergeStrategy.FAIL) {
      return null;
    }
    Map<String, List<Mutation>> out = new LinkedHashMap<>();
    changes.forEach(
        (c, ms) -> {
          List<Mutation> kept = new ArrayList<>();
          for (Mutation m : ms) {
            if (!w.keys().contains(new Key(c, m.id()))) {
              kept.add(m);
            }
          }
          if (!kept.isEmpty()) {
            out.put(c, kept);
          }
        });
    return out;
  }

  /** A merge's changes and definitions read back from its batch records (recovery). */
  record Decoded(Map<String, CollectionSchema> definitions, Map<String, List<Mutation>> changes) {}

  /** Decodes batch records, in index order. */
  static Decoded decode(List<MergeBatch> batches) {
    Map<String, CollectionSchema> defs = new LinkedHashMap<>();
    Map<String, List<Mutation>> changes = new LinkedHashMap<>();
    L0Record record = new L0Record();
    for (MergeBatch b : batches) {
      b.getDefinitionsList().forEach(d -> defs.put(d.getName(), WalEntries.schemaOf(d)));
      for (ByteString w : b.getWritesList()) {
        byte[] bytes = w.toByteArray();
        WalEntries.parse(0, bytes, 0, bytes.length, record);
        changes.computeIfAbsent(record.collection(), k -> new ArrayList<>()).addAll(WalEntries.mutationsOf(record));
      }
    }
    return new Decoded(defs, changes);
  }
}
