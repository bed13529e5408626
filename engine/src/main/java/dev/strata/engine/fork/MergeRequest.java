package dev.strata.engine.fork;

import dev.strata.engine.read.PublishedSnapshot;

/**
 * The target side's input of a merge ({@link Fork#merge}): the snapshots the engine resolved and
 * pinned (the caller holds a reference on both for the whole call), and the options. Immutable.
 *
 * @param source the source fork's snapshot to merge (its head)
 * @param base the merge base: the common ancestor of the source snapshot and the target
 * @param strategy what to do with conflicts
 * @param dryRun report only; write nothing
 * @param pageAfterCollection list conflicts after this key (with {@code pageAfterId}); "" for the
 *     first page
 * @param pageAfterId see {@code pageAfterCollection}
 * @param pageSize conflicts per page, at least 1
 */
public record MergeRequest(
    PublishedSnapshot source,
    PublishedSnapshot base,
    MergeStrategy strategy,
    boolean dryRun,
    String pageAfterCollection,
    String pageAfterId,
    int pageSize) {}
