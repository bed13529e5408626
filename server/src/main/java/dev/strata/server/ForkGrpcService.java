package dev.strata.server;

import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.CreateForkResponse;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.DropForkResponse;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.GetForkRequest;
import dev.strata.api.v1.GetForkResponse;
import dev.strata.api.v1.ListForksRequest;
import dev.strata.api.v1.ListForksResponse;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code strata.v1.ForkService}: creating, listing and dropping forks. Create and drop write files
 * and wait for drains on {@code strata-rpc-N}; GetFork and ListForks read memory and answer on the
 * transport thread ({@link CallExecutors}). Thread-safe.
 */
final class ForkGrpcService extends ForkServiceGrpc.ForkServiceImplBase {
  /** DropFork's drain timeout when the request sets none. */
  static final long DEFAULT_DRAIN_MS = 30_000;

  /** Bound on CreateFork's flush_first wait when the call has no deadline. */
  static final long DEFAULT_FLUSH_FIRST_MS = 120_000;

  private final ServerContext ctx;

  ForkGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void createFork(CreateForkRequest req, StreamObserver<CreateForkResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String name = v.name("name", req.getName(), "fork");
          switch (req.getSourceCase()) {
            case FROM_SNAPSHOT_ID -> {
              v.snapshotId("from_snapshot_id", req.getFromSnapshotId());
              if (req.getFlushFirst()) {
                v.add("flush_first", "flush_first needs from_fork (a snapshot never changes)");
              }
            }
            case FROM_FORK -> v.name("from_fork", req.getFromFork(), "fork");
            default -> v.add("from_snapshot_id", "set from_snapshot_id or from_fork");
          }
          v.throwIfAny();
          StrataEngine engine = ctx.engine();
          requireFree(engine, name);
          Fork created;
          if (req.hasFromSnapshotId()) {
            Manifest base = Resolver.manifest(ctx, req.getFromSnapshotId());
            created = engine.createFork(name, base.getId(), null, false, 0);
          } else {
            Fork source = Resolver.fork(engine, req.getFromFork());
            if (req.getFlushFirst()) {
              Resolver.requireWritable(source);
              if (source.head().isEmpty() && source.stats().walLastLsn() == 0) {
                throw noSnapshot(source);
              }
            } else if (source.head().isEmpty()) {
              throw noSnapshot(source);
            }
            long timeoutMs = Deadlines.remainingMs(DEFAULT_FLUSH_FIRST_MS);
            created =
                ctx.countingStalls(
                    source.name(), () -> engine.createFork(name, null, source.name(), req.getFlushFirst(), timeoutMs));
          }
          return CreateForkResponse.newBuilder().setFork(ctx.forkView(created)).build();
        });
  }

  private static void requireFree(StrataEngine engine, String name) {
    for (Fork f : engine.openForks()) {
      if (f.name().equals(name)) {
        throw ApiError.of(
            Status.Code.ALREADY_EXISTS, ErrorReason.FORK_ALREADY_EXISTS, "fork '" + name + "' already exists", "fork", name);
      }
    }
  }

  private static ApiError noSnapshot(Fork source) {
    return ApiError.of(
        Status.Code.FAILED_PRECONDITION,
        null,
        "fork '" + source.name() + "' has no snapshot yet"
            + (source.stats().walLastLsn() == 0 ? " and no data" : ": flush it first, or pass flush_first"),
        "fork",
        source.name());
  }

  @Override
  public void getFork(GetForkRequest req, StreamObserver<GetForkResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          Violations v = new Violations();
          String name = v.name("name", req.getName(), "fork");
          v.throwIfAny();
          return GetForkResponse.newBuilder().setFork(ctx.forkView(Resolver.fork(ctx.engine(), name))).build();
        });
  }

  @Override
  public void listForks(ListForksRequest req, StreamObserver<ListForksResponse> observer) {
    Rpc.unary(
        observer,
        () -> {
          Violations v = new Violations();
          int pageSize = v.pageSize("page_size", req.getPageSize());
          v.throwIfAny();
          String after = PageTokens.decode(req.getPageToken(), "forks", "page_token");
          ListForksResponse.Builder out = ListForksResponse.newBuilder();
          for (Fork f : ctx.engine().openForks()) { // sorted by name
            if (!after.isEmpty() && f.name().compareTo(after) <= 0) {
              continue;
            }
            if (out.getForksCount() == pageSize) {
              out.setNextPageToken(PageTokens.encode("forks", out.getForks(out.getForksCount() - 1).getName()));
              break;
            }
            out.addForks(ctx.forkView(f));
          }
          return out.build();
        });
  }

  @Override
  public void dropFork(DropForkRequest req, StreamObserver<DropForkResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String name = v.name("name", req.getName(), "fork");
          long drainMs = DEFAULT_DRAIN_MS;
          if (req.hasDrainTimeout()) {
            com.google.protobuf.Duration d = req.getDrainTimeout();
            if (d.getSeconds() < 0 || d.getNanos() < 0) {
              v.add("drain_timeout", "drain_timeout must not be negative");
            } else {
              drainMs = Math.min(Long.MAX_VALUE / 2, d.getSeconds() * 1000 + d.getNanos() / 1_000_000);
            }
          }
          v.throwIfAny();
          if (name.equals(StrataEngine.MAIN)) {
            throw ApiError.of(
                Status.Code.FAILED_PRECONDITION,
                ErrorReason.MAIN_FORK_PROTECTED,
                "fork 'main' cannot be dropped",
                "fork",
                name);
          }
          StrataEngine engine = ctx.engine();
          Fork fork = Resolver.fork(engine, name);
          if (fork.isDropping()) {
            throw ApiError.of(
                Status.Code.FAILED_PRECONDITION,
                ErrorReason.FORK_DROPPING,
                "fork '" + name + "' is already being dropped",
                "fork",
                name);
          }
          long boundMs = Math.min(drainMs, Deadlines.remainingMs(Long.MAX_VALUE));
          int pending = fork.stats().pendingFlushes();
          List<Manifest> snapshots = fork.listSnapshots();
          List<String> tags = new ArrayList<>();
          engine.tags().forEach((tag, id) -> {
            if (Resolver.forkIdOf(id).equals(fork.id())) {
              tags.add(tag);
            }
          });
          tags.sort(null);
          Set<Long> own = new HashSet<>(fork.referencedSegments());
          long walBytes = DiskUsage.bytesUnder(DiskUsage.walDir(engine.dataDir(), fork.id()));
          engine.dropFork(name, boundMs);
          ctx.droppedForks.record(fork.id());
          for (Fork other : engine.openForks()) {
            own.removeAll(other.referencedSegments());
          }
          Map<Long, Long> sizes = new HashMap<>();
          for (Manifest m : snapshots) {
            for (SegmentRef r : m.getSegmentsList()) {
              sizes.put(Long.parseUnsignedLong(r.getSegmentId(), 16), r.getSizeBytes());
            }
          }
          long reclaimedBytes = walBytes;
          for (long id : own) {
            reclaimedBytes += sizes.getOrDefault(id, 0L);
          }
          return DropForkResponse.newBuilder()
              .setForkId(fork.id())
              .setDrainedFlushes(pending)
              .setDeletedSnapshots(snapshots.size())
              .addAllDeletedTags(tags)
              .setReclaimedSegments(own.size())
              .setReclaimedBytes(reclaimedBytes)
              .build();
        });
  }

  /** {@code MergeFork}: see {@link MergeForkRpc}; statuses as fork.proto says. */
  @Override
  public void mergeFork(MergeForkRequest req, StreamObserver<MergeForkResponse> observer) {
    // A three-way merge reads and writes whole change sets: never on a transport thread.
    ctx.exec.unary(ctx.exec.blocking, observer, "target", () -> MergeForkRpc.merge(ctx, req));
  }
}
