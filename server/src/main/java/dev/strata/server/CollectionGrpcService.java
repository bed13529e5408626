package dev.strata.server;

import dev.strata.api.v1.Collection;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.CreateOrGetCollectionRequest;
import dev.strata.api.v1.CreateOrGetCollectionResponse;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.FieldKind;
import dev.strata.api.v1.FieldSchema;
import dev.strata.api.v1.GetCollectionRequest;
import dev.strata.api.v1.GetCollectionResponse;
import dev.strata.api.v1.ListCollectionsRequest;
import dev.strata.api.v1.ListCollectionsResponse;
import dev.strata.engine.fork.CollectionRegistry;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.manifest.proto.CollectionDef;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code strata.v1.CollectionService}: collection definitions of a fork. CreateOrGetCollection
 * writes a SYNC WAL record on {@code strata-rpc-N}; reads at the head answer on the transport
 * thread, reads at a snapshot (which may have to be opened) on {@code strata-read-N} ({@link
 * CallExecutors}). Thread-safe.
 */
final class CollectionGrpcService extends CollectionServiceGrpc.CollectionServiceImplBase {
  /** Largest schema accepted (docs/api.md). */
  static final int MAX_SCHEMA_FIELDS = 1000;

  /** TEXT analyzers of the API ("" = standard). */
  static final Set<String> ANALYZERS = Set.of("", "standard", "simple", "whitespace", "english");

  private final ServerContext ctx;

  CollectionGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void createOrGetCollection(
      CreateOrGetCollectionRequest req, StreamObserver<CreateOrGetCollectionResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String name = v.name("name", req.getName(), "collection");
          checkSchema(v, req.getFieldsList());
          v.throwIfAny();
          CollectionSchema schema = ApiConversions.schema(req.getFieldsList());
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          CollectionRegistry.Collection existing = fork.collections().get(name);
          if (existing != null && !existing.schema().equals(schema)) {
            throw schemaConflict(fork, existing, schema);
          }
          if (existing == null) {
            Resolver.requireWritable(fork);
          }
          CollectionRegistry.Defined defined =
              ctx.countingStalls(forkName, () -> fork.defineCollection(name, schema));
          CollectionRegistry.Collection c = defined.collection();
          boolean created = defined.created();
          long docs = ctx.counts.head(fork).getOrDefault(name, 0L);
          return CreateOrGetCollectionResponse.newBuilder()
              .setCollection(ApiConversions.collection(name, c.schema(), docs))
              .setCreated(created)
              .setLsn(created ? c.createdLsn() : 0)
              .setForkId(fork.id())
              .build();
        });
  }

  private static ApiError schemaConflict(Fork fork, CollectionRegistry.Collection existing, CollectionSchema wanted) {
    return ApiError.of(
        Status.Code.FAILED_PRECONDITION,
        ErrorReason.COLLECTION_SCHEMA_CONFLICT,
        "collection '" + existing.name() + "' exists in fork '" + fork.name() + "' with a different schema: "
            + existing.schema().describeDifference(wanted) + " (schemas are immutable)",
        "fork",
        fork.name(),
        "collection",
        existing.name());
  }

  /** Checks a schema: field names, duplicates, kinds, analyzers, size. */
  static void checkSchema(Violations v, List<FieldSchema> fields) {
    if (fields.size() > MAX_SCHEMA_FIELDS) {
      v.add("fields", "a schema has at most " + MAX_SCHEMA_FIELDS + " fields, got " + fields.size());
      return;
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < fields.size(); i++) {
      FieldSchema f = fields.get(i);
      String path = "fields[" + i + "]";
      v.fieldName(path + ".name", f.getName());
      if (!seen.add(f.getName())) {
        v.add(path + ".name", "field '" + Violations.printable(f.getName()) + "' is defined twice");
      }
      if (f.getKind() == FieldKind.FIELD_KIND_UNSPECIFIED || f.getKind() == FieldKind.UNRECOGNIZED) {
        v.add(path + ".kind", "field kind must be TEXT, KEYWORD, LONG, DOUBLE or STORED");
      } else if (f.getKind() == FieldKind.FIELD_KIND_TEXT) {
        if (!ANALYZERS.contains(f.getAnalyzer())) {
          v.add(
              path + ".analyzer",
              "unknown analyzer '" + Violations.printable(f.getAnalyzer())
                  + "': use standard (the default), simple, whitespace or english");
        }
      } else if (!f.getAnalyzer().isEmpty()) {
        v.add(path + ".analyzer", "only TEXT fields take an analyzer");
      }
    }
  }

  @Override
  public void getCollection(GetCollectionRequest req, StreamObserver<GetCollectionResponse> observer) {
    ctx.exec.unary(
        req.getSnapshotId().isEmpty() ? null : ctx.exec.reads, // a snapshot may have to be opened
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          String name = v.name("name", req.getName(), "collection");
          v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          if (req.getSnapshotId().isEmpty()) {
            CollectionRegistry.Collection c = Resolver.collection(fork, name);
            long docs = ctx.counts.head(fork).getOrDefault(name, 0L);
            return GetCollectionResponse.newBuilder()
                .setCollection(ApiConversions.collection(name, c.schema(), docs))
                .build();
          }
          PublishedSnapshot snap = Resolver.acquire(fork, req.getSnapshotId());
          try {
            CollectionDef d = Resolver.collection(snap.manifest(), name);
            long docs = ctx.counts.count(fork, snap).getOrDefault(name, 0L);
            return GetCollectionResponse.newBuilder()
                .setCollection(ApiConversions.collection(name, ApiConversions.schema(d), docs))
                .build();
          } finally {
            snap.release();
          }
        });
  }

  @Override
  public void listCollections(ListCollectionsRequest req, StreamObserver<ListCollectionsResponse> observer) {
    ctx.exec.unary(
        req.getSnapshotId().isEmpty() ? null : ctx.exec.reads, // a snapshot may have to be opened
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          v.optionalSnapshotId("snapshot_id", req.getSnapshotId());
          int pageSize = v.pageSize("page_size", req.getPageSize());
          v.throwIfAny();
          String scope = "collections|" + forkName + "|" + req.getSnapshotId();
          String after = PageTokens.decode(req.getPageToken(), scope, "page_token");
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          List<Collection> all = new ArrayList<>();
          if (req.getSnapshotId().isEmpty()) {
            Map<String, Long> counts = ctx.counts.head(fork);
            for (CollectionRegistry.Collection c : fork.collections().all()) {
              all.add(ApiConversions.collection(c.name(), c.schema(), counts.getOrDefault(c.name(), 0L)));
            }
          } else {
            PublishedSnapshot snap = Resolver.acquire(fork, req.getSnapshotId());
            try {
              Map<String, Long> counts = ctx.counts.count(fork, snap);
              for (CollectionDef d : snap.manifest().getCollectionsList()) {
                all.add(
                    ApiConversions.collection(
                        d.getName(), ApiConversions.schema(d), counts.getOrDefault(d.getName(), 0L)));
              }
            } finally {
              snap.release();
            }
          }
          all.sort((a, b) -> a.getName().compareTo(b.getName()));
          ListCollectionsResponse.Builder out = ListCollectionsResponse.newBuilder();
          for (Collection c : all) {
            if (!after.isEmpty() && c.getName().compareTo(after) <= 0) {
              continue;
            }
            if (out.getCollectionsCount() == pageSize) {
              out.setNextPageToken(
                  PageTokens.encode(scope, out.getCollections(out.getCollectionsCount() - 1).getName()));
              break;
            }
            out.addCollections(c);
          }
          return out.build();
        });
  }
}
