package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.l0.LsnWatermark;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.model.Names;
import dev.strata.engine.segment.DocumentIndexer;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.wal.Durability;
import dev.strata.wal.WalAppend;
import dev.strata.wal.WalWriter;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One fork's commit pipeline (LevelDB's {@code DBImpl::Write}): validate → write stall → one WAL
 * record → wait for durability → apply to L0 → mark the LSN done in the watermark. Documents come
 * encoded ({@link EncodedDocument}); they are checked by scanning their
 * bytes, copied once into the WAL record, and from the record into the L0 arena.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li><b>Never partly applied.</b> Everything is validated before the WAL append; a write that
 *       fails validation touches nothing (SPEC §5.2, §5.8).
 *   <li><b>Durable before visible.</b> A record is applied to L0 only after its WAL append is
 *       durable as asked (SYNC: fsynced by the group commit; ASYNC: handed to the OS), so a read
 *       never sees a write that a crash could lose.
 *   <li><b>Routed by LSN.</b> No lock is held across the WAL append or its fsync, so a rotate may
 *       run between a record's append and its apply: the apply goes to the buffer whose LSN range
 *       holds the record ({@link MemTables#apply}), never simply to "the active one".
 *   <li><b>Every assigned LSN is marked done</b> in the {@link LsnWatermark}, applied or failed, so
 *       a flush's stream phase, which waits for the watermark to reach its covered LSN, never
 *       waits for a write that will not come.
 * </ol>
 *
 * <p>Thread-safe: called concurrently by any number of writer threads; it holds no lock of its own.
 */
final class ForkWriter {
  /** Bound on waiting for a WAL append to become durable. */
  private static final long DURABILITY_WAIT_MS = 60_000;

  private final String forkName;
  private final WalWriter wal;
  private final LsnWatermark watermark;
  private final MemTables memTables;
  private final CollectionRegistry collections;
  private final WriteController writeController;
  private final ForkLifecycle lifecycle;

  ForkWriter(
      String forkName,
      WalWriter wal,
      LsnWatermark watermark,
      MemTables memTables,
      CollectionRegistry collections,
      WriteController writeController,
      ForkLifecycle lifecycle) {
    this.forkName = forkName;
    this.wal = wal;
    this.watermark = watermark;
    this.memTables = memTables;
    this.collections = collections;
    this.writeController = writeController;
    this.lifecycle = lifecycle;
  }

  /**
   * Applies {@code mutations} to {@code collection} atomically: one WAL record, then L0.
   *
   * @return the WAL LSN of the write
   * @throws StrataException INVALID_ARGUMENT (bad document; nothing applied), NOT_FOUND (no such
   *     collection), RESOURCE_EXHAUSTED (write stall), FAILED_PRECONDITION (read-only or dropping),
   *     IO_ERROR (WAL failure; the fork turns read-only)
   */
  long write(String collection, List<Mutation> mutations, Durability durability) {
    lifecycle.checkWritable();
    if (mutations.isEmpty()) {
      throw StrataException.invalid("a write needs at least one mutation");
    }
    CollectionRegistry.Collection c = collections.require(forkName, collection);
    for (Mutation m : mutations) {
      if (m instanceof Mutation.Put p) {
        try {
          SegmentStore.validate(p.document(), c.schema());
        } catch (IllegalArgumentException e) {
          throw StrataException.invalid("document '" + p.id() + "': " + e.getMessage());
        }
      }
    }
    writeController.beforeWrite();
    // The one encoding of the call: each document's body is copied in as the caller encoded it,
    // and the record's L0 view points at those bytes.
    WalEntries.WriteRecord record = WalEntries.encodeWrite(collection, mutations);
    WalAppend a;
    try {
      a = wal.append(record.bytes(), durability);
    } catch (IOException e) {
      throw lifecycle.walFailed(e);
    }
    try {
      // SYNC: the fsync covering the record. ASYNC: the record handed to the OS (survives
      // kill -9; the WAL syncer fsyncs it within wal.sync_interval).
      awaitDurable(a);
      memTables.apply(a.lsn(), record.l0());
    } catch (IOException e) {
      throw lifecycle.walFailed(e);
    } finally {
      watermark.markDone(a.lsn());
    }
    return a.lsn();
  }

  /**
   * Returns the collection, creating it (durably, through the WAL) if it does not exist; says
   * whether this call created it (exactly one caller does).
   *
   * @throws StrataException INVALID_ARGUMENT (bad name or a schema Lucene cannot index),
   *     FAILED_PRECONDITION on a schema conflict or a read-only fork
   */
  CollectionRegistry.Defined defineCollection(String name, CollectionSchema schema) {
    Names.requireValidCollection(name);
    if (collections.get(name) == null) {
      lifecycle.checkWritable();
      // A schema Lucene cannot index (e.g. an unknown analyzer) would fail every flush later.
      DocumentIndexer.validateSchema(schema);
    }
    return collections.createOrGet(forkName, name, schema, this::logDefinition, watermark::markDone);
  }

  /**
   * Logs a collection definition as its own SYNC WAL record; returns its LSN, not yet marked done
   * (the registry does that once the collection is recorded), unless the durability wait fails.
   */
  private long logDefinition(String name, CollectionSchema schema) throws IOException {
    WalAppend a;
    try {
      a = wal.append(WalEntries.encodeDefinition(name, schema), Durability.SYNC);
    } catch (IOException e) {
      throw lifecycle.walFailed(e);
    }
    try {
      awaitDurable(a);
      return a.lsn();
    } catch (IOException e) {
      watermark.markDone(a.lsn());
      throw lifecycle.walFailed(e);
    } catch (RuntimeException e) {
      watermark.markDone(a.lsn());
      throw e;
    }
  }

  private static void awaitDurable(WalAppend a) throws IOException {
    try {
      a.durable().get(DURABILITY_WAIT_MS, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof IOException io ? io : new IOException(cause);
    } catch (TimeoutException e) {
      throw new IOException("WAL fsync did not complete within " + DURABILITY_WAIT_MS + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for the WAL fsync", e);
    }
  }
}
