package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import dev.strata.vfs.FaultInjectingVfs;
import dev.strata.vfs.FaultInjectingVfs.Fault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;

/**
 * Opens engines on one data directory through a {@link FaultInjectingVfs} that may be armed with
 * faults <em>before</em> the open (so a sweep also covers the first start-up), survives an open
 * that fails, and simulates the two kinds of crash a storage engine must survive:
 *
 * <ul>
 *   <li>{@link #powerLoss()}: kill -9 plus power loss; whatever the seam did not make durable is
 *       dropped ({@link FaultInjectingVfs#crash()});
 *   <li>{@link #kill()}: kill -9 only; every byte handed to the OS survives (the page cache is not
 *       lost), so an unsynced rename or directory entry is <em>kept</em>.
 * </ul>
 *
 * A correct engine must recover from both, since a real crash may leave either outcome. Test
 * helper; not thread-safe.
 */
final class CrashHarness implements AutoCloseable {
  final Path dir;
  EngineOptions options;
  FaultInjectingVfs vfs;

  /** The open engine, or null after a crash or a failed open. */
  StrataEngine engine;

  /** Why the last {@link #open} failed, or null. */
  Throwable openFailure;

  /** What the fault injector wraps (e.g. a {@link CrashOpLog} to name each call). */
  dev.strata.vfs.Vfs base = dev.strata.vfs.LocalVfs.INSTANCE;

  CrashHarness(Path dir, EngineOptions options) {
    this.dir = dir;
    this.options = options;
  }

  /**
   * Opens on a fresh {@link FaultInjectingVfs}, armed by {@code arm} first. A failed open is
   * remembered in {@link #openFailure} (the engine closed itself) and returns null.
   */
  StrataEngine tryOpen(Consumer<FaultInjectingVfs> arm) {
    vfs = new FaultInjectingVfs(base);
    arm.accept(vfs);
    openFailure = null;
    try {
      engine = StrataEngine.open(dir, vfs, options);
    } catch (IOException | RuntimeException e) {
      engine = null;
      openFailure = e;
    }
    return engine;
  }

  /** Opens with no faults; a failure is a test failure. */
  StrataEngine open() throws IOException {
    vfs = new FaultInjectingVfs(base);
    openFailure = null;
    engine = StrataEngine.open(dir, vfs, options);
    return engine;
  }

  /** kill -9 and power loss: unsynced bytes, entries and renames of the seam are lost. */
  void powerLoss() throws Exception {
    FaultInjectingVfs crashed = vfs;
    if (engine != null) {
      engine.haltForTesting(
          () -> {
            crashed.crash();
            return null;
          });
      engine = null;
    } else if (crashed != null) {
      crashed.crash();
    }
  }

  /** kill -9 only: the OS keeps every byte it was given. */
  void kill() throws Exception {
    if (engine != null) {
      engine.haltForTesting(() -> null);
      engine = null;
    }
  }

  void crash(boolean powerLoss) throws Exception {
    if (powerLoss) {
      powerLoss();
    } else {
      kill();
    }
  }

  /** {@link #crash} then {@link #open}. */
  StrataEngine crashAndReopen(boolean powerLoss) throws Exception {
    crash(powerLoss);
    return open();
  }

  @Override
  public void close() {
    if (engine != null) {
      engine.close();
      engine = null;
    }
  }

  /**
   * Turns the root logger off: a crash sweep provokes hundreds of expected ERROR logs with stack
   * traces. Returns the level {@link #restoreLogs} puts back.
   */
  static Level silenceLogs() {
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    Level saved = root.getLevel();
    root.setLevel(Level.OFF);
    return saved;
  }

