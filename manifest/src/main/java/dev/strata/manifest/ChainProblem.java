package dev.strata.manifest;

/**
 * One broken invariant found by {@link ManifestChainVerifier} or {@link ManifestStore#verifyChain()}.
 * Immutable and thread-safe.
 *
 * @param kind which invariant
 * @param subject what it is about: a manifest ({@code "manifest seq=7 id=s7"}) or a file path
 * @param detail what is wrong, for a human
 */
public record ChainProblem(Kind kind, String subject, String detail) {

  /** The invariants (see {@link ManifestChainVerifier} for their exact definitions). */
  public enum Kind {
    /** A file could not be read or decoded (checksum, envelope, protobuf, name/content mismatch). */
    CORRUPT,
    /** A single manifest breaks a structural rule (empty id, duplicate segment, ...). */
    INVALID_MANIFEST,
    /** Manifests of different forks in one chain. */
    FORK_MISMATCH,
    /** A seq not greater than its predecessor's. */
    SEQ_NOT_INCREASING,
    /** A covered LSN lower than its predecessor's. */
    LSN_DECREASED,
    /** A parent link that does not name the predecessor (or skips a manifest that is present). */
    PARENT_MISMATCH,
    /** The base snapshot id differs along the chain. */
    BASE_CHANGED,
    /** Two manifests with the same id. */
    DUPLICATE_ID
  }

  @Override
  public String toString() {
    return kind + " " + subject + ": " + detail;
  }
}
