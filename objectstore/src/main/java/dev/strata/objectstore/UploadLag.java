package dev.strata.objectstore;

/**
 * How far one fork's uploads trail its published snapshots (Stats and metrics).
 *
 * @param forkName the fork's name
 * @param forkId the fork's id
 * @param snapshotsPending retained snapshots published locally and not yet in the bucket
 * @param bytesPending bytes of the segments those snapshots name that are not yet in the bucket
 * @param uploadedSeq the highest seq in the bucket, -1 if none (or not known yet)
 * @param snapshotsUploaded snapshots this server uploaded since it started
 * @param consecutiveFailures failed attempts since the last success (0 when healthy)
 * @param lastError the last failure, or null
 * @param stoppedBy why uploads of this fork stopped for good (fenced, diverged), or null
 */
public record UploadLag(
    String forkName,
    String forkId,
    int snapshotsPending,
    long bytesPending,
    long uploadedSeq,
    long snapshotsUploaded,
    int consecutiveFailures,
    String lastError,
    String stoppedBy) {}
