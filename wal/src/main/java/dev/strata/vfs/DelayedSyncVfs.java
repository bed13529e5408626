package dev.strata.vfs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link Vfs} for tests and benchmarks whose fsyncs under chosen directories are slow: a noisy
 * neighbour's disk. Every {@link WritableFile#sync()} of a file, {@link #syncDirectory} and {@link
 * #truncate} (which syncs the file it cuts) of a path under such a directory first waits, either a
 * fixed time ({@link #delay}) or until the directory is released ({@link #hold}, {@link
 * #release}), then does the real call. Everything else passes straight through, after Lucene's
 * {@code FilterDirectory}.
 *
 * <p>A held sync waits at most {@code maxHoldMs} (given at construction), then goes on: a test
 * that forgets to release never wedges. Thread-safe: the rules live in a concurrent map and
 * each wait is the calling thread's own.
 */
public final class DelayedSyncVfs extends ForwardingVfs {
  /** What happens to the syncs under one directory. */
  private record Rule(long delayNanos, CountDownLatch gate) {}

  private final long maxHoldMs;
  private final Map<Path, Rule> rules = new ConcurrentHashMap<>();
  /** Syncs waiting right now, by the path synced. */
  private final Map<Path, AtomicInteger> waitingNow = new ConcurrentHashMap<>();
  private final AtomicLong slowedSyncs = new AtomicLong();

  /**
   * Wraps {@code delegate}.
   *
   * @param maxHoldMs the longest a held sync waits for {@link #release}, ms
   */
  public DelayedSyncVfs(Vfs delegate, long maxHoldMs) {
    super(delegate);
    this.maxHoldMs = maxHoldMs;
  }

  /** From now on, every sync under {@code dir} takes {@code delayMs} longer (0: no delay). */
  public void delay(Path dir, long delayMs) {
    Path key = dir.toAbsolutePath().normalize();
    if (delayMs <= 0) {
      rules.remove(key);
    } else {
      rules.put(key, new Rule(TimeUnit.MILLISECONDS.toNanos(delayMs), null));
    }
  }

  /** From now on, every sync under {@code dir} waits for {@link #release} (at most {@code maxHoldMs}). */
  public void hold(Path dir) {
    rules.put(dir.toAbsolutePath().normalize(), new Rule(0, new CountDownLatch(1)));
  }

  /** Lets every sync held under {@code dir} go on, and later ones pass at once. */
  public void release(Path dir) {
    Rule r = rules.remove(dir.toAbsolutePath().normalize());
    if (r != null && r.gate() != null) {
      r.gate().countDown();
    }
  }

  /** Syncs of {@code dir} or of paths under it waiting right now (delayed or held). */
  public int waitingNow(Path dir) {
    Path d = dir.toAbsolutePath().normalize();
    int n = 0;
    for (Map.Entry<Path, AtomicInteger> e : waitingNow.entrySet()) {
      if (e.getKey().startsWith(d)) {
        n += e.getValue().get();
      }
    }
    return n;
  }

  /** Syncs slowed down so far, under every directory. */
  public long slowedSyncs() {
    return slowedSyncs.get();
  }

  private void beforeSync(Path path) throws IOException {
    Path p = path.toAbsolutePath().normalize();
    for (Map.Entry<Path, Rule> e : rules.entrySet()) {
      if (p.startsWith(e.getKey())) {
        pause(p, e.getKey(), e.getValue());
        return;
      }
    }
  }

  private void pause(Path path, Path dir, Rule rule) throws IOException {
    slowedSyncs.incrementAndGet();
    AtomicInteger waiting = waitingNow.computeIfAbsent(path, d -> new AtomicInteger());
    waiting.incrementAndGet();
    try {
      if (rule.gate() != null) {
        rule.gate().await(maxHoldMs, TimeUnit.MILLISECONDS);
      } else {
        TimeUnit.NANOSECONDS.sleep(rule.delayNanos());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while a slow sync of " + dir + " waited", e);
    } finally {
      waiting.decrementAndGet();
    }
  }

  @Override
  public WritableFile create(Path path) throws IOException {
    return slow(super.create(path));
  }

  @Override
  public WritableFile openForAppend(Path path) throws IOException {
    return slow(super.openForAppend(path));
  }

  private WritableFile slow(WritableFile inner) {
    return new ForwardingWritableFile(inner) {
      @Override
      public void sync() throws IOException {
        beforeSync(path());
        super.sync();
      }
    };
  }

  @Override
  public void syncDirectory(Path dir) throws IOException {
    beforeSync(dir);
    super.syncDirectory(dir);
  }

  @Override
  public void truncate(Path path, long sizeBytes) throws IOException {
    beforeSync(path);
    super.truncate(path, sizeBytes);
  }
}
