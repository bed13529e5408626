package dev.strata.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Timestamp;
import com.google.protobuf.UnsafeByteOperations;
import dev.strata.api.v1.Collection;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.FlushTicket;
import dev.strata.api.v1.Fork;
import dev.strata.api.v1.ForkState;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.SnapshotStats;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.UploadStats;
import dev.strata.api.v1.Value;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentBodyWriter;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.FieldDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestOrigin;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.objectstore.UploadLag;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Conversions between the public API messages ({@code strata.v1}) and the engine's model and
 * manifests. Snapshot ids are the engine's manifest ids and fork ids the engine's fork ids, passed
 * through unchanged. Inputs are validated before they get here ({@link Violations}); a value that
 * still does not convert is an {@link IllegalArgumentException}. Stateless and thread-safe.
 */
public final class ApiConversions {
  /** The TEXT analyzer used when a schema names none. */
  public static final String DEFAULT_ANALYZER = "standard";

  private ApiConversions() {}

  // ---------------------------------------------------------------- values and documents

  /** An API value as an engine value. */
  public static FieldValue fieldValue(Value v) {
    return switch (v.getKindCase()) {
      case STRING_VALUE -> new FieldValue.Str(v.getStringValue());
      case INT64_VALUE -> new FieldValue.Int64(v.getInt64Value());
      case DOUBLE_VALUE -> new FieldValue.Float64(v.getDoubleValue());
      case BOOL_VALUE -> new FieldValue.Bool(v.getBoolValue());
      case BYTES_VALUE -> new FieldValue.Bytes(v.getBytesValue().toByteArray());
      case STRING_LIST_VALUE -> new FieldValue.StrList(v.getStringListValue().getValuesList());
      case KIND_NOT_SET -> throw new IllegalArgumentException("a value has no kind set");
    };
  }

  /** An engine value as an API value. */
  public static Value value(FieldValue v) {
    return switch (v) {
      case FieldValue.Str s -> Value.newBuilder().setStringValue(s.value()).build();
      case FieldValue.Int64 l -> Value.newBuilder().setInt64Value(l.value()).build();
      case FieldValue.Float64 d -> Value.newBuilder().setDoubleValue(d.value()).build();
      case FieldValue.Bool b -> Value.newBuilder().setBoolValue(b.value()).build();
      case FieldValue.Bytes b -> Value.newBuilder().setBytesValue(ByteString.copyFrom(b.value())).build();
      case FieldValue.StrList l ->
          Value.newBuilder().setStringListValue(StringList.newBuilder().addAllValues(l.values())).build();
    };
  }

  /**
   * Writes an API value into a stored document, field by field (no engine value in between; only
   * the kind that is set is written, unknown fields of the message are dropped).
   *
   * @throws IllegalArgumentException if the value has no kind set
   */
  public static void putValue(DocumentBodyWriter body, String name, Value v) {
    switch (v.getKindCase()) {
      case STRING_VALUE -> body.putString(name, v.getStringValue());
      case INT64_VALUE -> body.putLong(name, v.getInt64Value());
      case DOUBLE_VALUE -> body.putDouble(name, v.getDoubleValue());
      case BOOL_VALUE -> body.putBool(name, v.getBoolValue());
      case BYTES_VALUE -> body.putBytes(name, v.getBytesValue());
      case STRING_LIST_VALUE -> body.putStringList(name, v.getStringListValue().getValuesList());
      case KIND_NOT_SET -> throw new IllegalArgumentException("a value has no kind set");
    }
  }

  /**
   * The wire bytes of the API document of a stored document: the id field ({@code string id = 1})
   * in front of the stored body, which is byte for byte the rest of a {@code strata.v1.Document}
   * (see {@code records.proto}, {@code DocumentBody}). A rope of the two, nothing copied or decoded.
   */
  public static ByteString documentBytes(EncodedDocument d) {
    return documentBytes(ByteString.copyFromUtf8(d.id()), d.body());
  }

  /**
   * As {@link #documentBytes(EncodedDocument)}, with the id already in UTF-8 (a caller that also
   * writes the id elsewhere in its response encodes it once). A {@code string} field and a {@code
   * bytes} field holding its UTF-8 have the same wire bytes.
   */
  static ByteString documentBytes(ByteString idUtf8, ByteString body) {
    byte[] head = new byte[CodedOutputStream.computeBytesSize(Document.ID_FIELD_NUMBER, idUtf8)];
    try {
      CodedOutputStream.newInstance(head).writeBytes(Document.ID_FIELD_NUMBER, idUtf8);
    } catch (IOException e) {
      throw new IllegalStateException("the id field did not fit its computed size", e);
    }
    return UnsafeByteOperations.unsafeWrap(head).concat(body);
  }

