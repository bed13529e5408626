package dev.strata.wal;

import java.util.Objects;

/**
 * Settings of one {@link WalWriter}. Immutable and thread-safe; build with {@link #builder()}.
 *
 * <ul>
 *   <li>{@code segmentBytes} (default 64 MiB): a segment file is closed and a new one started when
 *       the next record would take it past this size. A record larger than this gets a segment of
 *       its own.
 *   <li>{@code syncIntervalMs} (default 200 ms): how often the background syncer fsyncs records
 *       appended with {@link Durability#ASYNC} (SPEC's {@code wal.sync_interval}).
 *   <li>{@code recoveryMode} (default {@link WalRecoveryMode#TOLERATE_CORRUPTED_TAIL}): what
 *       {@link WalWriter#open} does with a damaged log.
 *   <li>{@code maxRecordBytes} (default 64 MiB, at most 1 GiB): the largest payload {@link
 *       WalWriter#append} accepts. It limits appends only; a log written with a larger limit still
 *       reads back.
 *   <li>{@code maxPendingBytes} (default 64 MiB): encoded bytes that may wait for the writing
 *       thread. An appender that would exceed it waits until the batch in progress is taken, so a
 *       slow disk makes producers wait instead of growing the queue without limit.
 * </ul>
 */
public final class WalOptions {

  /** Default {@code segmentBytes}: 64 MiB. */
  public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;
  /** Default {@code syncIntervalMs}: 200 ms. */
  public static final long DEFAULT_SYNC_INTERVAL_MS = 200;
  /** Default {@code maxRecordBytes}: 64 MiB. */
  public static final int DEFAULT_MAX_RECORD_BYTES = 64 << 20;
  /** Default {@code maxPendingBytes}: 64 MiB. */
  public static final long DEFAULT_MAX_PENDING_BYTES = 64L << 20;

  private final long segmentBytes;
  private final long syncIntervalMs;
  private final WalRecoveryMode recoveryMode;
  private final int maxRecordBytes;
  private final long maxPendingBytes;

  private WalOptions(Builder b) {
    this.segmentBytes = b.segmentBytes;
    this.syncIntervalMs = b.syncIntervalMs;
    this.recoveryMode = b.recoveryMode;
    this.maxRecordBytes = b.maxRecordBytes;
    this.maxPendingBytes = b.maxPendingBytes;
  }

  /** A builder holding every default. */
  public static Builder builder() {
    return new Builder();
  }

  /** The defaults. */
  public static WalOptions defaults() {
    return builder().build();
  }

  /** A builder holding these values. */
  public Builder toBuilder() {
    return new Builder()
        .segmentBytes(segmentBytes)
        .syncIntervalMs(syncIntervalMs)
        .recoveryMode(recoveryMode)
        .maxRecordBytes(maxRecordBytes)
        .maxPendingBytes(maxPendingBytes);
  }

  /** Target size of a segment file, in bytes. */
  public long segmentBytes() {
    return segmentBytes;
  }

  /** Period of the background fsync of ASYNC records, in milliseconds. */
  public long syncIntervalMs() {
    return syncIntervalMs;
  }

  /** What opening a damaged log does. */
  public WalRecoveryMode recoveryMode() {
    return recoveryMode;
  }

  /** Largest payload accepted by {@link WalWriter#append}, in bytes. */
  public int maxRecordBytes() {
    return maxRecordBytes;
  }

  /** Encoded bytes allowed to wait for the writing thread before appenders wait. */
  public long maxPendingBytes() {
    return maxPendingBytes;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof WalOptions w
        && w.segmentBytes == segmentBytes
        && w.syncIntervalMs == syncIntervalMs
        && w.recoveryMode == recoveryMode
        && w.maxRecordBytes == maxRecordBytes
        && w.maxPendingBytes == maxPendingBytes;
  }

  @Override
  public int hashCode() {
    return Objects.hash(segmentBytes, syncIntervalMs, recoveryMode, maxRecordBytes, maxPendingBytes);
  }

  @Override
  public String toString() {
    return "WalOptions{segmentBytes="
        + segmentBytes
        + ", syncIntervalMs="
        + syncIntervalMs
        + ", recoveryMode="
        + recoveryMode
        + ", maxRecordBytes="
        + maxRecordBytes
        + ", maxPendingBytes="
        + maxPendingBytes
        + "}";
  }

  /** Builds {@link WalOptions}; every setter checks its range and throws IllegalArgumentException. */
  public static final class Builder {
    private long segmentBytes = DEFAULT_SEGMENT_BYTES;
    private long syncIntervalMs = DEFAULT_SYNC_INTERVAL_MS;
    private WalRecoveryMode recoveryMode = WalRecoveryMode.TOLERATE_CORRUPTED_TAIL;
    private int maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;
    private long maxPendingBytes = DEFAULT_MAX_PENDING_BYTES;

    private Builder() {}

    /** Target segment size in bytes, at least 1 (small values are for tests). */
    public Builder segmentBytes(long v) {
      if (v < 1) {
        throw new IllegalArgumentException("wal segmentBytes must be at least 1, got " + v);
      }
      segmentBytes = v;
      return this;
    }

    /** Background fsync period of ASYNC records in milliseconds, at least 1. */
    public Builder syncIntervalMs(long v) {
      if (v < 1) {
        throw new IllegalArgumentException("wal syncIntervalMs must be at least 1, got " + v);
      }
      syncIntervalMs = v;
      return this;
    }

    /** What opening a damaged log does. */
    public Builder recoveryMode(WalRecoveryMode v) {
      recoveryMode = Objects.requireNonNull(v, "recoveryMode");
      return this;
    }

    /** Largest payload in bytes, 0 to 1 GiB. */
    public Builder maxRecordBytes(int v) {
      if (v < 0 || v > RecordFormat.MAX_PAYLOAD_BYTES) {
        throw new IllegalArgumentException(
            "wal maxRecordBytes must be in [0, " + RecordFormat.MAX_PAYLOAD_BYTES + "], got " + v);
      }
      maxRecordBytes = v;
      return this;
    }

    /** Encoded bytes allowed to wait for the writing thread, at least 1. */
    public Builder maxPendingBytes(long v) {
      if (v < 1) {
        throw new IllegalArgumentException("wal maxPendingBytes must be at least 1, got " + v);
      }
      maxPendingBytes = v;
      return this;
    }

    /** The options. */
    public WalOptions build() {
      return new WalOptions(this);
    }
  }
}
