package dev.strata.server;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CompactRequest;
import dev.strata.api.v1.CompactResponse;
import dev.strata.api.v1.ForkState;
import dev.strata.api.v1.ForkStats;
import dev.strata.api.v1.MemoryStats;
import dev.strata.api.v1.SegmentCacheStats;
import dev.strata.api.v1.SnapshotKind;
import dev.strata.api.v1.StatsRequest;
import dev.strata.api.v1.StatsResponse;
import dev.strata.api.v1.VerifyProblem;
import dev.strata.api.v1.VerifyProblemKind;
import dev.strata.api.v1.VerifyRequest;
import dev.strata.api.v1.VerifyResponse;
import dev.strata.engine.StrataEngine;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.objectstore.ObjectStorageTier;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code strata.v1.AdminService}: compaction on demand, statistics and verification. Compact and
 * Verify wait on I/O on {@code strata-rpc-N}; Stats on {@code strata-read-N} ({@link
 * CallExecutors}). Thread-safe.
 */
final class AdminGrpcService extends AdminServiceGrpc.AdminServiceImplBase {
  private static final Pattern FORK_PROBLEM = Pattern.compile("fork (\\S+): (.*)", Pattern.DOTALL);
  private static final Pattern SEGMENT_PROBLEM = Pattern.compile("segment (\\S+) \\(snapshot (\\S+)\\): (.*)", Pattern.DOTALL);

  private final ServerContext ctx;

