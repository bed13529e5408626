package dev.strata.engine.fork;

/**
 * What a three-way merge does with a conflict: a document both sides changed since the merge base,
 * to different results. Immutable.
 */
public enum MergeStrategy {
  /** Apply nothing and report the conflicts. */
  FAIL,
  /** The source's version (or delete) replaces the target's. */
  SOURCE_WINS,
  /** The target keeps its version. */
  TARGET_WINS
}
