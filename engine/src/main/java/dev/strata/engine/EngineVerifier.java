package dev.strata.engine;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.segment.Segment;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The online {@code verify} of SPEC §7: walks every open fork's manifest chain and checks that
 * every segment a retained snapshot refers to exists with its checksum ({@link
 * SegmentStore#check}: the RocksDB content checksum and every Lucene file's CRC footer). Each
 * segment is checked once, however many snapshots and forks share it.
 *
 * <p>Safe while the engine runs: retention may expire a snapshot and GC reclaim its segments during
 * the walk; a segment missing only because its snapshot is gone is not reported.
 *
 * <p>Thread-safe; stateless between calls. Runs on the caller's thread (an RPC thread).
 */
final class EngineVerifier {
  private final ForkRegistry forks;
  private final SegmentStore segments;

  EngineVerifier(ForkRegistry forks, SegmentStore segments) {
    this.forks = forks;
    this.segments = segments;
  }

  /**
   * @return problems, each naming the fork, snapshot or segment; empty if all is well. A fork
   *     dropped (or closed) during the walk is skipped, not reported: it no longer exists.
   */
  List<String> verify() {
    List<String> problems = new ArrayList<>();
    Set<Long> checked = new HashSet<>();
    for (Fork f : forks.openForks()) {
      List<String> mine = new ArrayList<>();
      try {
        verifyFork(f, checked, mine);
      } catch (RuntimeException e) {
        if (forks.forkById(f.id()).isPresent()) {
          throw e;
        }
        continue; // dropped under the walk: its manifest store closed
      }
      problems.addAll(mine);
    }
    return problems;
  }

  private void verifyFork(Fork f, Set<Long> checked, List<String> problems) {
    try {
      f.verifyChain().forEach(p -> problems.add("fork " + f.name() + ": " + p));
    } catch (IOException e) {
      if (forks.forkById(f.id()).isEmpty()) {
        throw new IllegalStateException("fork " + f.name() + " was dropped", e);
      }
      problems.add("fork " + f.name() + ": manifest chain unreadable: " + e.getMessage());
    }
    if (f.readOnlyReason() != null) {
      problems.add("fork " + f.name() + ": read-only: " + f.readOnlyReason());
    }
    for (Manifest m : f.listSnapshots()) {
      for (SegmentRef ref : m.getSegmentsList()) {
        long id = Long.parseUnsignedLong(ref.getSegmentId(), 16);
        if (!checked.add(id)) {
          continue;
        }
        String problem;
        // With a remote source the segment may be evicted: a pinning handle fetches it for the check.
        try (Segment held = segments.fetchesRemote() ? segments.acquire(id) : null) {
          problem = segments.check(id, Integer.toUnsignedLong(ref.getChecksum())).orElse(null);
        } catch (IOException | RuntimeException e) {
          problem = e.getMessage();
        }
        // A snapshot still retained keeps its segments, so a problem then is real; one that
        // expired during the walk may have lost them legitimately.
        if (problem != null && forks.findManifest(m.getId()).isPresent()) {
          problems.add("segment " + ref.getSegmentId() + " (snapshot " + m.getId() + "): " + problem);
        } else if (problem != null) {
          checked.remove(id);
        }
      }
    }
  }
}
