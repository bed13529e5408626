package dev.strata.engine.fork;

import dev.strata.engine.flush.FlushTicket;
import java.util.List;

/**
 * What a merge did (or, for a dry run, would do). Immutable.
 *
 * @param outcome fast-forward, three-way, up to date, or conflicts (nothing written)
 * @param dryRun nothing was written
 * @param baseSnapshotId the merge base
 * @param sourceSnapshotId the source snapshot merged
 * @param targetHeadSnapshotId the target's head when the merge started ("" if none)
 * @param ticket resolves to the snapshot that holds the merge; null when nothing was written
 * @param mergeLsn the LSN of the merge's record in the target's WAL; 0 when nothing was written
 * @param documentsPut documents the merge writes on the target
 * @param documentsDeleted documents the merge deletes on the target
 * @param collectionsCreated collections the merge creates on the target
 * @param conflictCount conflicts in total (resolved ones too, under a resolving strategy)
 * @param conflicts the requested page of conflicts, by collection then id
 * @param moreConflicts conflicts follow the page
 */
public record MergeResult(
    Outcome outcome,
    boolean dryRun,
    String baseSnapshotId,
    String sourceSnapshotId,
    String targetHeadSnapshotId,
    FlushTicket ticket,
    long mergeLsn,
    long documentsPut,
    long documentsDeleted,
    long collectionsCreated,
    long conflictCount,
    List<Conflict> conflicts,
    boolean moreConflicts) {

  /** What a merge did. */
  public enum Outcome {
    /** The target took the source snapshot's segments (O(1)). */
    FAST_FORWARD,
    /** The source's changes were written to the target atomically. */
    THREE_WAY,
    /** Nothing to merge. */
    UP_TO_DATE,
    /** Nothing written; see the conflicts. */
    CONFLICTS
  }

  /**
   * One conflict of a merge. Immutable.
   *
   * @param kind a document or a collection's schema
   * @param collection the collection
   * @param id the document id; empty for a schema conflict
   * @param sourceLsn the LSN of the source's version (in the WAL of the fork that wrote it), 0 if
   *     unknown
   * @param targetLsn the LSN of the target's version, 0 if unknown
   * @param sourceDeleted the source deleted the document
   * @param targetDeleted the target deleted the document
   * @param detail for a schema conflict, how the schemas differ; else empty
   */
  public record Conflict(
      Kind kind,
      String collection,
      String id,
      long sourceLsn,
      long targetLsn,
      boolean sourceDeleted,
      boolean targetDeleted,
      String detail) {

    /** What a conflict is about. */
    public enum Kind {
      /** A document changed on both sides since the base, to different results. */
      DOCUMENT,
      /** A collection both sides created, with different schemas: no strategy resolves it. */
      SCHEMA
    }
  }

  /** Makes an immutable copy of the conflict page. */
  public MergeResult {
    conflicts = List.copyOf(conflicts);
  }
}
