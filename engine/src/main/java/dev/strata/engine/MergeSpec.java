package dev.strata.engine;

import dev.strata.engine.fork.MergeStrategy;

/**
 * What {@link StrataEngine#mergeFork} merges and how. Immutable.
 *
 * @param source the fork to merge from
 * @param target the fork to merge into; null or empty for the fork the source was created from
 * @param strategy what to do with conflicts
 * @param expectedTargetHead merge only if the target's head snapshot is this one (null or empty:
 *     any)
 * @param dryRun report what the merge would do; write nothing
 * @param flushSource flush the source first and merge the snapshot that covers every write
 *     acknowledged on it
 * @param timeoutMs bound on that flush, ms
 * @param pageAfterCollection list conflicts after this (collection, id) key; "" for the first page
 * @param pageAfterId see {@code pageAfterCollection}
 * @param pageSize conflicts per page (at least 1)
 */
public record MergeSpec(
    String source,
    String target,
    MergeStrategy strategy,
    String expectedTargetHead,
    boolean dryRun,
    boolean flushSource,
    long timeoutMs,
    String pageAfterCollection,
    String pageAfterId,
    int pageSize) {

  /** A plain merge of {@code source} into {@code target} with {@code strategy}: first page of 100 conflicts. */
  public static MergeSpec of(String source, String target, MergeStrategy strategy) {
    return new MergeSpec(source, target, strategy, null, false, false, 0, "", "", 100);
  }

  /** This spec as a dry run. */
  public MergeSpec asDryRun() {
    return new MergeSpec(source, target, strategy, expectedTargetHead, true, flushSource, timeoutMs, pageAfterCollection, pageAfterId, pageSize);
  }
}
