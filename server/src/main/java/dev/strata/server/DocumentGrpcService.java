package dev.strata.server;

import com.google.common.base.Utf8;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.BatchGetResponse;
import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.GetResponse;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.RangeBound;
import dev.strata.api.v1.RangeFilter;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.SearchHit;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SearchResponse;
import dev.strata.api.v1.SortOrder;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentBodyWriter;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.read.MergingScan;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.SortSpec;
import dev.strata.manifest.proto.Manifest;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code strata.v1.DocumentService}: writes, point reads, scans and searches. Every request is
 * validated whole before the engine sees it, so a Write with one bad document writes nothing.
 * Thread-safe.
 */
final class DocumentGrpcService extends DocumentServiceGrpc.DocumentServiceImplBase {
  /** Most ids of one BatchGet. */
  static final int MAX_BATCH_GET = 1000;
  /** Longest KEYWORD term, UTF-8 bytes (Lucene's limit). */
  static final int MAX_TERM_BYTES = 32766;
  /** Documents read from the engine per scan step. */
  static final int SCAN_PAGE = 512;
  /** Target size of one Scan message. */
  static final int SCAN_MESSAGE_BYTES = 1 << 20;
  /** Violations reported per request at most (the rest are summarized). */
  private static final int MAX_VIOLATIONS = 100;

  private final ServerContext ctx;

  DocumentGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  // ---------------------------------------------------------------- Write