  AdminGrpcService(ServerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void compact(CompactRequest req, StreamObserver<CompactResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          Violations v = new Violations();
          String forkName = v.forkOrMain("fork", req.getFork());
          v.throwIfAny();
          Fork fork = Resolver.fork(ctx.engine(), forkName);
          Resolver.requireWritable(fork);
          java.util.concurrent.CompletableFuture<dev.strata.engine.compaction.CompactionResult> job =
              ctx.engine()
                  .compact(forkName, req.getForceFullMerge())
                  .exceptionallyCompose(
                      t -> {
                        Throwable c = t instanceof java.util.concurrent.CompletionException ce ? ce.getCause() : t;
                        return java.util.concurrent.CompletableFuture.failedFuture(
                            c instanceof RuntimeException re
                                ? re
                                : dev.strata.engine.StrataException.of(
                                    dev.strata.engine.StrataException.Kind.IO_ERROR,
                                    "compaction of fork '" + forkName + "' failed: " + c.getMessage(),
                                    c));
                      });
          dev.strata.engine.compaction.CompactionResult r =
              Deadlines.await(job, "the compaction of fork '" + forkName + "'");
          CompactResponse.Builder out =
              CompactResponse.newBuilder()
                  .setSegmentsBefore(r.segmentsBefore())
                  .setSegmentsAfter(r.segmentsAfter());
          r.published().ifPresent(m -> out.setSnapshot(ctx.snapshotView(m)));
          return out.build();
        });
  }

  /** The forks a request names (all when empty), checked and resolved in order. */
  private List<Fork> forks(StrataEngine engine, List<String> names) {
    Violations v = new Violations();
    for (int i = 0; i < names.size(); i++) {
      v.name("forks[" + i + "]", names.get(i), "fork");
    }
    v.throwIfAny();
    if (names.isEmpty()) {
      return engine.openForks();
    }
    List<Fork> out = new ArrayList<>();
    for (String n : names) {
      out.add(Resolver.fork(engine, n));
    }
    out.sort((a, b) -> a.name().compareTo(b.name()));
    return out;
  }

  @Override
  public void stats(StatsRequest req, StreamObserver<StatsResponse> observer) {
    ctx.exec.unary(
        ctx.exec.reads,
        observer,
        "",
        () -> {
          StrataEngine engine = ctx.engine();
          StatsResponse.Builder out = StatsResponse.newBuilder().setStartTime(ApiConversions.timestamp(ctx.startTimeMs));
          Map<String, StrataEngine.SegmentUsage> usage = engine.segmentUsage();
          for (Fork f : forks(engine, req.getForksList())) {
            out.addForks(forkStats(engine, f, usage));
          }
          Map<Long, Long> distinct = new HashMap<>();
          for (Fork f : engine.openForks()) {
            distinct.putAll(f.retainedSegmentBytes()); // from memory: no manifest file is read
          }
          out.setSegmentCount(distinct.size());
          out.setSegmentBytes(distinct.values().stream().mapToLong(Long::longValue).sum());
          out.setSnapshotsExpiredTotal(engine.snapshotsExpired())
              .setSegmentsCollectedTotal(engine.segmentsCollected())
              .setCompactionFailuresTotal(engine.compactions().failureCount())
              .setCompactionsRunning(engine.compactions().runningJobs());
          SegmentStore.DeletionStats deletions = engine.segments().deletionStats();
          out.setSegmentDeletionsPending(deletions.pending())
              .setSegmentsDeletedTotal(deletions.deleted())
              .setSegmentDeletionsFailedTotal(deletions.failed());
          StrataEngine.SpaceUsage space = engine.spaceUsage();
          out.setRetainedSegmentBytes(space.retainedBytes())
              .setLiveSegmentBytes(space.liveBytes())
              .setRetentionBoundBytes(space.boundBytes() == Long.MAX_VALUE ? 0 : space.boundBytes())
              .setSnapshotsExpiredForSpaceTotal(space.expiredForSpaceTotal())
              .setSegmentCap(engine.options().compaction().maxSegments())
              .setMemory(memoryStats(engine.memoryUsage()));
          if (engine.segments().fetchesRemote()) {
            out.setSegmentCache(segmentCacheStats(engine.segments().cacheStats()));
          }
          return out.build();
        });
  }

  /** The local segment cache (storage.cache_bytes) as the API shows it. */
  private static SegmentCacheStats segmentCacheStats(dev.strata.engine.segment.SegmentCacheStats c) {
    return SegmentCacheStats.newBuilder()
        .setBudgetBytes(c.budgetBytes())
        .setResidentBytes(c.residentBytes())
        .setPinnedBytes(c.pinnedBytes())
        .setResidentSegments(c.residentSegments())
        .setRemoteSegments(c.remoteSegments())
        .setHitsTotal(c.hits())
        .setFetchesTotal(c.misses())
        .setFetchFailuresTotal(c.downloadFailures())
        .setEvictionsTotal(c.evictions())
        .setFetchedBytesTotal(c.downloadedBytes())
        .setFetchMsTotal(c.downloadMs())
        .build();
  }

  /** The memory budget's shares and their use (SPEC §5.10). */
  private static MemoryStats memoryStats(StrataEngine.MemoryUsage m) {
    return MemoryStats.newBuilder()
        .setBudgetBytes(m.budget().totalBytes())
        .setL0ShareBytes(m.budget().l0Bytes())
        .setL0Bytes(m.l0Bytes())
        .setBlockCacheShareBytes(m.budget().blockCacheBytes())
        .setBlockCacheBytes(m.blockCacheBytes())
        .setLuceneShareBytes(m.budget().luceneBytes())
        .setHeapUsedBytes(m.heapUsedBytes())
        .setHeapMaxBytes(m.heapMaxBytes())
        .setL0StallsTotal(m.l0Stalls())
        .setL0StallMsTotal(m.l0StallMs())
        .setL0FlushesRequestedTotal(m.l0FlushesRequested())
        .build();
  }

  private ForkStats forkStats(StrataEngine engine, Fork f, Map<String, StrataEngine.SegmentUsage> usages) {
    var s = f.stats();
    Optional<Manifest> head = f.head();
    long segmentBytes = 0;
    if (head.isPresent()) {
      for (SegmentRef r : head.get().getSegmentsList()) {
        segmentBytes += r.getSizeBytes();
      }
    }
    long docs = ctx.counts.head(f).values().stream().mapToLong(Long::longValue).sum();
    StrataEngine.SegmentUsage usage =
        usages.getOrDefault(f.name(), new StrataEngine.SegmentUsage(0, 0, 0));
    ForkState state =
        f.isDropping()
            ? ForkState.FORK_STATE_DROPPING
            : s.readOnlyReason() != null ? ForkState.FORK_STATE_READ_ONLY : ForkState.FORK_STATE_ACTIVE;
    ForkStats.Builder b =
        ForkStats.newBuilder()
            .setForkId(s.forkId())
            .setForkName(s.name())
            .setState(state)
            .setStateReason(s.readOnlyReason() == null ? "" : s.readOnlyReason())
            .setHeadSnapshotId(head.map(Manifest::getId).orElse(""))
            .setHeadSeq(head.map(Manifest::getSeq).orElse(0L))
            .setLastLsn(s.walLastLsn())
            .setCoveredLsn(s.coveredLsn())
            .setWalBytes(DiskUsage.bytesUnder(DiskUsage.walDir(engine.dataDir(), f.id())))
            .setL0Bytes(s.activeL0Bytes())
            .setFrozenL0Bytes(s.frozenL0Bytes())
            .setDurableLsn(s.walDurableLsn())
            .setLastFlushDurationMs(s.lastFlushDurationMs())
            .setPendingFlushes(s.pendingFlushes())
            .setMaxPendingFlushes(engine.options().maxPendingFlushes())
            .setSegmentCount(s.segmentCount())
            .setSegmentBytes(segmentBytes)
            .setDocCount(docs)
            .setSnapshotCount(f.retainedSnapshotCount())
            .setCompactionBacklogSegments(engine.compactions().policy().backlog(f.headSegmentSizes()))
            .setCompactionsTotal(s.compactionsPublished())
            .setCompactionsAbortedTotal(s.compactionsAborted())
            .setCompactionPending(engine.compactions().isPending(f))
            .setFlushBytesWrittenTotal(s.flushBytesWritten())
            .setCompactionBytesWrittenTotal(s.compactionBytesWritten())
            .setWriteAmplification(s.writeAmplification())
            .setCompactionStallsTotal(s.compactionStalls())
            .setCompactionStallTimeMsTotal(s.compactionStallMs())
            .setSegmentsOverCap(Math.max(0, s.segmentCount() - engine.options().compaction().maxSegments()))
            .setExclusiveSegmentBytes(usage.exclusiveBytes())
            .setSharedSegmentBytes(usage.sharedBytes())
            .setReclaimableSegmentBytes(usage.reclaimableBytes())
            .setFlushesTotal(s.flushesPublished())
            .setFlushFailuresTotal(s.flushRetries())
            .setStallTimeMsTotal(s.stallTimeMs())
            .setStalledRequestsTotal(ctx.stalledRequests(f.name()))
            .setLastError(
                s.readOnlyReason() != null
                    ? s.readOnlyReason()
                    : s.lastCompactionError() == null ? "" : s.lastCompactionError());
    if (s.readOnlyReason() == null && s.lastCompactionError() != null) {
      b.setLastErrorTime(ApiConversions.timestamp(s.lastCompactionErrorTimeMs()));
    }
    ObjectStorageTier tier = ctx.tier;
    if (tier != null) {
      b.setUpload(ApiConversions.uploadStats(tier.lagOf(f)));
    }
    if (head.isPresent() && ApiConversions.kind(head.get()) == SnapshotKind.SNAPSHOT_KIND_FLUSH) {
      b.setLastFlushTime(ApiConversions.timestamp(head.get().getCreateTimeMs()));
    }
    return b.build();
  }

  /**
   * {@link StrataEngine#verify()}, walked again when a fork was dropped during the walk: the engine
   * lets the closed manifest store of a fork dropped meanwhile fail the whole walk (IO_ERROR); a
   * second walk no longer sees that fork.
   */
  private static List<String> engineVerify(StrataEngine engine) {
    for (int attempt = 1; ; attempt++) {
      try {
        return engine.verify();
      } catch (StrataException e) {
        if (StatusMapper.closedStoreOf(e) == null || attempt == 5) {
          throw e;
        }
      }
    }
  }

  @Override
  public void verify(VerifyRequest req, StreamObserver<VerifyResponse> observer) {
    ctx.exec.unary(
        ctx.exec.blocking,
        observer,
        "",
        () -> {
          StrataEngine engine = ctx.engine();
          List<Fork> forks = forks(engine, req.getForksList());
          Map<String, Fork> byName = new LinkedHashMap<>();
          forks.forEach(f -> byName.put(f.name(), f));
          VerifyResponse.Builder out = VerifyResponse.newBuilder().setForksChecked(forks.size());
          Map<Long, SegmentRef> segments = new HashMap<>();
          int snapshots = 0;
          for (Fork f : List.copyOf(forks)) {
            List<Manifest> listed;
            try {
              listed = f.listSnapshots();
            } catch (StrataException e) {
              if (StatusMapper.closedStoreOf(e) == null) {
                throw e;
              }
              forks.remove(f); // dropped during the walk: nothing of it is left to verify
              byName.remove(f.name());
              continue;
            }
            for (Manifest m : listed) {
              snapshots++;
              for (SegmentRef r : m.getSegmentsList()) {
                segments.putIfAbsent(Long.parseUnsignedLong(r.getSegmentId(), 16), r);
              }
            }
          }
          out.setForksChecked(forks.size());
          out.setSnapshotsChecked(snapshots).setSegmentsChecked(segments.size());
          if (req.getSkipSegmentChecksums()) {
            quickCheck(engine, forks, segments, out);
          } else {
            long bytes = 0;
            for (SegmentRef r : segments.values()) {
              bytes += r.getSizeBytes();
            }
            out.setBytesChecked(bytes);
            for (String p : engineVerify(engine)) {
              VerifyProblem problem = problem(engine, p);
              if (req.getForksCount() == 0 || byName.containsKey(problem.getForkName())) {
                out.addProblems(problem);
              }
            }
          }
          engine.tags().forEach((tag, id) -> {
            String forkId = Resolver.forkIdOf(id);
            boolean inScope = req.getForksCount() == 0 || forks.stream().anyMatch(f -> f.id().equals(forkId));
            if (!inScope) {
              return;
            }
            try {
              Resolver.manifest(ctx, id);
            } catch (ApiError e) {
              out.addProblems(
                  VerifyProblem.newBuilder()
                      .setKind(VerifyProblemKind.VERIFY_PROBLEM_KIND_TAG_DANGLING)
                      .setSnapshotId(id)
                      .setMessage("tag '" + tag + "' names snapshot " + id + ", which is not retained"));
            }
          });
          return out.build();
        });
  }

  /** Chains and the presence of every referenced segment, without reading segment files. */
  private static void quickCheck(
      StrataEngine engine, List<Fork> forks, Map<Long, SegmentRef> segments, VerifyResponse.Builder out) {
    for (Fork f : forks) {
      try {
        for (String p : f.verifyChain()) {
          out.addProblems(
              VerifyProblem.newBuilder()
                  .setKind(VerifyProblemKind.VERIFY_PROBLEM_KIND_CHAIN_BROKEN)
                  .setForkName(f.name())
                  .setMessage(p));
        }
      } catch (IOException e) {
        out.addProblems(
            VerifyProblem.newBuilder()
                .setKind(VerifyProblemKind.VERIFY_PROBLEM_KIND_MANIFEST_CORRUPT)
                .setForkName(f.name())
                .setMessage("manifest chain unreadable: " + e.getMessage()));
      }
    }
    Set<Long> onDisk;
    try {
      onDisk = engine.segments().segmentIdsOnDisk();
    } catch (IOException e) {
      throw ApiError.of(Status.Code.INTERNAL, null, "cannot list segments: " + e.getMessage());
    }
    for (Map.Entry<Long, SegmentRef> e : segments.entrySet()) {
      if (!onDisk.contains(e.getKey())) {
        out.addProblems(
            VerifyProblem.newBuilder()
                .setKind(VerifyProblemKind.VERIFY_PROBLEM_KIND_SEGMENT_MISSING)
                .setSegmentId(e.getValue().getSegmentId())
                .setMessage("segment " + e.getValue().getSegmentId() + " is referenced but not on disk"));
      }
    }
  }

  /** A problem line of {@link StrataEngine#verify} as a structured problem. */
  static VerifyProblem problem(StrataEngine engine, String line) {
    VerifyProblem.Builder b = VerifyProblem.newBuilder().setMessage(line);
    Matcher seg = SEGMENT_PROBLEM.matcher(line);
    Matcher fork = FORK_PROBLEM.matcher(line);
    if (seg.matches()) {
      String what = seg.group(3).toLowerCase(java.util.Locale.ROOT);
      boolean missing = what.contains("missing") || what.contains("does not exist") || what.contains("nosuchfile")
          || what.contains("not found");
      b.setKind(missing ? VerifyProblemKind.VERIFY_PROBLEM_KIND_SEGMENT_MISSING : VerifyProblemKind.VERIFY_PROBLEM_KIND_SEGMENT_CORRUPT)
          .setSegmentId(seg.group(1))
          .setSnapshotId(seg.group(2));
      engine.forkById(Resolver.forkIdOf(seg.group(2))).ifPresent(f -> b.setForkName(f.name()));
    } else if (fork.matches()) {
      String what = fork.group(2).toLowerCase(java.util.Locale.ROOT);
      boolean corrupt = what.contains("unreadable") || what.contains("checksum") || what.contains("corrupt");
      b.setKind(corrupt ? VerifyProblemKind.VERIFY_PROBLEM_KIND_MANIFEST_CORRUPT : VerifyProblemKind.VERIFY_PROBLEM_KIND_CHAIN_BROKEN)
          .setForkName(fork.group(1));
    } else {
      b.setKind(VerifyProblemKind.VERIFY_PROBLEM_KIND_CHAIN_BROKEN);
    }
    return b.build();
  }
}
