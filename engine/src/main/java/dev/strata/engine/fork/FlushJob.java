package dev.strata.engine.fork;

import dev.strata.engine.flush.FlushTask;
import dev.strata.engine.l0.L0Buffer;
import dev.strata.engine.l0.LsnWatermark;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.engine.segment.LivenessMap;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentPins;
import dev.strata.engine.segment.SegmentEntry;
import dev.strata.engine.segment.WrittenSegment;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * The stream phase of one fork's flushes (LevelDB's {@code WriteLevel0Table}): a frozen L0 buffer
 * → a new segment, written, ingested and pinned, plus the heavy half of its liveness. Runs on the
 * engine's stream threads, several flushes of one fork at once (up to its permits); the {@link
 * SnapshotPublisher} then publishes the results in seq order.
 *
 * <h2>Steps of one attempt</h2>
 *
 * <ol>
 *   <li>Wait for the watermark to reach the task's covered LSN: every write up to it has been
 *       applied to the frozen buffer (writers apply after their WAL append, without a lock).
 *   <li>Make the WAL durable up to the covered LSN: a snapshot must never cover an LSN a crash
 *       could lose, or the WAL would hand that LSN out again and replay would skip the new record
 *       as already covered.
 *   <li>Write the segment (SST + Lucene index) under a freshly allocated id, ingest it, pin it.
 *   <li>Compute which documents of the head it saw the new segment shadows.
 * </ol>
 *
 * A failed attempt deletes its segment and settles its id; the coordinator retries with a new
 * attempt (and a new id).
 *
 * <p>Thread-safe: holds no state between attempts.
 */
final class FlushJob {
  private final ForkContext ctx;
  private final String forkName;
  private final WalWriter wal;
  private final LsnWatermark watermark;
  private final CollectionRegistry collections;
  private final MemTables memTables;

  FlushJob(
      ForkContext ctx,
      String forkName,
      WalWriter wal,
      LsnWatermark watermark,
      CollectionRegistry collections,
      MemTables memTables) {
    this.ctx = ctx;
    this.forkName = forkName;
    this.wal = wal;
    this.watermark = watermark;
    this.collections = collections;
    this.memTables = memTables;
  }

  /**
   * Runs one attempt of the stream phase.
   *
   * @return the pinned segment and its liveness, or {@link FlushOutput#empty()} if the buffer held
   *     only collection definitions
   * @throws TimeoutException if the writes up to the covered LSN were not applied within {@code
   *     flush.stream_timeout}
   * @throws IOException if the WAL sync, the segment write or its ingestion fails
   */
  FlushOutput stream(FlushTask<L0Buffer> task, int attempt) throws Exception {
    long covered = task.coveredLsn();
    if (!watermark.awaitAtLeast(covered, ctx.options().streamTimeoutMs())) {
      throw new TimeoutException("writes up to LSN " + covered + " were not applied in time");
    }
    if (wal.durableLsn() < covered) {
      wal.sync();
    }
    ctx.options().hooks().beforeStream(forkName, task.seq(), attempt);
    L0Buffer frozen = task.payload();
    if (frozen.isEmpty()) {
      return FlushOutput.empty();
    }
    // In key order; each put's body is a view of the arena, written to the SST unchanged.
    List<SegmentEntry> input = new ArrayList<>(frozen.entryCount());
    frozen.entries().forEachRemaining(input::add);
    Map<String, CollectionSchema> schemas = new LinkedHashMap<>();
    for (CollectionRegistry.Collection c : collections.all()) {
      schemas.put(c.name(), c.schema());
    }
    long segmentId = ctx.segmentIds().allocate();
    try {
      WrittenSegment written = ctx.segments().write(segmentId, input, schemas);
      ctx.segments().ingest(written);
      Segment segment = ctx.segments().acquire(segmentId);
      try {
        return withLiveness(segment, written);
      } catch (IOException | RuntimeException e) {
        segment.release();
        throw e;
      }
    } catch (Throwable t) {
      try {
        ctx.segments().discard(segmentId);
      } catch (RuntimeException | IOException e) {
        t.addSuppressed(e);
      } finally {
        ctx.segmentIds().settle(segmentId);
      }
      throw t;
    }
  }

  /**
   * The heavy half of the new manifest's liveness, here in parallel rather than in the serial
   * finalizer: the head's liveness plus the documents the new segment shadows in it.
   */
  private FlushOutput withLiveness(Segment segment, WrittenSegment written) throws IOException {
    PublishedSnapshot base = memTables.acquireHead();
    if (base == null) {
      return new FlushOutput(segment, written, LivenessMap.empty(), Set.of());
    }
    try {
      Set<Long> baseIds = new HashSet<>();
      base.segments().forEach(s -> baseIds.add(s.segmentId()));
      LivenessMap live;
      // The older segments' key terms are read: with a remote source they are pinned (fetched if
      // evicted) for the pass.
      try (SegmentPins pins = SegmentPins.of(base.segments())) {
        live = base.liveness().withNewest(segment, base.segments(), ctx.segments());
      }
      return new FlushOutput(segment, written, live, baseIds);
    } finally {
      base.release();
    }
  }
}