  @Override
  public void write(WriteRequest req, StreamObserver<WriteResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          ServerConfig.Limits limits = ctx.config.limits();
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String collection = v.name("collection", req.getCollection(), "collection");
          int n = req.getMutationsCount();
          if (n == 0) {
            v.add("mutations", "a write needs at least one mutation");
          } else if (n > limits.maxMutationsPerWrite()) {
            v.add("mutations", "a write takes at most " + limits.maxMutationsPerWrite() + " mutations, got " + n);
          }
          if (req.getDurability() == Durability.UNRECOGNIZED) {
            v.add("durability", "unknown durability");
          }
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          CollectionSchema schema = Resolver.collection(fork, collection).schema();
          List<dev.strata.engine.model.Mutation> mutations = new ArrayList<>(n);
          int problems = 0;
          for (int i = 0; i < n && problems < MAX_VIOLATIONS; i++) {
            Violations one = new Violations();
            dev.strata.engine.model.Mutation m = mutation(one, "mutations[" + i + "]", req.getMutations(i), schema, limits);
            if (one.isEmpty()) {
              mutations.add(m);
            } else {
              problems++;
              mergeInto(v, one);
            }
          }
          v.throwIfAny();
          Resolver.requireWritable(fork);
          dev.strata.wal.Durability durability =
              req.getDurability() == Durability.DURABILITY_ASYNC
                  ? dev.strata.wal.Durability.ASYNC
                  : dev.strata.wal.Durability.SYNC;
          long t0 = System.nanoTime();
          long lsn;
          try {
            lsn = ctx.countingStalls(forkName, () -> fork.write(collection, mutations, durability));
          } finally {
            ctx.metrics.observeWrite(fork.name(), System.nanoTime() - t0);
          }
          return WriteResponse.newBuilder().setLsn(lsn).setForkId(fork.id()).build();
        });
  }

  private static void mergeInto(Violations target, Violations source) {
    try {
      source.throwIfAny();
    } catch (ApiError e) {
      e.violations().forEach(x -> target.add(x.getField(), x.getDescription()));
    }
  }

  /** One mutation, checked against the schema and limits; null if a violation was recorded. */
  private static dev.strata.engine.model.Mutation mutation(
      Violations v, String path, Mutation m, CollectionSchema schema, ServerConfig.Limits limits) {
    switch (m.getKindCase()) {
      case DELETE_ID -> {
        v.documentId(path + ".delete_id", m.getDeleteId(), limits.maxIdBytes());
        return v.isEmpty() ? new dev.strata.engine.model.Mutation.Delete(m.getDeleteId()) : null;
      }
      case PUT -> {
        Document d = m.getPut();
        v.documentId(path + ".put.id", d.getId(), limits.maxIdBytes());
        int size = d.getSerializedSize();
        if (size > limits.maxDocumentBytes()) {
          v.add(path + ".put", "document is " + size + " bytes encoded, at most " + limits.maxDocumentBytes() + " allowed");
        }
        if (d.getFieldsCount() > limits.maxFieldsPerDocument()) {
          v.add(
              path + ".put.fields",
              "document has " + d.getFieldsCount() + " fields, at most " + limits.maxFieldsPerDocument() + " allowed");
        }
        if (!v.isEmpty()) {
          return null;
        }
        // The document's one encoding: checked field by field and written in its stored form.
        Map<String, Value> fields = d.getFieldsMap();
        String[] names = fields.keySet().toArray(new String[0]);
        Arrays.sort(names);
        DocumentBodyWriter body = new DocumentBodyWriter(d.getId(), size);
        for (String name : names) {
          String fieldPath = path + ".put.fields[" + name + "]";
          v.fieldName(fieldPath, name);
          putField(v, fieldPath, body, name, fields.get(name), schema.field(name));
        }
        return v.isEmpty() ? new dev.strata.engine.model.Mutation.Put(body.build()) : null;
      }
      default -> {
        v.add(path, "a mutation must set put or delete_id");
        return null;
      }
    }
  }

  /**
   * A field value checked against its schema field (if any) and written into {@code body}; DOUBLE
   * fields convert integers. Writes nothing if it records a violation.
   */
  private static void putField(
      Violations v, String path, DocumentBodyWriter body, String name, Value value, Optional<FieldSpec> spec) {
    if (value.getKindCase() == Value.KindCase.KIND_NOT_SET) {
      v.add(path, "the value has no kind set");
      return;
    }
    if (spec.isPresent()) {
      FieldKind kind = spec.get().kind();
      switch (kind) {
        case TEXT, KEYWORD -> {
          List<String> strings =
              value.getKindCase() == Value.KindCase.STRING_VALUE
                  ? List.of(value.getStringValue())
                  : value.getKindCase() == Value.KindCase.STRING_LIST_VALUE
                      ? value.getStringListValue().getValuesList()
                      : null;
          if (strings == null) {
            v.add(path, kind + " field needs a string or a string list, got " + describe(value));
            return;
          }
          if (kind == FieldKind.KEYWORD) {
            for (String s : strings) {
              int n = s.getBytes(StandardCharsets.UTF_8).length;
              if (n > MAX_TERM_BYTES) {
                v.add(path, "KEYWORD value is " + n + " UTF-8 bytes, at most " + MAX_TERM_BYTES + " allowed");
                return;
              }
            }
          }
        }
        case LONG -> {
          if (value.getKindCase() != Value.KindCase.INT64_VALUE) {
            v.add(path, "LONG field needs an int64_value, got " + describe(value));
            return;
          }
        }
        case DOUBLE -> {
          if (value.getKindCase() == Value.KindCase.INT64_VALUE) {
            body.putDouble(name, value.getInt64Value());
            return;
          }
          if (value.getKindCase() != Value.KindCase.DOUBLE_VALUE) {
            v.add(path, "DOUBLE field needs a double_value or an int64_value, got " + describe(value));
            return;
          }
          if (!Double.isFinite(value.getDoubleValue())) {
            v.add(path, "DOUBLE field needs a finite number, got " + value.getDoubleValue());
            return;
          }
        }
        default -> {}
      }
    }
    ApiConversions.putValue(body, name, value);
  }

  private static String describe(Value v) {
    return switch (v.getKindCase()) {
      case STRING_VALUE -> "a string";
      case INT64_VALUE -> "an int64";
      case DOUBLE_VALUE -> "a double";
      case BOOL_VALUE -> "a bool";
      case BYTES_VALUE -> "bytes";
      case STRING_LIST_VALUE -> "a string list";
      case KIND_NOT_SET -> "no value";
    };
  }

  // ---------------------------------------------------------------- Get, BatchGet

  @Override
  public void get(GetRequest req, StreamObserver<GetResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String collection = v.name("collection", req.getCollection(), "collection");
          v.documentId("id", req.getId(), ctx.config.limits().maxIdBytes());
          v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          EncodedDocument d = readAll(fork, collection, List.of(req.getId()), req.getSnapshotId()).get(0);
          if (d == null) {
            throw ApiError.of(
                Status.Code.NOT_FOUND,
                ErrorReason.DOCUMENT_NOT_FOUND,
                "document '" + Violations.printable(req.getId()) + "' does not exist in collection '" + collection
                    + "' of fork '" + forkName + "'" + (req.getSnapshotId().isEmpty() ? "" : " at " + req.getSnapshotId()),
                "fork",
                forkName,
                "collection",
                collection,
                "id",
                req.getId());
          }
          return GetResponse.newBuilder().setDocument(ApiConversions.document(d)).build();
        });
  }

  @Override
  public void batchGet(BatchGetRequest req, StreamObserver<BatchGetResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String collection = v.name("collection", req.getCollection(), "collection");
          v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
          int n = req.getIdsCount();
          if (n == 0) {
            v.add("ids", "at least one id is required");
          } else if (n > MAX_BATCH_GET) {
            v.add("ids", "at most " + MAX_BATCH_GET + " ids, got " + n);
          } else {
            for (int i = 0; i < n; i++) {
              v.documentId("ids[" + i + "]", req.getIds(i), ctx.config.limits().maxIdBytes());
            }
          }
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          List<EncodedDocument> docs = readAll(fork, collection, req.getIdsList(), req.getSnapshotId());
          BatchGetResponse.Builder out = BatchGetResponse.newBuilder();
          for (int i = 0; i < n; i++) {
            BatchGetResult.Builder r = BatchGetResult.newBuilder().setId(req.getIds(i));
            EncodedDocument d = docs.get(i);
            if (d != null) {
              r.setFound(true).setDocument(ApiConversions.document(d));
            }
            out.addResults(r);
          }
          return out.build();
        });
  }

  /**
   * The live documents of {@code ids} in their stored form (null where absent), at the head or at a
   * snapshot: views of L0 or segment bytes, not decoded.
   */
  private List<EncodedDocument> readAll(Fork fork, String collection, List<String> ids, String snapshotId) {
    List<EncodedDocument> out = new ArrayList<>(ids.size());
    if (snapshotId.isEmpty()) {
      Resolver.collection(fork, collection);
      for (String id : ids) {
        DocumentVersion dv = fork.get(collection, id);
        out.add(dv == null ? null : dv.stored());
      }
      return out;
    }
    StrataEngine engine = ctx.engine();
    PublishedSnapshot snap = Resolver.acquire(fork, snapshotId);
    try {
      Resolver.collection(snap.manifest(), collection);
      for (String id : ids) {
        DocumentVersion dv = snap.get(engine.segments(), collection, id);
        out.add(dv == null || dv.isTombstone() ? null : dv.stored());
      }
      return out;
    } finally {
      snap.release();
    }
  }

  // ---------------------------------------------------------------- Scan

  @Override
  public void scan(ScanRequest req, StreamObserver<ScanResponse> observer) {
    StreamSender<ScanResponse> sender = new StreamSender<>(observer);
    PublishedSnapshot snap = null;
    try {
      int maxId = ctx.config.limits().maxIdBytes();
      Violations v = new Violations();
      String forkName = v.forkOrMain("fork", req.getFork());
      String collection = v.name("collection", req.getCollection(), "collection");
      v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
      bound(v, "start_at_id", req.getStartAtId(), maxId);
      bound(v, "start_after_id", req.getStartAfterId(), maxId);
      bound(v, "end_before_id", req.getEndBeforeId(), maxId);
      bound(v, "id_prefix", req.getIdPrefix(), maxId);
      if (req.getLimit() < 0) {
        v.add("limit", "limit must not be negative, got " + req.getLimit());
      }
      v.throwIfAny();
      Fork fork = Resolver.fork(ctx.engine(), forkName);
      if (req.getSnapshotId().isEmpty()) {
        Resolver.collection(fork, collection);
      } else {
        snap = Resolver.acquire(fork, req.getSnapshotId());
        Resolver.collection(snap.manifest(), collection);
      }
      String prefix = req.getIdPrefix();
      String end = req.getEndBeforeId();
      String cursor =
          switch (req.getStartCase()) {
            case START_AT_ID -> req.getStartAtId();
            // Ids contain no U+0000, so the smallest id after x is x + U+0001.
            case START_AFTER_ID -> req.getStartAfterId() + "\u0001";
            default -> "";
          };
      if (!prefix.isEmpty() && MergingScan.compareIds(cursor, prefix) < 0) {
        cursor = prefix;
      }
      long limit = req.getLimit();
      long sent = 0;
      boolean finished = false;
      while (!finished && !sender.cancelled()) {
        int want = (int) (limit == 0 ? SCAN_PAGE : Math.min(SCAN_PAGE, limit - sent));
        List<SegmentEntry> page = fork.scan(collection, cursor, want, snap);
        ScanResponse.Builder msg = ScanResponse.newBuilder();
        int msgBytes = 0;
        String lastId = null;
        for (SegmentEntry e : page) {
          lastId = e.id();
          if ((!end.isEmpty() && MergingScan.compareIds(e.id(), end) >= 0)
              || (!prefix.isEmpty() && !e.id().startsWith(prefix))) {
            finished = true;
            break;
          }
          if (e.version() == null || e.version().isTombstone()) {
            continue;
          }
          Document d = ApiConversions.document(e.version().stored());
          if (msg.getDocumentsCount() > 0 && msgBytes + d.getSerializedSize() > SCAN_MESSAGE_BYTES) {
            if (!sender.send(msg.build())) {
              return;
            }
            msg = ScanResponse.newBuilder();
            msgBytes = 0;
          }
          msg.addDocuments(d);
          msgBytes += d.getSerializedSize() + 8;
          sent++;
        }
        if (msg.getDocumentsCount() > 0 && !sender.send(msg.build())) {
          return;
        }
        if (page.size() < want || (limit > 0 && sent >= limit) || lastId == null) {
          finished = true;
        } else {
          cursor = lastId + "\u0001";
        }
      }
      sender.complete();
    } catch (RuntimeException e) {
      sender.fail(e, "");
    } finally {
      if (snap != null) {
        snap.release();
      }
    }
  }

  private static void bound(Violations v, String field, String value, int maxIdBytes) {
    if (value.isEmpty()) {
      return;
    }
    String p = Violations.idProblem(value, maxIdBytes);
    if (p != null) {
      v.add(field, p);
    }
  }

  // ---------------------------------------------------------------- Search

  @Override
  public void search(SearchRequest req, StreamObserver<SearchResponse> observer) {
    Rpc.unary(
        observer,
        "query",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String collection = v.name("collection", req.getCollection(), "collection");
          v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
          int maxQueryBytes = ctx.config.limits().maxQueryBytes();
          long queryBytes = utf8Length(req.getQuery());
          if (queryBytes > maxQueryBytes) {
            // Before any parsing: the parser's time and its error's size grow with the query.
            v.add(
                "query",
                "the query is " + queryBytes + " UTF-8 bytes, at most " + maxQueryBytes
                    + " allowed (search.max_query_bytes); it starts '" + Violations.printable(req.getQuery()) + "'");
          }
          if (req.getLimit() < 0 || req.getLimit() > SearchQuery.MAX_LIMIT) {
            v.add("limit", "limit must be 0.." + SearchQuery.MAX_LIMIT + " (0 means 10), got " + req.getLimit());
          }
          boolean waitFlushed = req.getWaitFor() == WaitFor.WAIT_FOR_FLUSHED;
          if (req.getWaitFor() == WaitFor.UNRECOGNIZED) {
            v.add("wait_for", "unknown wait_for");
          }
          if (waitFlushed && !req.getSnapshotId().isEmpty()) {
            v.add("wait_for", "WAIT_FOR_FLUSHED searches the head: it cannot be combined with snapshot_id");
          }
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          PublishedSnapshot snap = null;
          try {
            CollectionSchema schema;
            if (req.getSnapshotId().isEmpty()) {
              schema = Resolver.collection(fork, collection).schema();
            } else {
              snap = Resolver.acquire(fork, req.getSnapshotId());
              schema = ApiConversions.schema(Resolver.collection(snap.manifest(), collection));
            }
            SearchQuery query = query(v, req, schema);
            v.throwIfAny();
            if (snap == null) {
              if (waitFlushed) {
                awaitFlushed(fork);
              }
              snap = fork.acquireHead();
            }
            SearchResponse.Builder out = SearchResponse.newBuilder();
            if (snap == null) {
              return out.build(); // nothing published yet
            }
            SearchResult result = fork.search(collection, query, snap);
            for (dev.strata.engine.segment.SearchHit h : result.hits()) {
              out.addHits(
                  SearchHit.newBuilder()
                      .setId(h.id())
                      .setScore(h.score())
                      .setDocument(ApiConversions.document(h.stored())));
            }
            return out.setTotalHits(result.totalHits())
                .setTotalHitsLowerBound(result.totalHitsLowerBound())
                .setSnapshotId(snap.id())
                .build();
          } finally {
            if (snap != null) {
              snap.release();
            }
          }
        });
  }

  /** UTF-8 bytes of {@code s}, counted without encoding it (it was decoded from valid UTF-8). */
  static long utf8Length(String s) {
    return Utf8.encodedLength(s);
  }

  /** Makes the head cover every write acknowledged before now, within the call's deadline. */
  private void awaitFlushed(Fork fork) {
    long lastLsn = fork.stats().walLastLsn();
    Optional<Manifest> head = fork.head();
    if (lastLsn == 0 || (head.isPresent() && head.get().getCoveredLsn() >= lastLsn)) {
      return; // nothing acknowledged that the head does not cover
    }
    Resolver.requireWritable(fork);
    long permitWaitMs = Math.min(ctx.config.writeStallTimeoutMs(), Deadlines.remainingMs(Long.MAX_VALUE));
    FlushTicket t = ctx.countingStalls(fork.name(), () -> fork.flush(permitWaitMs));
    Deadlines.await(fork.awaitTicket(t), "the flush of fork '" + fork.name() + "' (WAIT_FOR_FLUSHED)");
  }

  /** The engine query of a request, checked against the schema. */
  private static SearchQuery query(Violations v, SearchRequest req, CollectionSchema schema) {
    List<dev.strata.engine.segment.TermFilter> terms = new ArrayList<>();
    for (int i = 0; i < req.getTermFiltersCount(); i++) {
      TermFilter f = req.getTermFilters(i);
      String path = "term_filters[" + i + "]";
      if (requireKind(v, path + ".field", f.getField(), schema, "a term filter", FieldKind.KEYWORD)) {
        int n = f.getValuesCount();
        if (n == 0 || n > dev.strata.engine.segment.TermFilter.MAX_VALUES) {
          v.add(
              path + ".values",
              "a term filter takes 1.." + dev.strata.engine.segment.TermFilter.MAX_VALUES + " values, got " + n);
        } else {
          boolean ok = true;
          for (int j = 0; j < n; j++) {
            int bytes = Utf8.encodedLength(f.getValues(j));
            if (bytes > MAX_TERM_BYTES) {
              v.add(path + ".values[" + j + "]", "a KEYWORD term is at most " + MAX_TERM_BYTES + " UTF-8 bytes, got " + bytes);
              ok = false;
            }
          }
          if (ok) {
            // A document matches if its field has any of the values (OR); filters are AND-ed.
            terms.add(new dev.strata.engine.segment.TermFilter(f.getField(), f.getValuesList()));
          }
        }
      }
    }
    List<dev.strata.engine.segment.RangeFilter> ranges = new ArrayList<>();
    for (int i = 0; i < req.getRangeFiltersCount(); i++) {
      RangeFilter f = req.getRangeFilters(i);
      String path = "range_filters[" + i + "]";
      if (requireKind(v, path + ".field", f.getField(), schema, "a range filter", FieldKind.LONG, FieldKind.DOUBLE)) {
        FieldKind kind = schema.field(f.getField()).get().kind();
        Number lo = f.hasLower() ? bound(v, path + ".lower", f.getLower(), kind) : null;
        Number hi = f.hasUpper() ? bound(v, path + ".upper", f.getUpper(), kind) : null;
        ranges.add(
            new dev.strata.engine.segment.RangeFilter(
                f.getField(),
                lo,
                hi,
                !f.hasLower() || !f.getLower().getExclusive(),
                !f.hasUpper() || !f.getUpper().getExclusive()));
      }
    }
    SortSpec sort = null;
    if (req.hasSort()) {
      String path = "sort";
      if (requireKind(v, path + ".field", req.getSort().getField(), schema, "sorting", FieldKind.LONG, FieldKind.DOUBLE)) {
        if (req.getSort().getOrder() == SortOrder.UNRECOGNIZED) {
          v.add(path + ".order", "unknown sort order");
        }
        sort = new SortSpec(req.getSort().getField(), req.getSort().getOrder() == SortOrder.SORT_ORDER_DESCENDING);
      }
    }
    int limit = req.getLimit() == 0 ? 10 : Math.max(1, Math.min(req.getLimit(), SearchQuery.MAX_LIMIT));
    return new SearchQuery(req.getQuery(), terms, ranges, limit, sort);
  }

  private static boolean requireKind(
      Violations v, String path, String field, CollectionSchema schema, String what, FieldKind... kinds) {
    if (field.isEmpty()) {
      v.add(path, what + " needs a field");
      return false;
    }
    Optional<FieldSpec> spec = schema.field(field);
    if (spec.isEmpty()) {
      v.add(path, "field '" + Violations.printable(field) + "' is not in the collection's schema");
      return false;
    }
    for (FieldKind k : kinds) {
      if (spec.get().kind() == k) {
        return true;
      }
    }
    v.add(
        path,
        what + " needs a " + (kinds.length == 1 ? kinds[0] : kinds[0] + " or " + kinds[1]) + " field; '"
            + Violations.printable(field) + "' is " + spec.get().kind());
    return false;
  }

  private static Number bound(Violations v, String path, RangeBound b, FieldKind kind) {
    switch (b.getValueCase()) {
      case LONG_VALUE -> {
        return kind == FieldKind.LONG ? (Number) b.getLongValue() : (Number) (double) b.getLongValue();
      }
      case DOUBLE_VALUE -> {
        if (kind == FieldKind.LONG) {
          v.add(path, "a LONG field needs a long_value bound");
          return null;
        }
        if (!Double.isFinite(b.getDoubleValue())) {
          v.add(path, "the bound must be finite");
          return null;
        }
        return b.getDoubleValue();
      }
      default -> {
        v.add(path, "a bound needs long_value or double_value (leave the bound unset for none)");
        return null;
      }
    }
  }
}