  /**
   * The API document of a stored document, parsed from {@link #documentBytes} (the engine's
   * decoded model is not involved).
   *
   * @throws IllegalArgumentException if the stored bytes do not parse
   */
  public static Document document(EncodedDocument d) {
    try {
      return Document.parseFrom(documentBytes(d));
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalArgumentException("stored document '" + d.id() + "' does not parse", e);
    }
  }

  /** An API document as an engine document (values as given). */
  public static dev.strata.engine.model.Document engineDocument(Document d) {
    Map<String, FieldValue> fields = new LinkedHashMap<>();
    d.getFieldsMap().forEach((k, v) -> fields.put(k, fieldValue(v)));
    return new dev.strata.engine.model.Document(d.getId(), fields);
  }

  /** An engine document as an API document. */
  public static Document document(dev.strata.engine.model.Document d) {
    Document.Builder b = Document.newBuilder().setId(d.id());
    d.fields().forEach((k, v) -> b.putFields(k, value(v)));
    return b.build();
  }

  // ---------------------------------------------------------------- schemas and collections

  /** An API field kind as an engine field kind; UNSPECIFIED is an IllegalArgumentException. */
  public static dev.strata.engine.model.FieldKind fieldKind(FieldKind k) {
    return switch (k) {
      case FIELD_KIND_TEXT -> dev.strata.engine.model.FieldKind.TEXT;
      case FIELD_KIND_KEYWORD -> dev.strata.engine.model.FieldKind.KEYWORD;
      case FIELD_KIND_LONG -> dev.strata.engine.model.FieldKind.LONG;
      case FIELD_KIND_DOUBLE -> dev.strata.engine.model.FieldKind.DOUBLE;
      case FIELD_KIND_STORED -> dev.strata.engine.model.FieldKind.STORED;
      default -> throw new IllegalArgumentException("field kind must be set, got " + k);
    };
  }

  /** An engine field kind as an API field kind. */
  public static FieldKind fieldKind(dev.strata.engine.model.FieldKind k) {
    return switch (k) {
      case TEXT -> FieldKind.FIELD_KIND_TEXT;
      case KEYWORD -> FieldKind.FIELD_KIND_KEYWORD;
      case LONG -> FieldKind.FIELD_KIND_LONG;
      case DOUBLE -> FieldKind.FIELD_KIND_DOUBLE;
      case STORED -> FieldKind.FIELD_KIND_STORED;
    };
  }

  /**
   * An API schema as an engine schema. The default analyzer is stored as "" whether the request
   * left it empty or said "standard", so both spellings describe the same schema.
   */
  public static CollectionSchema schema(List<FieldSchema> fields) {
    List<FieldSpec> specs = new ArrayList<>();
    for (FieldSchema f : fields) {
      String analyzer = f.getAnalyzer().equals(DEFAULT_ANALYZER) ? "" : f.getAnalyzer();
      specs.add(new FieldSpec(f.getName(), fieldKind(f.getKind()), analyzer));
    }
    return new CollectionSchema(specs);
  }

  /** An engine schema as API field schemas (in creation order; TEXT fields name their analyzer). */
  public static List<FieldSchema> fieldSchemas(CollectionSchema schema) {
    List<FieldSchema> out = new ArrayList<>();
    for (FieldSpec s : schema.fields()) {
      String analyzer =
          s.kind() == dev.strata.engine.model.FieldKind.TEXT && s.analyzer().isEmpty()
              ? DEFAULT_ANALYZER
              : s.analyzer();
      out.add(FieldSchema.newBuilder().setName(s.name()).setKind(fieldKind(s.kind())).setAnalyzer(analyzer).build());
    }
    return out;
  }

  /** A collection view. */
  public static Collection collection(String name, CollectionSchema schema, long docCount) {
    return Collection.newBuilder().setName(name).addAllFields(fieldSchemas(schema)).setDocCount(docCount).build();
  }

  /** The engine schema of a manifest's collection definition. */
  public static CollectionSchema schema(CollectionDef d) {
    List<FieldSpec> specs = new ArrayList<>();
    for (FieldDef f : d.getFieldsList()) {
      String kind = f.getKind().name().substring("FIELD_KIND_".length());
      specs.add(new FieldSpec(f.getName(), dev.strata.engine.model.FieldKind.valueOf(kind), f.getAnalyzer()));
    }
    return new CollectionSchema(specs);
  }

  // ---------------------------------------------------------------- snapshots, forks, tickets

