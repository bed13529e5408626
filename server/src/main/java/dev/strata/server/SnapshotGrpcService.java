package dev.strata.server;

import dev.strata.api.v1.ChangeKind;
import dev.strata.api.v1.DeleteTagRequest;
import dev.strata.api.v1.DeleteTagResponse;
import dev.strata.api.v1.DiffEntry;
import dev.strata.api.v1.DiffSnapshotsRequest;
import dev.strata.api.v1.DiffSnapshotsResponse;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.GetSnapshotRequest;
import dev.strata.api.v1.GetSnapshotResponse;
import dev.strata.api.v1.ListSnapshotsRequest;
import dev.strata.api.v1.ListSnapshotsResponse;
import dev.strata.api.v1.Snapshot;
import dev.strata.api.v1.SnapshotServiceGrpc;
import dev.strata.api.v1.TagSnapshotRequest;
import dev.strata.api.v1.TagSnapshotResponse;
import dev.strata.api.v1.WatchChangesRequest;
import dev.strata.api.v1.WatchChangesResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.read.SnapshotDiff;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * {@code strata.v1.SnapshotService}: listing, tags and diffs of snapshots. Listings and diffs read
 * manifests and segments, so they run on {@code strata-read-N}; tag changes write the catalog
 * (fsync) on {@code strata-rpc-N} ({@link CallExecutors}). Thread-safe.
 */
final class SnapshotGrpcService extends SnapshotServiceGrpc.SnapshotServiceImplBase {
  /** Diff entries per stream message. */
  static final int DIFF_BATCH = 1000;

  private final ServerContext ctx;

  SnapshotGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void listSnapshots(ListSnapshotsRequest req, StreamObserver<ListSnapshotsResponse> observer) {
    ctx.exec.unary(
        ctx.exec.reads,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          int pageSize = v.pageSize("page_size", req.getPageSize());
          v.throwIfAny();
          String scope = "snapshots|" + forkName + "|" + req.getTaggedOnly();
          String after = PageTokens.decode(req.getPageToken(), scope, "page_token");
          long beforeSeq;
          try {
            beforeSeq = after.isEmpty() ? Long.MAX_VALUE : Long.parseLong(after);
          } catch (NumberFormatException e) {
            throw ApiError.invalid("page_token", "page_token is not a token returned by this RPC");
          }
          StrataEngine engine = ctx.engine();
          Fork fork = Resolver.fork(engine, forkName);
          Set<String> tagged = new HashSet<>(engine.tags().values());
          List<Manifest> all = new ArrayList<>(fork.listSnapshots());
          all.sort((a, b) -> Long.compare(b.getSeq(), a.getSeq()));
          ListSnapshotsResponse.Builder out = ListSnapshotsResponse.newBuilder();
          for (Manifest m : all) {
            if (m.getSeq() >= beforeSeq || (req.getTaggedOnly() && !tagged.contains(m.getId()))) {
              continue;
            }
            if (out.getSnapshotsCount() == pageSize) {
              out.setNextPageToken(
                  PageTokens.encode(scope, Long.toString(out.getSnapshots(out.getSnapshotsCount() - 1).getSeq())));
              break;
            }
            out.addSnapshots(ctx.snapshotView(m));
          }
          return out.build();
        });
  }

  @Override
  public void getSnapshot(GetSnapshotRequest req, StreamObserver<GetSnapshotResponse> observer) {
    ctx.exec.unary(
        ctx.exec.reads,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          switch (req.getSelectorCase()) {
            case SNAPSHOT_ID -> v.snapshotId("snapshot_id", req.getSnapshotId());
            case TAG -> v.tag("tag", req.getTag());
            default -> v.add("snapshot_id", "set snapshot_id or tag");
          }
          v.throwIfAny();
          StrataEngine engine = ctx.engine();
          String id = req.hasTag() ? taggedSnapshot(engine, req.getTag()) : req.getSnapshotId();
          return GetSnapshotResponse.newBuilder().setSnapshot(exactView(engine, id)).build();
        });
  }

  /** The snapshot id a tag names. */
  private static String taggedSnapshot(StrataEngine engine, String tag) {
    String id = engine.tags().get(tag);
    if (id == null) {
      throw ApiError.of(Status.Code.NOT_FOUND, ErrorReason.TAG_NOT_FOUND, "tag '" + tag + "' does not exist", "tag", tag);
    }
    return id;
  }

  /** A snapshot with exact document counts (opens the snapshot once; counts are cached). */
  private Snapshot exactView(StrataEngine engine, String snapshotId) {
    Fork owner = Resolver.ownerOf(ctx, snapshotId);
    PublishedSnapshot snap = Resolver.acquire(owner, snapshotId);
    try {
      return ctx.snapshotView(snap.manifest(), ctx.counts.count(owner, snap));
    } finally {
      snap.release();
    }
  }

  @Override
  public void tagSnapshot(TagSnapshotRequest req, StreamObserver<TagSnapshotResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "tag",
        () -> {
          Violations v = new Violations();
          v.snapshotId("snapshot_id", req.getSnapshotId());
          v.tag("tag", req.getTag());
          v.throwIfAny();
          StrataEngine engine = ctx.engine();
          Fork owner = Resolver.ownerOf(ctx, req.getSnapshotId());
          Manifest m = Resolver.manifest(ctx, req.getSnapshotId());
          if (owner.isDropping()) {
            throw ApiError.of(
                Status.Code.FAILED_PRECONDITION,
                ErrorReason.FORK_DROPPING,
                "fork '" + owner.name() + "' is being dropped",
                "fork",
                owner.name());
          }
          String existing = engine.tags().get(req.getTag());
          if (existing != null && !existing.equals(m.getId())) {
            throw ApiError.of(
                Status.Code.ALREADY_EXISTS,
                ErrorReason.TAG_ALREADY_EXISTS,
                "tag '" + req.getTag() + "' already names snapshot " + existing + "; delete it first to move it",
                "tag",
                req.getTag(),
                "snapshot_id",
                existing);
          }
          if (existing == null) {
            engine.tagSnapshot(m.getId(), req.getTag());
          }
          return TagSnapshotResponse.newBuilder().setSnapshot(ctx.snapshotView(m)).build();
        });
  }

  @Override
  public void deleteTag(DeleteTagRequest req, StreamObserver<DeleteTagResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          v.tag("tag", req.getTag());
          v.throwIfAny();
          StrataEngine engine = ctx.engine();
          String id = taggedSnapshot(engine, req.getTag());
          engine.deleteTag(req.getTag());
          DeleteTagResponse.Builder out = DeleteTagResponse.newBuilder();
          try {
            out.setSnapshot(ctx.snapshotView(Resolver.manifest(ctx, id)));
          } catch (ApiError gone) {
            // The snapshot expired or its fork was dropped; the tag is gone either way.
          }
          return out.build();
        });
  }

  /** {@code WatchChanges}: the change feed, see {@link ChangeFeedStreams}. */
  @Override
  public void watchChanges(WatchChangesRequest req, StreamObserver<WatchChangesResponse> observer) {
    ctx.feeds.start(req, (ServerCallStreamObserver<WatchChangesResponse>) observer);
  }

  @Override
  public void diffSnapshots(DiffSnapshotsRequest req, StreamObserver<DiffSnapshotsResponse> observer) {
    StreamSender<DiffSnapshotsResponse> sender = new StreamSender<>(observer); // registers its handlers now
    ctx.exec.run(ctx.exec.reads, observer, () -> diff(req, sender));
  }

  /** The diff stream, produced on {@code strata-read-N}. */
  private void diff(DiffSnapshotsRequest req, StreamSender<DiffSnapshotsResponse> sender) {
    PublishedSnapshot from = null;
    PublishedSnapshot to = null;
    try {
      Violations v = new Violations();
      v.snapshotId("from_snapshot_id", req.getFromSnapshotId());
      v.snapshotId("to_snapshot_id", req.getToSnapshotId());
      String collection = req.getCollection();
      if (!collection.isEmpty()) {
        v.name("collection", collection, "collection");
      }
      v.throwIfAny();
      StrataEngine engine = ctx.engine();
      from = Resolver.acquire(ctx, req.getFromSnapshotId());
      to = Resolver.acquire(ctx, req.getToSnapshotId());
      if (!isAncestor(engine, from.manifest(), to.manifest())) {
        throw ApiError.of(
            Status.Code.FAILED_PRECONDITION,
            ErrorReason.SNAPSHOT_NOT_ANCESTOR,
            "snapshot " + from.id() + " is not " + to.id() + " or an ancestor of it",
            "from_snapshot_id",
            from.id(),
            "to_snapshot_id",
            to.id());
      }
      if (!collection.isEmpty() && !hasCollection(from.manifest(), collection) && !hasCollection(to.manifest(), collection)) {
        throw ApiError.of(
            Status.Code.NOT_FOUND,
            ErrorReason.COLLECTION_NOT_FOUND,
            "collection '" + collection + "' is in neither snapshot",
            "collection",
            collection);
      }
      DiffSnapshotsResponse.Builder batch = DiffSnapshotsResponse.newBuilder();
      boolean[] stopped = {false};
      if (!from.id().equals(to.id())) {
        SnapshotDiff.diff(
            from,
            to,
            engine.segments(),
            e -> {
              if (sender.cancelled()) {
                stopped[0] = true;
                return false;
              }
              if (!collection.isEmpty() && !collection.equals(e.collection())) {
                return true;
              }
              batch.addEntries(
                  DiffEntry.newBuilder().setCollection(e.collection()).setId(e.id()).setChange(change(e.change())));
              if (batch.getEntriesCount() >= DIFF_BATCH) {
                if (!sender.send(batch.build())) {
                  stopped[0] = true;
                  return false;
                }
                batch.clear();
              }
              return true;
            });
      }
      if (!stopped[0] && (batch.getEntriesCount() == 0 || sender.send(batch.build()))) {
        sender.complete();
      }
    } catch (RuntimeException e) {
      sender.fail(e, "");
    } finally {
      if (to != null) {
        to.release();
      }
      if (from != null) {
        from.release();
      }
    }
  }

  private static ChangeKind change(SnapshotDiff.Change c) {
    return switch (c) {
      case ADDED -> ChangeKind.CHANGE_KIND_ADDED;
      case CHANGED -> ChangeKind.CHANGE_KIND_CHANGED;
      case DELETED -> ChangeKind.CHANGE_KIND_DELETED;
    };
  }

  private static boolean hasCollection(Manifest m, String name) {
    for (CollectionDef d : m.getCollectionsList()) {
      if (d.getName().equals(name)) {
        return true;
      }
    }
    return false;
  }

  /**
   * True if {@code from} is {@code to} or an ancestor of it. A fork's snapshots form a chain in
   * seq order, and a fork's first snapshot has its base as parent, so: follow {@code to}'s fork
   * back through base snapshots until reaching {@code from}'s fork, then compare seqs.
   */
  static boolean isAncestor(StrataEngine engine, Manifest from, Manifest to) {
    String forkId = to.getForkId();
    long seq = to.getSeq();
    String base = to.getBaseSnapshotId();
    for (int hops = 0; hops < 10_000; hops++) {
      if (forkId.equals(from.getForkId())) {
        return from.getSeq() <= seq;
      }
      if (base.isEmpty()) {
        return false;
      }
      forkId = Resolver.forkIdOf(base);
      try {
        seq = Long.parseLong(base.substring(forkId.length() + 1));
      } catch (NumberFormatException | IndexOutOfBoundsException e) {
        return false;
      }
      Optional<Fork> owner = engine.forkById(forkId);
      if (owner.isEmpty()) {
        // A dropped fork in between: its own base is unknown, so only its id can match.
        return forkId.equals(from.getForkId()) && from.getSeq() <= seq;
      }
      base = owner.get().entry().baseSnapshotId();
    }
    return false;
  }
}
