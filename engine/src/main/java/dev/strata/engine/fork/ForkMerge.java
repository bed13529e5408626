package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.flush.FlushCoordinator;
import dev.strata.engine.flush.FlushTicket;
import dev.strata.engine.flush.OrderedPublication;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.LsnWatermark;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.proto.MergeCommit;
import dev.strata.engine.proto.MergeMarker;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.Segment;
import dev.strata.manifest.ForkEntry;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.MergeKind;
import dev.strata.manifest.proto.MergeRef;
import dev.strata.wal.Durability;
import dev.strata.wal.WalAppend;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target side of {@code MergeFork}: merges a source snapshot into this fork, fast-forward or
 * three-way (docs/architecture.md "Merging forks" has the protocol with its crash table).
 *
 * <h2>Fast-forward</h2>
 *
 * When the target's content is still the merge base's (no write, no merge since; nothing in L0),
 * the merge is an {@link OrderedPublication} on the target's finalizer, after every flush rotated
 * before it: at its turn it re-checks that the target is unchanged, appends a {@code MergeMarker}
 * WAL record (SYNC) and checks that it directly follows the head's covered LSN (no write slipped
 * in), then publishes a manifest ({@link SnapshotEdit#merge}) with the source's segments that
 * covers the marker. O(1): no segment is written, the source snapshot's liveness is reused. The
 * marker gives the merge an LSN, so its ticket resolves to exactly that snapshot; replay ignores
 * it (the merge lives in the manifest, or did not happen). If the target moved, it falls back to a
 * three-way merge.
 *
 * <h2>Three-way (the merge record protocol)</h2>
 *
 * <ol>
 *   <li>Pin the WAL from its last LSN + 1 ({@link MergeLog}), then take the read LSN {@code r} = the
 *       WAL's last LSN, once L0 holds every record up to it.
 *   <li>Plan ({@link MergePlanner}) against the target as it is now. FAIL with conflicts, a schema
 *       conflict, nothing to do, a dry run: answer without writing anything.
 *   <li>Hold the names of the collections it creates ({@link CollectionRegistry#reserve}).
 *   <li>Append the changes as {@code MergeBatch} records of at most {@value #MAX_BATCH_BYTES}
 *       bytes (ASYNC; they change nothing by themselves), then one {@code MergeCommit} (SYNC): when
 *       it is durable, every batch before it is too.
 *   <li>Evaluate the commit rule ({@link MergeRecords}) on the log between {@code r} and the
 *       commit: concurrent target writes of the merge's keys are conflicts.
 *   <li>Apply the effective changes to L0 at the commit LSN (one record per collection, routed by
 *       LSN like any write, the documents' stored bodies copied as they are), register the merge for the manifest of the flush that covers it, mark the LSNs
 *       done, request that flush.
 * </ol>
 *
 * All or nothing: the changes exist only as of the commit; a failure before the commit is durable
 * leaves batches that recovery drops ({@link MergeReplay}); a crash after it replays the merge
 * whole. The outcome is decided by the log alone, so the run and a replay always agree.
 *
 * <p>Thread-safe: merges into one fork are serialized ({@link MergeLog#tryBegin}); they run on the
 * caller's thread, except the fast-forward's publication, which runs on the finalizer.
 */
final class ForkMerge {
  private static final Logger log = LoggerFactory.getLogger(ForkMerge.class);

  /** The largest three-way merge, in bytes of changes: they are applied to L0 as one record. */
  static final long MAX_THREE_WAY_BYTES = 1L << 30;

  /** Bound on one {@code MergeBatch} record's payload, bytes. */
  static final int MAX_BATCH_BYTES = 4 << 20;

  /** Bound on each wait of a merge (watermark, durability, the fast-forward's turn), ms. */
  private static final long WAIT_MS = 60_000;

  private final ForkContext ctx;
  private final ForkEntry entry;
  private final WalWriter wal;
  private final LsnWatermark watermark;
  private final MemTables memTables;
  private final SnapshotChain chain;
  private final CollectionRegistry collections;
  private final FlushCoordinator<L0Buffer, FlushOutput> flush;
  private final FlushScheduler flushScheduler;
  private final ForkTickets tickets;
  private final SnapshotWatchers watchers;
  private final ForkLifecycle lifecycle;
  private final MergeLog mergeLog;

  ForkMerge(
      ForkContext ctx,
      ForkEntry entry,
      WalWriter wal,
      LsnWatermark watermark,
      MemTables memTables,
      SnapshotChain chain,
      CollectionRegistry collections,
      FlushCoordinator<L0Buffer, FlushOutput> flush,
      FlushScheduler flushScheduler,
      ForkTickets tickets,
      SnapshotWatchers watchers,
      ForkLifecycle lifecycle,
      MergeLog mergeLog) {
    this.ctx = ctx;
    this.entry = entry;
    this.wal = wal;
    this.watermark = watermark;
    this.memTables = memTables;
    this.chain = chain;
    this.collections = collections;
    this.flush = flush;
    this.flushScheduler = flushScheduler;
    this.tickets = tickets;
    this.watchers = watchers;
    this.lifecycle = lifecycle;
    this.mergeLog = mergeLog;
  }

  /**
   * Merges {@code req.source()} into this fork (see the class comment).
   *
   * @throws StrataException FAILED_PRECONDITION (read-only, dropping, another merge running),
   *     RESOURCE_EXHAUSTED (too large, a write stall), IO_ERROR (the WAL or a manifest failed; the
   *     fork turns read-only and the merge is all or nothing across the restart), UNAVAILABLE
   */
  MergeResult merge(MergeRequest req) {
    String headId = memTables.current().head() == null ? "" : memTables.current().head().id();
    Manifest source = req.source().manifest();
    Manifest base = req.base().manifest();
    if (!req.dryRun()) {
      lifecycle.checkWritable();
    }
    if (unchangedSince(source, base)) {
      return result(req, MergeResult.Outcome.UP_TO_DATE, headId, null, 0, null, List.of());
    }
    if (!mergeLog.tryBegin()) {
      throw StrataException.failedPrecondition("fork '" + entry.name() + "' is running a merge already; retry when it ends");
    }
    long holdUntilCovered = 0;
    try {
      if (targetUnchangedSince(base)) {
        if (req.dryRun()) {
          return result(req, MergeResult.Outcome.FAST_FORWARD, headId, null, 0, null, List.of());
        }
        MergeResult ff = fastForward(req, headId);
        if (ff != null) {
          return ff;
        }
        log.info("fork={} merge of {}: the target moved during the fast-forward; merging three-way", entry.name(), source.getId());
      }
      ThreeWay t = new ThreeWay(req, headId);
      MergeResult r = t.run();
      holdUntilCovered = t.commitLsn;
      return r;
    } finally {
      mergeLog.endRun(holdUntilCovered);
    }
  }

  /** True if snapshot {@code m} holds exactly the content of its ancestor {@code ancestor}. */
  static boolean unchangedSince(Manifest m, Manifest ancestor) {
    if (m.getId().equals(ancestor.getId())) {
      return true;
    }
    if (m.getForkId().equals(ancestor.getForkId())) {
      return m.getCoveredLsn() == ancestor.getCoveredLsn() && m.getMergesList().equals(ancestor.getMergesList());
    }
    return ancestor.getId().equals(m.getBaseSnapshotId()) && m.getCoveredLsn() == 0 && m.getMergesCount() == 0;
  }

  /** True if this fork's head holds the base's content and nothing waits in L0. */
  private boolean targetUnchangedSince(Manifest base) {
    PublishedSnapshot head = memTables.current().head();
    return head != null && wal.lastLsn() == head.coveredLsn() && unchangedSince(head.manifest(), base);
  }

  // ------------------------------------------------------------------------------ fast-forward

  /** The fast-forward, or null if the target moved before its turn. */
  private MergeResult fastForward(MergeRequest req, String headId) {
    Manifest source = req.source().manifest();
    List<CollectionRegistry.Reservation> held = new ArrayList<>();
    Map<String, CollectionRegistry.Collection> defined = new LinkedHashMap<>();
    try {
      for (CollectionDef d : source.getCollectionsList()) {
        CollectionRegistry.Reservation r = collections.reserve(d.getName());
        held.add(r);
        if (r.existing() != null && !r.existing().schema().equals(CollectionRegistry.fromDef(d).schema())) {
          return null; // cannot be, the target is unchanged since the base; let the three-way report it
        }
      }
      CompletableFuture<MergeResult> done = new CompletableFuture<>();
      flush.submitOrdered(
          new OrderedPublication() {
            @Override
            public void publish(long seq) throws Exception {
              try {
                done.complete(installFastForward(seq, req, headId, held, defined));
              } catch (SnapshotChain.CleanPublishFailure e) {
                done.completeExceptionally(e.getCause());
              } catch (Throwable t) {
                done.completeExceptionally(t);
                throw t;
              }
            }

            @Override
            public void abandon(Throwable why) {
              done.completeExceptionally(
                  StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + entry.name() + "' stopped publishing: " + why.getMessage()));
            }
          });
      return await(done);
    } finally {
      for (CollectionRegistry.Reservation r : held) {
        collections.release(r, defined.get(r.name()));
      }
    }
  }

  /** On the finalizer, at the merge's seq: publish the merge if the target is still unchanged. */
  private MergeResult installFastForward(
      long seq,
      MergeRequest req,
      String headId,
      List<CollectionRegistry.Reservation> held,
      Map<String, CollectionRegistry.Collection> defined)
      throws Exception {
    PublishedSnapshot head = memTables.current().head();
    Manifest base = req.base().manifest();
    if (head == null || lifecycle.isClosed() || lifecycle.isDropping() || !targetUnchangedSince(base)) {
      return null;
    }
    Manifest source = req.source().manifest();
    MergeMarker marker =
        MergeMarker.newBuilder()
            .setMergeId(UUID.randomUUID().toString())
            .setSourceForkId(source.getForkId())
            .setSourceSnapshotId(source.getId())
            .setBaseSnapshotId(base.getId())
            .build();
    WalAppend a;
    try {
      a = wal.append(MergeRecords.encodeMarker(marker), Durability.SYNC);
    } catch (IOException e) {
      throw lifecycle.walFailed(e);
    }
    long m = a.lsn();
    try {
      awaitDurable(a);
      if (m != head.coveredLsn() + 1) {
        return null; // a write took an LSN between the check and the marker: the marker is void
      }
      List<CollectionDef> defs = new ArrayList<>();
      for (CollectionDef d : source.getCollectionsList()) {
        CollectionRegistry.Collection mine = collections.get(d.getName());
        defs.add(d.toBuilder().setCreatedLsn(mine != null ? mine.createdLsn() : m).build());
      }
      MergeRef ref = mergeRef(source, base, MergeKind.MERGE_KIND_FAST_FORWARD, m);
      Manifest next = SnapshotEdit.merge(seq, m, source, defs, ref).applyTo(head.manifest(), entry, ctx.options().clock().millis());
      List<Segment> segs = new ArrayList<>();
      try {
        for (Segment s : req.source().segments()) {
          segs.add(ctx.segments().acquireReference(s.segmentId())); // logical: no fetch
        }
      } catch (IOException | RuntimeException e) {
        segs.forEach(Segment::release);
        throw new SnapshotChain.CleanPublishFailure(e instanceof IOException io ? io : new IOException(e));
      }
      Manifest published;
      try {
        published = chain.logAndApply(next, List.of());
      } catch (Exception e) {
        segs.forEach(Segment::release);
        throw e;
      }
      for (CollectionRegistry.Reservation r : held) {
        if (r.existing() == null) {
          CollectionDef d = source.getCollectionsList().stream().filter(x -> x.getName().equals(r.name())).findFirst().orElseThrow();
          defined.put(r.name(), new CollectionRegistry.Collection(r.name(), CollectionRegistry.fromDef(d).schema(), m));
        }
      }
      defined.values().forEach(collections::restore);
      segs.replaceAll(Segment::asReference); // the head holds logical references: reads pin
      PublishedSnapshot snap = new PublishedSnapshot(published, segs, req.source().liveness());
      if (!memTables.installHead(snap, lifecycle::isClosed)) {
        snap.release();
        throw StrataException.of(StrataException.Kind.UNAVAILABLE, "fork '" + entry.name() + "' closed");
      }
      head.release();
      watchers.announce(published);
      tickets.published(m, published);
      log.info("fork={} fast-forwarded to {} ({} segments, no data copied) as {}", entry.name(), source.getId(),
          published.getSegmentsCount(), published.getId());
      return result(
          req, MergeResult.Outcome.FAST_FORWARD, headId, tickets.ticket(seq, m), m, null, List.of());
    } finally {
      watermark.markDone(m);
    }
  }

  // ------------------------------------------------------------------------------ three-way

  /** One three-way merge attempt; confined to the merging thread. */
  private final class ThreeWay {
    private final MergeRequest req;
    private final String headId;
    /** The commit's LSN once appended (the merge log keeps the WAL until a snapshot covers it). */
    long commitLsn;

    ThreeWay(MergeRequest req, String headId) {
      this.req = req;
      this.headId = headId;
    }

    MergeResult run() {
      // Pin before reading the LSN: a truncation that saw no floor covered only LSNs below it.
      mergeLog.pin(wal.lastLsn() + 1);
      long readLsn = wal.lastLsn();
      awaitWatermark(readLsn);
      MergePlanner.Plan plan =
          MergePlanner.plan(
              req.base(), req.source(), ctx.segments(), target(), req.strategy(), req.pageAfterCollection(),
              req.pageAfterId(), req.pageSize(), MAX_THREE_WAY_BYTES);
      if (plan.blocked(req.strategy())) {
        return result(req, MergeResult.Outcome.CONFLICTS, headId, null, 0, plan, plan.conflicts());
      }
      if (plan.isEmpty()) {
        return result(req, MergeResult.Outcome.UP_TO_DATE, headId, null, 0, plan, plan.conflicts());
      }
      if (req.dryRun()) {
        return result(req, MergeResult.Outcome.THREE_WAY, headId, null, 0, plan, plan.conflicts());
      }
      if (plan.tooLarge()) {
        throw StrataException.of(
            StrataException.Kind.RESOURCE_EXHAUSTED,
            "merge too large: its changes take about " + plan.bytes() + " bytes, more than the "
                + MAX_THREE_WAY_BYTES + " bytes one atomic write may hold; merge in parts (e.g. per collection from"
                + " intermediate forks) or fast-forward");
      }
      lifecycle.checkWritable();
      List<CollectionRegistry.Reservation> held = new ArrayList<>();
      Map<String, CollectionRegistry.Collection> defined = new LinkedHashMap<>();
      try {
        Map<String, CollectionSchema> defs = new LinkedHashMap<>();
        for (Map.Entry<String, CollectionSchema> d : plan.definitions().entrySet()) {
          CollectionRegistry.Reservation r = collections.reserve(d.getKey());
          held.add(r);
          if (r.existing() == null) {
            defs.put(d.getKey(), d.getValue());
          } else if (!r.existing().schema().equals(d.getValue())) {
            MergeResult.Conflict c =
                new MergeResult.Conflict(
                    MergeResult.Conflict.Kind.SCHEMA, d.getKey(), "", 0, 0, false, false,
                    r.existing().schema().describeDifference(d.getValue()));
            return result(req, MergeResult.Outcome.CONFLICTS, headId, null, 0, plan, List.of(c));
          }
        }
        return write(readLsn, plan, defs, defined);
      } finally {
        for (CollectionRegistry.Reservation r : held) {
          collections.release(r, defined.get(r.name()));
        }
      }
    }

    private MergeResult write(
        long readLsn, MergePlanner.Plan plan, Map<String, CollectionSchema> defs, Map<String, CollectionRegistry.Collection> defined) {
      Manifest source = req.source().manifest();
      String mergeId = UUID.randomUUID().toString();
      List<byte[]> batches = MergeRecords.encodeBatches(mergeId, defs, plan.changes(), MAX_BATCH_BYTES);
      MergeCommit commit =
          MergeCommit.newBuilder()
              .setMergeId(mergeId)
              .setBatchCount(batches.size())
              .setReadLsn(readLsn)
              .setStrategy(MergeRecords.toRecord(req.strategy()))
              .setSourceForkId(source.getForkId())
              .setSourceSnapshotId(source.getId())
              .setBaseSnapshotId(req.base().id())
              .build();
      try {
        for (byte[] b : batches) {
          WalAppend a = wal.append(b, Durability.ASYNC);
          watermark.markDone(a.lsn()); // a batch changes nothing by itself
        }
        WalAppend c = wal.append(MergeRecords.encodeCommit(commit), Durability.SYNC);
        commitLsn = c.lsn();
        awaitDurable(c);
        MergeRecords.Window w =
            MergeRecords.window(
                ctx.vfs(), wal.dir(), readLsn, commitLsn, mergeId, MergeRecords.keysOf(plan.changes()), defs.keySet());
        Map<String, List<Mutation>> effective = MergeRecords.effective(req.strategy(), plan.changes(), w, mergeId);
        if (effective == null) {
          log.info("fork={} merge {} void at LSN {}: the target wrote {} of its keys meanwhile", entry.name(), mergeId,
              commitLsn, w.keys().size());
          return result(req, MergeResult.Outcome.CONFLICTS, headId, null, 0, plan, lateConflicts(w, plan));
        }
        defs.forEach((name, schema) -> defined.put(name, new CollectionRegistry.Collection(name, schema, commitLsn)));
        apply(memTables, commitLsn, effective);
        mergeLog.committed(commitLsn, mergeRef(source, req.base().manifest(), MergeKind.MERGE_KIND_THREE_WAY, commitLsn));
        log.info("fork={} merged {} three-way from base {} at LSN {}: {} puts, {} deletes, {} collections, {} batches",
            entry.name(), source.getId(), req.base().id(), commitLsn, plan.puts(), plan.deletes(), defs.size(), batches.size());
      } catch (IOException e) {
        throw lifecycle.walFailed(e);
      } finally {
        if (commitLsn > 0) {
          for (CollectionRegistry.Collection c : defined.values()) {
            collections.restore(c);
          }
          watermark.markDone(commitLsn);
        }
      }
      return result(req, MergeResult.Outcome.THREE_WAY, headId, ticketFor(commitLsn), commitLsn, plan, plan.conflicts());
    }

    /** Conflicts found by the commit rule: the merge's keys the target wrote after the read. */
    private List<MergeResult.Conflict> lateConflicts(MergeRecords.Window w, MergePlanner.Plan plan) {
      List<MergeResult.Conflict> out = new ArrayList<>();
      MergePlanner.Target t = target();
      for (Map.Entry<String, List<Mutation>> e : plan.changes().entrySet()) {
        for (Mutation m : e.getValue()) {
          if (w.keys().contains(new MergeRecords.Key(e.getKey(), m.id())) && out.size() < Math.max(1, req.pageSize())) {
            DocumentVersion v = t.newest(e.getKey(), m.id());
            out.add(
                new MergeResult.Conflict(
                    MergeResult.Conflict.Kind.DOCUMENT, e.getKey(), m.id(), 0, v == null ? 0 : v.lsn(),
                    m instanceof Mutation.Delete, v == null || v.isTombstone(), "written on the target during the merge"));
          }
        }
      }
      return out;
    }
  }

  /**
   * Applies a merge's effective changes to L0 at its commit LSN, routed by LSN: per collection, the
   * record a Write of these mutations would have (their stored bodies copied as they are). L0
   * readers may see one collection's part before the next (L0 has no cross-record visibility
   * fence); the snapshot that publishes the merge holds all of it.
   */
  static void apply(MemTables memTables, long commitLsn, Map<String, List<Mutation>> changes) {
    changes.forEach(
        (c, ms) -> {
          if (!ms.isEmpty()) {
            memTables.apply(commitLsn, WalEntries.encodeWrite(c, ms).l0());
          }
        });
  }

  /** The target as the planner reads it: L0 (active, frozen), then the head's segments. */
  private MergePlanner.Target target() {
    return new MergePlanner.Target() {
      @Override
      public DocumentVersion newest(String collection, String id) {
        ReadState s = memTables.current();
        DocumentVersion v = s.active().get(collection, id);
        for (int i = 0; v == null && i < s.frozenNewestFirst().size(); i++) {
          v = s.frozenNewestFirst().get(i).get(collection, id);
        }
        if (v != null) {
          return v;
        }
        PublishedSnapshot head = memTables.acquireHead();
        if (head == null) {
          return null;
        }
        try {
          return head.get(ctx.segments(), collection, id);
        } finally {
          head.release();
        }
      }

      @Override
      public CollectionSchema schema(String collection) {
        CollectionRegistry.Collection c = collections.get(collection);
        return c == null ? null : c.schema();
      }
    };
  }

  private FlushTicket ticketFor(long commitLsn) {
    try {
      FlushTicket t = flushScheduler.requestFlush(ctx.options().writeStallTimeoutMs());
      return tickets.ticket(t.seq(), commitLsn);
    } catch (StrataException e) {
      // No permit now: the interval flush publishes the merge; the ticket resolves then.
      return tickets.ticket(0, commitLsn);
    }
  }

  private MergeRef mergeRef(Manifest source, Manifest base, MergeKind kind, long lsn) {
    return MergeRef.newBuilder()
        .setSourceForkId(source.getForkId())
        .setSourceSnapshotId(source.getId())
        .setBaseSnapshotId(base.getId())
        .setKind(kind)
        .setLsn(lsn)
        .build();
  }

  private static MergeResult result(
      MergeRequest req,
      MergeResult.Outcome outcome,
      String headId,
      FlushTicket ticket,
      long mergeLsn,
      MergePlanner.Plan plan,
      List<MergeResult.Conflict> conflicts) {
    return new MergeResult(
        outcome,
        req.dryRun(),
        req.base().id(),
        req.source().id(),
        headId,
        ticket,
        mergeLsn,
        plan == null ? 0 : plan.puts(),
        plan == null ? 0 : plan.deletes(),
        plan == null ? 0 : plan.definitions().size(),
        plan == null ? conflicts.size() : Math.max(plan.conflictCount(), conflicts.size()),
        conflicts,
        plan != null && plan.moreConflicts());
  }

  private void awaitWatermark(long lsn) {
    try {
      if (!watermark.awaitAtLeast(lsn, WAIT_MS)) {
        throw StrataException.of(
            StrataException.Kind.DEADLINE_EXCEEDED, "writes below LSN " + lsn + " of fork '" + entry.name() + "' did not apply in time");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
  }

  private static void awaitDurable(WalAppend a) throws IOException {
    try {
      a.durable().get(WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("WAL fsync did not complete within " + WAIT_MS + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the WAL fsync", e);
    }
  }

  private static MergeResult await(CompletableFuture<MergeResult> f) {
    try {
      return f.get(WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof StrataException se) {
        throw se;
      }
      throw StrataException.of(StrataException.Kind.IO_ERROR, "fast-forward failed: " + c.getMessage(), c);
    } catch (TimeoutException e) {
      throw StrataException.of(StrataException.Kind.DEADLINE_EXCEEDED, "the fast-forward did not get its turn in " + WAIT_MS + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw StrataException.of(StrataException.Kind.UNAVAILABLE, "interrupted");
    }
  }
}