  /**
   * A manifest as an API snapshot.
   *
   * @param tags the tags pinned on it, sorted
   * @param docCounts live documents per collection, or null if not computed (then each collection
   *     says 0 and the totals come from the manifest's own stats)
   */
  public static Snapshot snapshot(Manifest m, List<String> tags, Map<String, Long> docCounts) {
    long sizeBytes = 0;
    for (SegmentRef r : m.getSegmentsList()) {
      sizeBytes += r.getSizeBytes();
    }
    long docs = 0;
    Snapshot.Builder b =
        Snapshot.newBuilder()
            .setId(m.getId())
            .setForkId(m.getForkId())
            .setForkName(m.getForkName())
            .setSeq(m.getSeq())
            .setParentId(m.getParentId())
            .setCoveredLsn(m.getCoveredLsn())
            .setSegmentCount(m.getSegmentsCount())
            .setCreateTime(timestamp(m.getCreateTimeMs()))
            .addAllTags(tags)
            .setKind(kind(m));
    for (MergeRef r : m.getMergesList()) {
      if (r.getMergedInSeq() == m.getSeq()) {
        b.setMergedSnapshotId(r.getSourceSnapshotId());
      }
    }
    List<CollectionDef> defs = new ArrayList<>(m.getCollectionsList());
    defs.sort((x, y) -> x.getName().compareTo(y.getName()));
    for (CollectionDef d : defs) {
      long n = docCounts == null ? 0 : docCounts.getOrDefault(d.getName(), 0L);
      docs += n;
      b.addCollections(collection(d.getName(), schema(d), n));
    }
    b.setStats(
        SnapshotStats.newBuilder()
            .setDocCount(docCounts == null ? m.getStats().getDocCount() : docs)
            .setSizeBytes(sizeBytes));
    return b.build();
  }

  /** Why a manifest was published. */
  public static SnapshotKind kind(Manifest m) {
    if (!m.getBaseSnapshotId().isEmpty() && m.getParentId().equals(m.getBaseSnapshotId())) {
      return SnapshotKind.SNAPSHOT_KIND_FORK;
    }
    if (m.getParentId().isEmpty() && m.getSegmentsCount() == 0) {
      return SnapshotKind.SNAPSHOT_KIND_INITIAL;
    }
    if (m.getOrigin() == ManifestOrigin.MANIFEST_ORIGIN_COMPACTION) {
      return SnapshotKind.SNAPSHOT_KIND_COMPACTION;
    }
    if (m.getOrigin() == ManifestOrigin.MANIFEST_ORIGIN_MERGE) {
      return SnapshotKind.SNAPSHOT_KIND_MERGE;
    }
    return SnapshotKind.SNAPSHOT_KIND_FLUSH;
  }

  /**
   * An engine fork as an API fork.
   *
   * @param baseForkName the name of the fork the base snapshot belonged to ("" for main)
   */
  public static Fork fork(dev.strata.engine.fork.Fork f, String baseForkName) {
    ForkState state =
        f.isDropping()
            ? ForkState.FORK_STATE_DROPPING
            : f.readOnlyReason() != null ? ForkState.FORK_STATE_READ_ONLY : ForkState.FORK_STATE_ACTIVE;
    return Fork.newBuilder()
        .setId(f.id())
        .setName(f.name())
        .setBaseSnapshotId(f.entry().baseSnapshotId())
        .setBaseForkName(baseForkName)
        .setHeadSnapshotId(f.head().map(Manifest::getId).orElse(""))
        .setState(state)
        .setStateReason(f.readOnlyReason() == null ? "" : f.readOnlyReason())
        .setCreateTime(timestamp(f.entry().createTimeMs()))
        .build();
  }

  /** An engine ticket as an API ticket. */
  public static FlushTicket ticket(dev.strata.engine.flush.FlushTicket t) {
    return FlushTicket.newBuilder()
        .setForkId(t.forkId())
        .setForkName(t.forkName())
        .setSeq(t.seq())
        .setLsn(t.lsn())
        .build();
  }

  /** An API ticket as an engine ticket. */
  public static dev.strata.engine.flush.FlushTicket ticket(FlushTicket t) {
    return new dev.strata.engine.flush.FlushTicket(t.getForkId(), t.getForkName(), t.getSeq(), t.getLsn());
  }

  /** Milliseconds since the epoch as a Timestamp. */
  public static Timestamp timestamp(long epochMs) {
    return Timestamp.newBuilder()
        .setSeconds(Math.floorDiv(epochMs, 1000))
        .setNanos(Math.floorMod(epochMs, 1000) * 1_000_000)
        .build();
  }

  /** A fork's upload lag as the API shows it. */
  static UploadStats uploadStats(UploadLag lag) {
    return UploadStats.newBuilder()
        .setSnapshotsPending(lag.snapshotsPending())
        .setBytesPending(lag.bytesPending())
        .setUploadedSeq(lag.uploadedSeq())
        .setSnapshotsUploadedTotal(lag.snapshotsUploaded())
        .setConsecutiveFailures(lag.consecutiveFailures())
        .setLastError(lag.lastError() == null ? "" : lag.lastError())
        .setStoppedReason(lag.stoppedBy() == null ? "" : lag.stoppedBy())
        .build();
  }
}
