package dev.strata.server;

import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.Durability;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.GetRequest;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.RangeBound;
import dev.strata.api.v1.RangeFilter;
import dev.strata.api.v1.ScanRequest;
import dev.strata.api.v1.ScanResponse;
import dev.strata.api.v1.SearchRequest;
import dev.strata.api.v1.SortOrder;
import dev.strata.api.v1.TermFilter;
import dev.strata.api.v1.Value;
import dev.strata.api.v1.WaitFor;
import dev.strata.api.v1.WriteRequest;
import dev.strata.api.v1.WriteResponse;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.StrataException;
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
import io.grpc.Context;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * {@code strata.v1.DocumentService}: writes, point reads, scans and searches. Every request is
 * validated whole before the engine sees it, so a Write with one bad document writes nothing.
 *
 * <p>Threads (docs/architecture.md, "Threads"): every method is called on a transport thread. Get,
 * small BatchGets and a Write's validation answer or hand off from there; the WAL append of a
 * Write runs on the write pools and answers from the group commit; Search, Scan, large BatchGets and
 * reads at an older snapshot run on the read pool. Get, BatchGet and Search write their responses
 * from the stored document bytes ({@link EncodedResponse}): {@link #definition} binds them with
 * that marshaller. Thread-safe.
 */
final class DocumentGrpcService extends DocumentServiceGrpc.DocumentServiceImplBase {
  /** Most ids of one BatchGet. */
  static final int MAX_BATCH_GET = 1000;
  /** BatchGets of at most this many ids at the head run on the transport thread. */
  static final int INLINE_BATCH_IDS = 32;
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

  /**
   * The service as the server binds it: the generated definition with Get, BatchGet and Search
   * replaced by methods of the same names, request types and schema (so reflection is unchanged)
   * whose responses are {@link EncodedResponse}s.
   */
  static ServerServiceDefinition definition(ServerContext ctx) {
    DocumentGrpcService service = new DocumentGrpcService(ctx);
    ServerServiceDefinition generated = service.bindService();
    ServiceDescriptor original = generated.getServiceDescriptor();
    ServiceDescriptor.Builder descriptor =
        ServiceDescriptor.newBuilder(original.getName()).setSchemaDescriptor(original.getSchemaDescriptor());
    List<ServerMethodDefinition<?, ?>> methods = new ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : generated.getMethods()) {
      String name = m.getMethodDescriptor().getFullMethodName();
      ServerMethodDefinition<?, ?> bound = m;
      if (name.equals(DocumentServiceGrpc.getGetMethod().getFullMethodName())) {
        bound = encoded(DocumentServiceGrpc.getGetMethod(), service::getEncoded);
      } else if (name.equals(DocumentServiceGrpc.getBatchGetMethod().getFullMethodName())) {
        bound = encoded(DocumentServiceGrpc.getBatchGetMethod(), service::batchGetEncoded);
      } else if (name.equals(DocumentServiceGrpc.getSearchMethod().getFullMethodName())) {
        bound = encoded(DocumentServiceGrpc.getSearchMethod(), service::searchEncoded);
      }
      descriptor.addMethod(bound.getMethodDescriptor());
      methods.add(bound);
    }
    ServerServiceDefinition.Builder out = ServerServiceDefinition.builder(descriptor.build());
    methods.forEach(out::addMethod);
    return out.build();
  }

  private static <Q> ServerMethodDefinition<Q, EncodedResponse> encoded(
      MethodDescriptor<Q, ?> typed, ServerCalls.UnaryMethod<Q, EncodedResponse> handler) {
    MethodDescriptor<Q, EncodedResponse> method =
        typed.toBuilder(typed.getRequestMarshaller(), EncodedResponse.MARSHALLER).build();
    return ServerMethodDefinition.create(method, ServerCalls.asyncUnaryCall(handler));
  }

  // ---------------------------------------------------------------- Write

  /**
   * Validates on the transport thread (allocation-free unless it finds a problem), then hands the
   * write to the engine's asynchronous path: the WAL append runs on {@code strata-write-N} (a
   * stalled write on {@code strata-write-stall-N}) and the answer is sent when the group commit
   * completes the write's future. No thread waits for the fsync.
   */
  @Override
  public void write(WriteRequest req, StreamObserver<WriteResponse> observer) {
    String forkName = req.getFork().isEmpty() ? "main" : req.getFork();
    Fork fork;
    CompletableFuture<Long> lsn;
    long t0 = System.nanoTime();
    try {
      List<dev.strata.engine.model.Mutation> mutations;
      ServerConfig.Limits limits = ctx.config.limits();
      int n = req.getMutationsCount();
      if (!(req.getFork().isEmpty() || Violations.isName(req.getFork()))
          || !Violations.isName(req.getCollection())
          || n == 0
          || n > limits.maxMutationsPerWrite()
          || req.getDurability() == Durability.UNRECOGNIZED) {
        checkWriteRequest(req, limits); // throws with every problem named
      }
      fork = Resolver.fork(ctx.engine(), forkName);
      CollectionSchema schema = Resolver.collection(fork, req.getCollection()).schema();
      mutations = mutationsOrNull(req, schema, limits);
      if (mutations == null) {
        mutations = checkedMutations(req, schema, limits); // throws with every problem named
      }
      Resolver.requireWritable(fork);
      dev.strata.wal.Durability durability =
          req.getDurability() == Durability.DURABILITY_ASYNC
              ? dev.strata.wal.Durability.ASYNC
              : dev.strata.wal.Durability.SYNC;
      // A write whose call ended (deadline, cancel) before its WAL append is not applied.
      lsn = fork.writeAsync(req.getCollection(), mutations, durability, ctx.exec.writes, Context.current()::isCancelled);
    } catch (RuntimeException e) {
      countStall(forkName, e);
      Rpc.fail(observer, e, "");
      return;
    }
    String forkId = fork.id();
    lsn.whenComplete(
        (l, err) -> {
          ctx.metrics.observeWrite(forkName, System.nanoTime() - t0);
          if (err != null) {
            countStall(forkName, err);
            Rpc.fail(observer, err, "");
          } else {
            Rpc.answer(observer, WriteResponse.newBuilder().setLsn(l).setForkId(forkId).build());
          }
        });
  }

  private void countStall(String fork, Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof StrataException se && se.kind() == StrataException.Kind.RESOURCE_EXHAUSTED) {
      ctx.countStall(fork);
    }
  }

  /**
   * The request-level checks of a Write, with messages.
   *
   * @throws ApiError INVALID_ARGUMENT naming every problem
   */
  private static void checkWriteRequest(WriteRequest req, ServerConfig.Limits limits) {
    Violations v = new Violations();
    v.forkOrMain("fork", req.getFork());
    v.name("collection", req.getCollection(), "collection");
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
  }

  /**
   * The engine mutations of a valid request, built without allocating anything but them; null at
   * the first problem (then {@link #checkedMutations} names them all). Accepts exactly what {@link
   * #checkedMutations} accepts, or less.
   */
  private static List<dev.strata.engine.model.Mutation> mutationsOrNull(
      WriteRequest req, CollectionSchema schema, ServerConfig.Limits limits) {
    int n = req.getMutationsCount();
    List<dev.strata.engine.model.Mutation> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Mutation m = req.getMutations(i);
      switch (m.getKindCase()) {
        case DELETE_ID -> {
          if (!Violations.isDocumentId(m.getDeleteId(), limits.maxIdBytes())) {
            return null;
          }
          out.add(new dev.strata.engine.model.Mutation.Delete(m.getDeleteId()));
        }
        case PUT -> {
          Document d = m.getPut();
          if (!Violations.isDocumentId(d.getId(), limits.maxIdBytes())
              || d.getSerializedSize() > limits.maxDocumentBytes()
              || d.getFieldsCount() > limits.maxFieldsPerDocument()) {
            return null;
          }
          // Written straight into the stored form; the writer orders the fields canonically.
          DocumentBodyWriter body = new DocumentBodyWriter(d.getId(), d.getSerializedSize());
          for (Map.Entry<String, Value> f : d.getFieldsMap().entrySet()) {
            if (!Violations.isFieldName(f.getKey()) || !putFieldIfValid(body, f.getKey(), f.getValue(), schema.field(f.getKey()))) {
              return null;
            }
          }
          out.add(new dev.strata.engine.model.Mutation.Put(body.build()));
        }
        default -> {
          return null;
        }
      }
    }
    return out;
  }

  /**
   * {@link #putField} without messages: writes the value and returns true if it is valid, else
   * writes nothing and returns false. Accepts exactly what {@link #putField} accepts.
   */
  private static boolean putFieldIfValid(DocumentBodyWriter body, String name, Value value, Optional<FieldSpec> spec) {
    Value.KindCase k = value.getKindCase();
    if (k == Value.KindCase.KIND_NOT_SET) {
      return false;
    }
    if (spec.isPresent()) {
      switch (spec.get().kind()) {
        case TEXT -> {
          if (k != Value.KindCase.STRING_VALUE && k != Value.KindCase.STRING_LIST_VALUE) {
            return false;
          }
        }
        case KEYWORD -> {
          if (!keywordFits(value)) {
            return false;
          }
        }
        case LONG -> {
          if (k != Value.KindCase.INT64_VALUE) {
            return false;
          }
        }
        case DOUBLE -> {
          if (k == Value.KindCase.INT64_VALUE) {
            body.putDouble(name, value.getInt64Value());
            return true;
          }
          if (k != Value.KindCase.DOUBLE_VALUE || !Double.isFinite(value.getDoubleValue())) {
            return false;
          }
        }
        default -> {}
      }
    }
    ApiConversions.putValue(body, name, value);
    return true;
  }

  /** A string or string list whose every value is a term Lucene accepts. */
  private static boolean keywordFits(Value value) {
    if (value.getKindCase() == Value.KindCase.STRING_VALUE) {
      return termFits(value.getStringValue());
    }
    if (value.getKindCase() != Value.KindCase.STRING_LIST_VALUE) {
      return false;
    }
    List<String> l = value.getStringListValue().getValuesList();
    for (int i = 0; i < l.size(); i++) {
      if (!termFits(l.get(i))) {
        return false;
      }
    }
    return true;
  }

  private static boolean termFits(String s) {
    int n = Violations.utf8Length(s);
    return n >= 0 && n <= MAX_TERM_BYTES;
  }

  /**
   * Every mutation checked against the schema and limits, with a message per problem.
   *
   * @throws ApiError INVALID_ARGUMENT if any problem is found
   */
  private static List<dev.strata.engine.model.Mutation> checkedMutations(
      WriteRequest req, CollectionSchema schema, ServerConfig.Limits limits) {
    Violations v = new Violations();
    int n = req.getMutationsCount();
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
    return mutations;
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
              int n = Violations.utf8Length(s);
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

  /**
   * Get: on the transport thread (one L0 lookup and RocksDB point reads, nothing that waits for
   * another thread), unless it reads an older snapshot, which may have to be opened, or the segment
   * cache may have to fetch a segment ({@code storage.cache_bytes}): then on {@code strata-read-N}. The response is written from the stored bytes ({@link
   * EncodedResponse}).
   */
  void getEncoded(GetRequest req, StreamObserver<EncodedResponse> observer) {
    EncodedResponse r;
    try {
      checkGet(req);
      Fork fork = Resolver.fork(ctx.engine(), forkOf(req.getFork()));
      if ((!req.getSnapshotId().isEmpty() && !isHead(fork, req.getSnapshotId()))
          || ctx.engine().segments().readsMayFetch()) { // may wait for a segment download
        ctx.exec.unary(ctx.exec.reads, observer, "", () -> getAt(fork, req));
        return;
      }
      r = getAt(fork, req);
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "");
      return;
    }
    Rpc.answer(observer, r);
  }

  private static String forkOf(String requested) {
    return requested.isEmpty() ? "main" : requested;
  }

  /** True if {@code snapshotId} is the fork's head now (reading it needs no snapshot opened). */
  private static boolean isHead(Fork fork, String snapshotId) {
    PublishedSnapshot head = fork.acquireHead();
    if (head == null) {
      return false;
    }
    try {
      return head.id().equals(snapshotId);
    } finally {
      head.release();
    }
  }

  private void checkGet(GetRequest req) {
    if ((req.getFork().isEmpty() || Violations.isName(req.getFork()))
        && Violations.isName(req.getCollection())
        && Violations.isDocumentId(req.getId(), ctx.config.limits().maxIdBytes())
        && req.getSnapshotId().isEmpty()) {
      return;
    }
    Violations v = new Violations();
    v.forkOrMain("fork", req.getFork());
    v.name("collection", req.getCollection(), "collection");
    v.documentId("id", req.getId(), ctx.config.limits().maxIdBytes());
    v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
    v.throwIfAny();
  }

  private EncodedResponse getAt(Fork fork, GetRequest req) {
    String collection = req.getCollection();
    DocumentVersion found;
    if (req.getSnapshotId().isEmpty()) {
      found = storedAtHead(fork, collection, req.getId());
    } else {
      PublishedSnapshot snap = Resolver.acquire(fork, req.getSnapshotId());
      try {
        Resolver.collection(snap.manifest(), collection);
        found = fork.reader().get(collection, List.of(req.getId()), snap)[0];
      } finally {
        snap.release();
      }
    }
    if (found == null) {
      throw ApiError.of(
          Status.Code.NOT_FOUND,
          ErrorReason.DOCUMENT_NOT_FOUND,
          "document '" + Violations.printable(req.getId()) + "' does not exist in collection '" + collection
              + "' of fork '" + fork.name() + "'" + (req.getSnapshotId().isEmpty() ? "" : " at " + req.getSnapshotId()),
          "fork",
          fork.name(),
          "collection",
          collection,
          "id",
          req.getId());
    }
    return EncodedResponse.get(found.stored());
  }

  /** The live version of one id at the head; NOT_FOUND (COLLECTION_NOT_FOUND) for a missing collection. */
  private static DocumentVersion storedAtHead(Fork fork, String collection, String id) {
    try {
      return fork.get(collection, id);
    } catch (StrataException e) {
      throw e.kind() == StrataException.Kind.NOT_FOUND ? Resolver.collectionNotFound(fork.name(), collection) : e;
    }
  }

  /**
   * BatchGet: up to {@value #INLINE_BATCH_IDS} ids at the head on the transport thread, larger
   * batches and older snapshots on {@code strata-read-N}; L0 first, then one RocksDB {@code
   * MultiGet} per segment, the response written from the stored bytes.
   */
  void batchGetEncoded(BatchGetRequest req, StreamObserver<EncodedResponse> observer) {
    EncodedResponse r;
    try {
      checkBatchGet(req);
      Fork fork = Resolver.fork(ctx.engine(), forkOf(req.getFork()));
      if (req.getIdsCount() > INLINE_BATCH_IDS
          || (!req.getSnapshotId().isEmpty() && !isHead(fork, req.getSnapshotId()))
          || ctx.engine().segments().readsMayFetch()) { // may wait for a segment download
        ctx.exec.unary(ctx.exec.reads, observer, "", () -> batchGetAt(fork, req));
        return;
      }
      r = batchGetAt(fork, req);
    } catch (RuntimeException e) {
      Rpc.fail(observer, e, "");
      return;
    }
    Rpc.answer(observer, r);
  }

  private void checkBatchGet(BatchGetRequest req) {
    int n = req.getIdsCount();
    int maxId = ctx.config.limits().maxIdBytes();
    boolean ok =
        (req.getFork().isEmpty() || Violations.isName(req.getFork()))
            && Violations.isName(req.getCollection())
            && req.getSnapshotId().isEmpty()
            && n > 0
            && n <= MAX_BATCH_GET;
    for (int i = 0; ok && i < n; i++) {
      ok = Violations.isDocumentId(req.getIds(i), maxId);
    }
    if (ok) {
      return;
    }
    Violations v = new Violations();
    v.forkOrMain("fork", req.getFork());
    v.name("collection", req.getCollection(), "collection");
    v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
    if (n == 0) {
      v.add("ids", "at least one id is required");
    } else if (n > MAX_BATCH_GET) {
      v.add("ids", "at most " + MAX_BATCH_GET + " ids, got " + n);
    } else {
      for (int i = 0; i < n; i++) {
        v.documentId("ids[" + i + "]", req.getIds(i), maxId);
      }
    }
    v.throwIfAny();
  }

  private EncodedResponse batchGetAt(Fork fork, BatchGetRequest req) {
    String collection = req.getCollection();
    DocumentVersion[] found;
    if (req.getSnapshotId().isEmpty()) {
      try {
        found = fork.reader().get(collection, req.getIdsList(), null);
      } catch (StrataException e) {
        throw e.kind() == StrataException.Kind.NOT_FOUND ? Resolver.collectionNotFound(fork.name(), collection) : e;
      }
    } else {
      PublishedSnapshot snap = Resolver.acquire(fork, req.getSnapshotId());
      try {
        Resolver.collection(snap.manifest(), collection);
        found = fork.reader().get(collection, req.getIdsList(), snap);
      } finally {
        snap.release();
      }
    }
    EncodedDocument[] docs = new EncodedDocument[found.length];
    for (int i = 0; i < found.length; i++) {
      docs[i] = found[i] == null ? null : found[i].stored();
    }
    return EncodedResponse.batchGet(req.getIdsList(), docs);
  }

  // ---------------------------------------------------------------- Scan

  /** Scan: a stream produced on {@code strata-read-N}, paced by the client's flow control. */
  @Override
  public void scan(ScanRequest req, StreamObserver<ScanResponse> observer) {
    StreamSender<ScanResponse> sender = new StreamSender<>(observer); // registers its handlers now
    ctx.exec.run(ctx.exec.reads, observer, () -> scan(req, sender));
  }

  private void scan(ScanRequest req, StreamSender<ScanResponse> sender) {
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

  /**
   * Search: on {@code strata-read-N}, over the snapshot's shared searcher, the response written
   * from the hits' stored bytes. {@code WAIT_FOR_FLUSHED} first rotates on {@code strata-rpc-N}
   * (that may wait for a flush permit) and waits for the ticket without holding a thread.
   */
  void searchEncoded(SearchRequest req, StreamObserver<EncodedResponse> observer) {
    boolean waitFlushed = req.getWaitFor() == WaitFor.WAIT_FOR_FLUSHED && req.getSnapshotId().isEmpty();
    ctx.exec.run(
        waitFlushed ? ctx.exec.blocking : ctx.exec.reads,
        observer,
        () -> {
          Prepared p;
          try {
            p = prepare(req);
          } catch (RuntimeException e) {
            Rpc.fail(observer, e, "query");
            return;
          }
          if (!waitFlushed) {
            Rpc.unary(observer, "query", () -> p.run());
            return;
          }
          CompletableFuture<Manifest> flushed;
          try {
            flushed = flushed(p.fork);
          } catch (RuntimeException e) {
            Rpc.fail(observer, e, "query");
            return;
          }
          Rpc.whenDone(
              observer,
              flushed,
              "the flush of fork '" + p.fork.name() + "' (WAIT_FOR_FLUSHED)",
              ctx.exec.reads,
              m -> Rpc.unary(observer, "query", () -> p.run()));
        });
  }

  /** A checked search, ready to run at the head or at its snapshot. */
  private final class Prepared {
    final Fork fork;
    final String collection;
    final String snapshotId;
    final SearchQuery query;

    Prepared(Fork fork, String collection, String snapshotId, SearchQuery query) {
      this.fork = fork;
      this.collection = collection;
      this.snapshotId = snapshotId;
      this.query = query;
    }

    EncodedResponse run() {
      PublishedSnapshot snap = snapshotId.isEmpty() ? fork.acquireHead() : Resolver.acquire(fork, snapshotId);
      if (snap == null) {
        return EncodedResponse.search(new SearchResult(List.of(), 0), ""); // nothing published yet
      }
      try {
        return EncodedResponse.search(fork.search(collection, query, snap), snap.id());
      } finally {
        snap.release();
      }
    }
  }

  /** Checks a search request against the collection's schema (at its snapshot, if it names one). */
  private Prepared prepare(SearchRequest req) {
    Violations v = new Violations();
    String forkName = v.forkOrMain("fork", req.getFork());
    String collection = v.name("collection", req.getCollection(), "collection");
    v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
    int maxQueryBytes = ctx.config.limits().maxQueryBytes();
    long queryBytes = Violations.utf8Length(req.getQuery());
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
    CollectionSchema schema;
    if (req.getSnapshotId().isEmpty()) {
      schema = Resolver.collection(fork, collection).schema();
    } else {
      PublishedSnapshot snap = Resolver.acquire(fork, req.getSnapshotId());
      try {
        schema = ApiConversions.schema(Resolver.collection(snap.manifest(), collection));
      } finally {
        snap.release();
      }
    }
    SearchQuery query = query(v, req, schema);
    v.throwIfAny();
    return new Prepared(fork, collection, req.getSnapshotId(), query);
  }

  /**
   * A future of the head covering every write acknowledged before now: rotates if needed (may wait
   * for a permit, at most the write-stall timeout and the call's deadline); already complete when
   * there is nothing to flush.
   */
  private CompletableFuture<Manifest> flushed(Fork fork) {
    long lastLsn = fork.stats().walLastLsn();
    Optional<Manifest> head = fork.head();
    if (lastLsn == 0 || (head.isPresent() && head.get().getCoveredLsn() >= lastLsn)) {
      return CompletableFuture.completedFuture(head.orElse(null)); // nothing the head does not cover
    }
    Resolver.requireWritable(fork);
    long permitWaitMs = Math.min(ctx.config.writeStallTimeoutMs(), Deadlines.remainingMs(Long.MAX_VALUE));
    FlushTicket t = ctx.countingStalls(fork.name(), () -> fork.flush(permitWaitMs));
    return fork.awaitTicket(t);
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
            int bytes = Violations.utf8Length(f.getValues(j));
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
