package dev.strata.manifest;

import java.io.IOException;

/** {@link ManifestStore#load(long)} found no manifest with that seq (never published, or expired). */
public final class ManifestNotFoundException extends IOException {
  private static final long serialVersionUID = 1L;

  private final long seq;

  public ManifestNotFoundException(long seq, String message) {
    super(message);
    this.seq = seq;
  }

  /** The seq that was asked for. */
  public long seq() {
    return seq;
  }
}
