package dev.strata.server;

import dev.strata.engine.StrataEngine;
import dev.strata.engine.fork.Fork;
import java.util.Iterator;
import java.util.LinkedHashSet;

/**
 * What the server knows of fork ids that existed and were dropped, so that a ticket or snapshot id
 * of a dropped fork gets {@code FORK_DROPPED} while an id that never existed gets a plain {@code
 * NOT_FOUND} (issue #11 item 13). The evidence: the forks this server dropped since it started (the
 * most recent {@value #CAPACITY}), and the base snapshots of open forks (a fork made from a fork
 * that is gone names it). The engine's catalog forgets a fork once its drop finishes, so a fork
 * dropped before the server started and left no child is reported as not found, never as dropped
 * without proof. Thread-safe.
 */
final class DroppedForkIds {
  /** Dropped fork ids remembered, most recent first out. */
  static final int CAPACITY = 10_000;

  /** Guarded by this. Insertion order: the oldest id is evicted first. */
  private final LinkedHashSet<String> dropped = new LinkedHashSet<>();

  /** Records that fork {@code forkId} was dropped. */
  synchronized void record(String forkId) {
    dropped.add(forkId);
    if (dropped.size() > CAPACITY) {
      Iterator<String> oldest = dropped.iterator();
      oldest.next();
      oldest.remove();
    }
  }

  /** True if {@code forkId} is known to have existed and to be dropped (it is not open). */
  boolean wasDropped(StrataEngine engine, String forkId) {
    synchronized (this) {
      if (dropped.contains(forkId)) {
        return true;
      }
    }
    for (Fork f : engine.openForks()) {
      String base = f.entry().baseSnapshotId();
      if (!base.isEmpty() && Resolver.forkIdOf(base).equals(forkId)) {
        return true;
      }
    }
    return false;
  }
}
