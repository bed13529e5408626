package dev.strata.engine;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** A wall clock tests move by hand ({@link EngineOptions#clock()}), instead of sleeping. Thread-safe. */
public final class ManualClock extends Clock {
  private final AtomicLong millis;

  /** Starts at {@code startMs}, ms since the epoch. */
  public ManualClock(long startMs) {
    this.millis = new AtomicLong(startMs);
  }

  /** Moves the clock forward by {@code ms}. */
  public void advance(long ms) {
    millis.addAndGet(ms);
  }

  @Override
  public long millis() {
    return millis.get();
  }

  @Override
  public Instant instant() {
    return Instant.ofEpochMilli(millis.get());
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("a test clock has one zone");
  }
}
