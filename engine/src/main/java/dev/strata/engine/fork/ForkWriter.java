package dev.strata.engine.fork;

import dev.strata.engine.StrataException;
import dev.strata.engine.l0.L0Record;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

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
 * {@link #write} blocks its caller through the stall and the group commit; {@link #writeAsync}
 * blocks nobody waiting for another thread (see there).
 */
final class ForkWriter {
  /** Bound on waiting for a WAL append to become durable. */
  private static final long DURABILITY_WAIT_MS = 60_000;

  /**
   * Appends of one fork running on the append executor at once beyond which its further writes
   * take the stall executor: more means the fork's WAL is slow (a long fsync, or its queue full),
   * and its writes must not occupy every append thread the other forks need.
   */
  static final int MAX_APPENDS_IN_FLIGHT = 4;

  /** The retry delay RESOURCE_EXHAUSTED suggests when an executor refuses a write, ms. */
  static final long REFUSED_RETRY_MS = 50;

  /** Asynchronous writes of this fork between entering and leaving {@code wal.append}. */
  private final AtomicInteger appendsInFlight = new AtomicInteger();

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
    validate(collection, mutations);
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
   * The asynchronous form of {@link #write}: the same validation, write stall, single WAL record,
   * durable-before-visible and watermark rules (class comment), but no thread waits for the WAL's
   * group commit: the returned future completes from the commit's own completion.
   *
   * <p>Threads. Validation runs on the calling thread (allocation-free unless it finds a problem;
   * no I/O, no lock). Everything after it runs on {@code executors}: the WAL append on {@link
   * WriteExecutors#append()} (the appender may lead a group-commit write and fsync, so it is not
   * the caller's thread), or on {@link WriteExecutors#stall()} when the write must wait first —
   * the active L0 buffer is full ({@link WriteController}), or this fork already has {@link
   * #MAX_APPENDS_IN_FLIGHT} appends running (its WAL is slow: it must not take every append
   * thread from the other forks). The apply to L0 runs on the thread that led the fsync, or, when
   * the WAL's syncer completed it, back on the append executor (the syncer must not do the work).
   *
   * @param abandoned true once the caller no longer waits for the write (its deadline passed, it
   *     was cancelled); looked at before the stall and again just before the WAL append: a write
   *     abandoned by then is not applied and its future fails with {@link CancellationException}
   * @return completes with the write's LSN once it is durable as asked and applied to L0; fails
   *     with {@link StrataException} RESOURCE_EXHAUSTED (write stall timed out, or an executor
   *     refused the work: nothing applied), FAILED_PRECONDITION (read-only or dropping meanwhile),
   *     IO_ERROR (WAL failure; the fork turns read-only), or {@link CancellationException}
   * @throws StrataException INVALID_ARGUMENT (bad document), NOT_FOUND (no such collection),
   *     FAILED_PRECONDITION, UNAVAILABLE — at once, with nothing applied
   */
  CompletableFuture<Long> writeAsync(String collection, List<Mutation> mutations, Durability durability,
      WriteExecutors executors, BooleanSupplier abandoned) {
    validate(collection, mutations);
    CompletableFuture<Long> result = new CompletableFuture<>();
    Runnable append = () -> append(collection, mutations, durability, executors.append(), abandoned, result);
    boolean slow = writeController.wouldStall() || appendsInFlight.get() >= MAX_APPENDS_IN_FLIGHT;
    try {
      (slow ? executors.stall() : executors.append()).execute(append);
    } catch (RejectedExecutionException e) {
      throw StrataException.overloaded(
          "fork '" + forkName + "': too many writes are waiting" + (slow ? " for a write stall" : "")
              + "; retry later",
          REFUSED_RETRY_MS);
    }
    return result;
  }

  /** The asynchronous write after validation: stall, WAL append, then {@link #applyDurable}. */
  private void append(String collection, List<Mutation> mutations, Durability durability, Executor applyOn,
      BooleanSupplier abandoned, CompletableFuture<Long> result) {
    WalAppend a;
    WalEntries.WriteRecord record;
    appendsInFlight.incrementAndGet();
    try {
      lifecycle.checkWritable(); // it may have changed while the write was queued
      if (!abandoned.getAsBoolean()) {
        writeController.beforeWrite();
      }
      if (abandoned.getAsBoolean()) {
        result.completeExceptionally(new CancellationException("the caller gave up before the WAL append: nothing applied"));
        return;
      }
      // The one encoding of the call, as in write: the record's L0 view points at its bytes.
      record = WalEntries.encodeWrite(collection, mutations);
      try {
        a = wal.append(record.bytes(), durability);
      } catch (IOException e) {
        throw lifecycle.walFailed(e);
      }
    } catch (RuntimeException e) {
      result.completeExceptionally(e);
      return;
    } finally {
      appendsInFlight.decrementAndGet();
    }
    CompletableFuture<Long> durable = a.durable();
    L0Record l0 = record.l0();
    if (durable.isDone()) {
      // This thread led the batch (or the WAL failed): finish here, no hand-off.
      applyDurable(a.lsn(), durable, l0, result);
      return;
    }
    durable.whenComplete(
        (lsn, err) -> {
          // On the thread that completed the batch, maybe the WAL's syncer, which must not do the
          // work (it would delay the next batch).
          try {
            applyOn.execute(() -> applyDurable(a.lsn(), durable, l0, result));
          } catch (RejectedExecutionException full) {
            applyDurable(a.lsn(), durable, l0, result); // never strand an LSN
          }
        });
  }

  /** Applies a durable record to L0 and marks its LSN done (invariants 2 and 4); completes the write. */
  private void applyDurable(long lsn, CompletableFuture<Long> durable, L0Record l0, CompletableFuture<Long> result) {
    RuntimeException failure = null;
    try {
      if (durable.isCompletedExceptionally()) {
        throw lifecycle.walFailed(durabilityFailure(durable));
      }
      memTables.apply(lsn, l0);
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      watermark.markDone(lsn);
    }
    if (failure == null) {
      result.complete(lsn);
    } else {
      result.completeExceptionally(failure);
    }
  }

  private static IOException durabilityFailure(CompletableFuture<Long> durable) {
    try {
      durable.join();
      return new IOException("WAL append failed");
    } catch (CompletionException | CancellationException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      return cause instanceof IOException io ? io : new IOException(cause);
    }
  }

  /**
   * Checks a write before anything is applied: the fork takes writes, the collection exists, every
   * put fits its schema.
   *
   * @throws StrataException INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE
   */
  private void validate(String collection, List<Mutation> mutations) {
    lifecycle.checkWritable();
    if (mutations.isEmpty()) {
      throw StrataException.invalid("a write needs at least one mutation");
    }
    CollectionRegistry.Collection c = collections.require(forkName, collection);
    for (int i = 0; i < mutations.size(); i++) {
      if (mutations.get(i) instanceof Mutation.Put p) {
        try {
          SegmentStore.validate(p.document(), c.schema());
        } catch (IllegalArgumentException e) {
          throw StrataException.invalid("document '" + p.id() + "': " + e.getMessage());
        }
      }
    }
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
