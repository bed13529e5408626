package dev.strata.objectstore;

import java.net.URI;
import java.util.Objects;

/**
 * Settings of the object-storage tier ({@code storage.*} in the server's config, see
 * docs/operations.md). Immutable and thread-safe. The tier is on when a bucket is set.
 *
 * @param endpoint the S3 endpoint, e.g. {@code http://127.0.0.1:9000}; null for AWS's regional one
 * @param region the signing region, e.g. {@code us-east-1}
 * @param bucket the bucket (must exist)
 * @param prefix key prefix inside the bucket, without leading or trailing '/'; may be empty
 * @param accessKey access key id; empty for the SDK's default credential chain (environment
 *     {@code AWS_ACCESS_KEY_ID}/{@code AWS_SECRET_ACCESS_KEY}, profile, instance role)
 * @param secretKey the secret of {@code accessKey}; never logged
 * @param pathStyle address the bucket as {@code endpoint/bucket/key} (needed by most
 *     self-hosted S3 look-alikes) instead of {@code bucket.endpoint/key}
 * @param leaseMs how long a writer's generation stays live without a heartbeat: a second server
 *     refuses the prefix while the first's heartbeat is younger than this (ms)
 * @param uploadThreads threads uploading, shared by every fork: a fork's pending bundles go up in
 *     parallel on them, its manifests one at a time in seq order
 * @param retryBackoffMs first delay after a failed upload step (doubles, at most 30 s)
 * @param deleteGraceMs how long an object stays in the bucket after bucket GC first finds that no
 *     retained manifest names it, so a reader on another node is not cut off (ms)
 */
public record ObjectStoreConfig(
    URI endpoint,
    String region,
    String bucket,
    String prefix,
    String accessKey,
    String secretKey,
    boolean pathStyle,
    long leaseMs,
    int uploadThreads,
    long retryBackoffMs,
    long deleteGraceMs) {

  /** Default {@link #leaseMs}: 30 s. */
  public static final long DEFAULT_LEASE_MS = 30_000;

  public ObjectStoreConfig {
    Objects.requireNonNull(region, "region");
    Objects.requireNonNull(accessKey, "accessKey");
    Objects.requireNonNull(secretKey, "secretKey");
    if (bucket == null || bucket.isBlank()) {
      throw new IllegalArgumentException("storage.bucket must not be empty");
    }
    prefix = normalizePrefix(prefix);
    if (leaseMs < 1000) {
      throw new IllegalArgumentException("storage.lease must be at least 1s, got " + leaseMs + " ms");
    }
    if (uploadThreads < 1) {
      throw new IllegalArgumentException("storage.upload_threads must be at least 1, got " + uploadThreads);
    }
    if (retryBackoffMs < 1) {
      throw new IllegalArgumentException("retry back-off must be at least 1 ms");
    }
    if (deleteGraceMs < 0) {
      throw new IllegalArgumentException("storage.delete_grace must not be negative");
    }
    if (accessKey.isEmpty() != secretKey.isEmpty()) {
      throw new IllegalArgumentException("storage.access_key and storage.secret_key are set together or not at all");
    }
  }

  /** A prefix without leading or trailing '/', or "" (null becomes ""). */
  static String normalizePrefix(String prefix) {
    String p = prefix == null ? "" : prefix.strip();
    while (p.startsWith("/")) {
      p = p.substring(1);
    }
    while (p.endsWith("/")) {
      p = p.substring(0, p.length() - 1);
    }
    return p;
  }

  /** This config on another bucket and prefix (restore reads from {@code s3://bucket/prefix}). */
  public ObjectStoreConfig withLocation(String newBucket, String newPrefix) {
    return new ObjectStoreConfig(
        endpoint, region, newBucket, newPrefix, accessKey, secretKey, pathStyle, leaseMs, uploadThreads, retryBackoffMs, deleteGraceMs);
  }

  /** This config with another lease (tests use short ones). */
  public ObjectStoreConfig withLeaseMs(long newLeaseMs) {
    return new ObjectStoreConfig(
        endpoint, region, bucket, prefix, accessKey, secretKey, pathStyle, newLeaseMs, uploadThreads, retryBackoffMs, deleteGraceMs);
  }

  /**
   * Parses {@code s3://bucket[/prefix]}.
   *
   * @return {bucket, prefix}
   * @throws IllegalArgumentException naming the value if it is not such a URL
   */
  public static String[] parseS3Url(String url) {
    if (url == null || !url.startsWith("s3://") || url.length() == 5) {
      throw new IllegalArgumentException("expected s3://bucket[/prefix], got '" + url + "'");
    }
    String rest = url.substring(5);
    int slash = rest.indexOf('/');
    String bucket = slash < 0 ? rest : rest.substring(0, slash);
    String prefix = slash < 0 ? "" : rest.substring(slash + 1);
    if (bucket.isEmpty()) {
      throw new IllegalArgumentException("expected s3://bucket[/prefix], got '" + url + "' (no bucket)");
    }
    return new String[] {bucket, normalizePrefix(prefix)};
  }

  /** {@code s3://bucket/prefix}, for logs and errors. */
  public String location() {
    return "s3://" + bucket + (prefix.isEmpty() ? "" : "/" + prefix);
  }

  @Override
  public String toString() {
    return "ObjectStoreConfig[" + location() + ", endpoint=" + (endpoint == null ? "aws" : endpoint)
        + ", region=" + region + ", pathStyle=" + pathStyle + ", credentials="
        + (accessKey.isEmpty() ? "default chain" : "static key " + accessKey) + "]";
  }
}
