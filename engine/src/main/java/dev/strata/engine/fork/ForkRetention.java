package dev.strata.engine.fork;

import dev.strata.engine.retention.RetentionOptions;
import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * One fork's snapshot expiry, as the engine's retention pass drives it: the chain deletes the
 * manifests ({@link SnapshotChain#expire}), then the cache of opened snapshots forgets them.
 *
 * <p>Called from one thread at a time (the engine's {@code strata-gc} thread); the chain and the
 * cache are thread-safe for everyone else.
 */
public final class ForkRetention {
  private final ForkLifecycle lifecycle;
  private final SnapshotChain chain;
  private final SnapshotCache snapshotCache;

  ForkRetention(ForkLifecycle lifecycle, SnapshotChain chain, SnapshotCache snapshotCache) {
    this.lifecycle = lifecycle;
    this.chain = chain;
    this.snapshotCache = snapshotCache;
  }

  /**
   * Deletes this fork's expired snapshots ({@link SnapshotChain#expire}) and releases the cached
   * ones. Readers holding an expired snapshot open keep reading it: its segments stay until they
   * release it. Never deletes the head. Call from one thread at a time (the engine's GC thread).
   *
   * @param protectedIds tagged snapshots and fork bases, kept whatever their age
   * @param confirm given the ids the policy would expire, returns those that may really go (it
   *     re-checks references registered meanwhile, e.g. a new tag) and marks them as going
   * @param done told the ids once their files are deleted (or the deletion failed)
   * @return how many snapshots expired
   * @throws IOException if a manifest cannot be deleted (those deleted so far stay deleted)
   */
  public int expire(
      Set<String> protectedIds,
      RetentionOptions retention,
      long nowMs,
      UnaryOperator<List<String>> confirm,
      Consumer<List<String>> done)
      throws IOException {
    if (lifecycle.isClosed()) {
      return 0;
    }
    List<String> expired = chain.expire(protectedIds, retention, nowMs, confirm, done);
    snapshotCache.forget(expired);
    return expired.size();
  }

  /**
   * Deletes the named snapshots early (retention's space bound chose them), as {@link
   * #expire}; never the head. Call from the engine's GC thread.
   *
   * @return how many expired
   */
  public int expire(List<String> ids, UnaryOperator<List<String>> confirm, Consumer<List<String>> done)
      throws IOException {
    if (lifecycle.isClosed()) {
      return 0;
    }
    List<String> expired = chain.expireIds(ids, confirm, done);
    snapshotCache.forget(expired);
    return expired.size();
  }
}