  /** Puts back the root logger level {@link #silenceLogs} returned. */
  static void restoreLogs(Level saved) {
    ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME))
        .setLevel(saved);
  }

  /** Closes every harness, best effort (a test's clean-up). */
  static void closeAll(List<CrashHarness> harnesses) {
    for (CrashHarness h : harnesses) {
      try {
        h.close();
      } catch (RuntimeException e) {
        // best effort
      }
    }
  }

  /** How a crash point at Vfs call K of a sweep is simulated (then the test crashes and reopens). */
  enum Mode {
    /** The process dies at call K: it and every later call of the seam fail. */
    DIE_AT_CALL,
    /** Only call K fails, the engine carries on. */
    FAULT_THEN_POWER_LOSS;

    /** Arms {@code v} to fail call {@code ordinal} (and, dying, the 2,000 after it). */
    void arm(FaultInjectingVfs v, long ordinal) {
      v.failOperation(ordinal, Fault.IO_ERROR);
      if (this == DIE_AT_CALL) {
        for (long k = ordinal + 1; k < ordinal + 2000; k++) {
          v.failOperation(k, Fault.IO_ERROR);
        }
      }
    }
  }

  /** Deletes {@code p} and everything below it, best effort (a sweep's finished copies). */
  static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
    } catch (IOException e) {
      // the temp dir cleanup catches the rest
    }
  }

  // ------------------------------------------------------------------ checks shared by the tests

  /** Segment ids referenced by any retained manifest of any open fork. */
  static Set<Long> referenced(StrataEngine e) {
    Set<Long> out = new HashSet<>();
    for (Fork f : e.openForks()) {
      out.addAll(f.referencedSegments());
    }
    return out;
  }

  /**
   * Every problem of the "recovered cleanly" kind: a broken manifest chain, a read-only fork, a
   * segment directory or RocksDB key range nobody refers to (orphan), a referenced segment that is
   * missing or fails its checksum. Empty means OK.
   */
  static List<String> recoveryProblems(StrataEngine e) throws IOException {
    List<String> problems = new ArrayList<>();
    Set<Long> refs = referenced(e);
    for (Fork f : e.openForks()) {
      List<String> chain = f.verifyChain();
      if (!chain.isEmpty()) {
        problems.add("fork " + f.name() + ": manifest chain: " + chain);
      }
      if (f.readOnlyReason() != null) {
        problems.add("fork " + f.name() + " is read-only after recovery: " + f.readOnlyReason());
      }
      Manifest head = f.head().orElse(null);
      if (head != null) {
        for (SegmentRef r : head.getSegmentsList()) {
          long id = Long.parseUnsignedLong(r.getSegmentId(), 16);
          var bad = e.segments().check(id, r.getChecksum());
          if (bad.isPresent()) {
            problems.add(
                "fork "
                    + f.name()
                    + " head "
                    + head.getId()
                    + " segment "
                    + r.getSegmentId()
                    + ": "
                    + bad.get());
          }
        }
      }
    }
    Set<Long> onDisk = new HashSet<>(e.segments().segmentIdsOnDisk());
    onDisk.removeAll(refs);
    if (!onDisk.isEmpty()) {
      problems.add(
          "orphan segment directories " + hex(onDisk) + " (referenced: " + hex(refs) + ")");
    }
    Set<Long> inDb = new HashSet<>(e.segments().segmentIdsInRocksDb());
    inDb.removeAll(refs);
    if (!inDb.isEmpty()) {
      problems.add("orphan RocksDB key ranges " + hex(inDb) + " (referenced: " + hex(refs) + ")");
    }
    return problems;
  }

  static List<String> hex(Set<Long> ids) {
    return ids.stream().sorted().map(Long::toHexString).toList();
  }

  /**
   * Copies the data directory as it is on disk right now (every byte handed to the OS, synced or
   * not): what a kill -9 at this instant would leave behind. Call only while nothing writes.
   */
  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else if (!p.getFileName().toString().equals("LOCK")) {
          try {
            Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
          } catch (java.nio.file.NoSuchFileException gone) {
            // deleted while we walked: it would not be there after the crash either
          }
        }
      }
    }
  }
}
