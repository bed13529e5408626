package dev.strata.engine;

import dev.strata.engine.compaction.CompactionOptions;
import dev.strata.engine.compaction.CompactionPolicy;
import dev.strata.engine.compaction.CompactionResult;
import dev.strata.engine.fork.CompactionJob;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.WriteRateLimiter;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine's one compaction executor: {@code compaction.max_concurrent} threads ({@code
 * strata-compaction-N}) shared by every fork, one write-rate limit, and per fork at most one job at
 * a time — so a fork never runs two compactions over overlapping runs, while different forks
 * compact in parallel.
 *
 * <p>Triggers: every flush publication ({@link #maybeSchedule}, called on the fork's finalizer, so
 * it only looks at segment sizes and queues), a periodic sweep over all forks, and {@link
 * #compactNow} (the {@code Compact} RPC), which queues behind the fork's running job. Writers never
 * wait on any of this; see {@link Fork} for the last-resort stall when compaction falls far behind.
 *
 * <p>Thread-safe. Owned by {@link StrataEngine}, which stops it (and then its pool) before
 * closing the forks.
 */
public final class CompactionScheduler implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CompactionScheduler.class);

  private final CompactionOptions options;
  private final CompactionPolicy policy;
  private final WriteRateLimiter limiter;
  private final ThreadPoolExecutor executor;
  /** Per fork id: the completion of its latest job (queued, running or waiting to publish). */
  private final ConcurrentHashMap<String, CompletableFuture<CompactionResult>> tails = new ConcurrentHashMap<>();
  private final AtomicInteger running = new AtomicInteger();
  private final AtomicLong failures = new AtomicLong();
  private volatile boolean stopped;

  /**
   * @param executor the engine's compaction pool ({@link EngineExecutors}); its owner shuts it down
   *     after {@link #stop}
   */
  public CompactionScheduler(CompactionOptions options, ThreadPoolExecutor executor) {
    this.options = options;
    this.policy = new CompactionPolicy(options);
    this.limiter = options.writeRateBytesPerSec() > 0 ? new WriteRateLimiter(options.writeRateBytesPerSec()) : null;
    this.executor = executor;
  }

  /** The merge policy in use. */
  public CompactionPolicy policy() {
    return policy;
  }

  /**
   * Queues a background compaction of {@code fork} if it is enabled, the policy picks a run, and
   * no job of the fork is pending. Cheap; never blocks.
   */
  public void maybeSchedule(Fork fork) {
    if (!options.enabled() || stopped || !fork.compactable()) {
      return;
    }
    if (policy.pick(fork.headSegmentSizes()).isEmpty()) {
      return;
    }
    tails.compute(
        fork.id(),
        (id, tail) -> {
          if (tail != null && !tail.isDone()) {
            return tail;
          }
          return submit(fork, false, true);
        });
  }

  /**
   * Compacts {@code fork} now (after its pending job, if any): one policy step, or a full merge.
   *
   * @return completes when the compaction published or found nothing to do; fails with the job's
   *     error
   */
  public CompletableFuture<CompactionResult> compactNow(Fork fork, boolean full) {
    if (stopped) {
      return CompletableFuture.failedFuture(StrataException.of(StrataException.Kind.UNAVAILABLE, "the engine is closing"));
    }
    CompletableFuture<CompactionResult> result = new CompletableFuture<>();
    tails.compute(
        fork.id(),
        (id, tail) -> {
          CompletableFuture<CompactionResult> after =
              tail == null || tail.isDone()
                  ? submit(fork, full, false)
                  : tail.handle((r, e) -> null).thenCompose(x -> submit(fork, full, false));
          after.whenComplete((r, e) -> {
            if (e != null) {
              result.completeExceptionally(e instanceof CompletionException c ? c.getCause() : e);
            } else {
              result.complete(r);
            }
          });
          return after;
        });
    return result;
  }

  private CompletableFuture<CompactionResult> submit(Fork fork, boolean full, boolean background) {
    CompletableFuture<CompactionResult> out = new CompletableFuture<>();
    try {
      executor.execute(() -> runJob(fork, full, background, out));
    } catch (RejectedExecutionException e) {
      out.completeExceptionally(new CancellationException("compaction executor stopped"));
    }
    return out;
  }

  private void runJob(Fork fork, boolean full, boolean background, CompletableFuture<CompactionResult> out) {
    if (stopped || !fork.compactable()) {
      out.complete(CompactionResult.nothing(fork.name(), fork.headSegmentSizes().size()));
      return;
    }
    running.incrementAndGet();
    CompletableFuture<CompactionResult> published;
    try {
      published = CompactionJob.run(fork, full, policy, limiter, () -> stopped);
    } catch (Throwable t) {
      failures.incrementAndGet();
      fork.compactionFailed(t);
      if (!stopped) {
        log.warn("fork={} compaction failed (retried by the next trigger): {}", fork.name(), t.toString());
      }
      out.completeExceptionally(t);
      return;
    } finally {
      running.decrementAndGet();
    }
    published.whenComplete(
        (r, e) -> {
          if (e != null) {
            failures.incrementAndGet();
            fork.compactionFailed(e);
            out.completeExceptionally(e);
            return;
          }
          out.complete(r);
          if (background) {
            // The policy may have more to do (the backlog drains run by run, and flushes published
            // during a long merge may have pushed the head over the cap again): look again now
            // rather than at the next flush or sweep. An abort is retried the same way.
            maybeSchedule(fork);
          }
        });
  }

  /** Compaction jobs merging right now (not counting those waiting to publish). */
  public int runningJobs() {
    return running.get();
  }

  /** Jobs queued on the executor, not yet started. */
  public int queuedJobs() {
    return executor.getQueue().size();
  }

  /** True if {@code fork} has a compaction queued, running or waiting to publish. */
  public boolean isPending(Fork fork) {
    CompletableFuture<CompactionResult> tail = tails.get(fork.id());
    return tail != null && !tail.isDone();
  }

  /** Jobs that failed since the engine opened. */
  public long failureCount() {
    return failures.get();
  }

  /** Forgets a dropped fork. */
  public void forget(Fork fork) {
    tails.remove(fork.id());
  }

  /**
   * Stops taking jobs and asks running merges to stop (they poll a flag; a throttled merge wakes
   * from its rate limiter). Does not wait: the executor's owner does. Idempotent.
   */
  public void stop() {
    stopped = true;
    if (limiter != null) {
      limiter.stop();
    }
  }

  /** Same as {@link #stop}. */
  @Override
  public void close() {
    stop();
  }
}
