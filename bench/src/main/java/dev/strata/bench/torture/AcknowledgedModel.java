package dev.strata.bench.torture;

import dev.strata.api.v1.Document;
import dev.strata.api.v1.Mutation;
import dev.strata.api.v1.Value;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The exact model of what a crashed server must show: per key, the document of the last
 * acknowledged write (or nothing after an acknowledged delete), plus, per writer, the one batch
 * whose outcome the kill left unknown.
 *
 * <p>Each writer owns its keys, and writes them one batch at a time, so a key's writes are totally
 * ordered by its writer's program order: the last acknowledged batch is the state, and a batch in
 * flight at the kill either made it (its fsync finished before the kill, all of it) or did not
 * (none of it). Every put carries a unique token, so an observed document names the write it came
 * from, and its content is a function of that token ({@link #document}). {@link #check} compares a full scan after the restart against the model and classifies
 * every difference:
 *
 * <ul>
 *   <li><b>lost</b>: an acknowledged put is missing, or an older version shows instead;
 *   <li><b>resurrected</b>: a key whose last acknowledged write deleted it shows a document written
 *       before the delete;
 *   <li><b>corrupted</b>: a document no write ever had (unknown token, different content for its
 *       token, a key nobody wrote), or an in-flight batch applied in part (torn).
 * </ul>
 *
 * Refused writes (an error before the kill, e.g. back-pressure) are never applied to the model, so
 * a refused write that the server applied anyway shows as corrupted. Not thread-safe: writers
 * report through their own {@link WriterLog}, merged after they stop.
 */
final class AcknowledgedModel {
  /** The acknowledged state: key to document; a missing key is absent (never written or deleted). */
  private final Map<String, Document> state = new HashMap<>();
  /** Keys some writer owns. */
  private final Set<String> keys = new HashSet<>();

  /** What one writer did during a cycle: its acknowledged batches in order, and the unknown one. */
  static final class WriterLog {
    final List<List<Mutation>> acknowledged = new ArrayList<>();
    List<Mutation> inFlight;
    long acknowledgedMutations;
    long refused;
  }

  /** What a check found. */
  record Findings(long lost, long resurrected, long corrupted, long inFlightApplied, long inFlightNotApplied, List<String> examples) {
    boolean clean() {
      return lost == 0 && resurrected == 0 && corrupted == 0;
    }
  }

  /** Registers the keys a writer owns. */
  void own(List<String> writerKeys) {
    keys.addAll(writerKeys);
  }

  /** The token of a document: its {@code v} field. */
  static String token(Document d) {
    return d.getFieldsOrThrow("v").getStringValue();
  }

  private static final String[] WORDS = {"alpha", "beta", "gamma", "delta", "flush", "segment", "wal", "fork", "kill", "nine"};

  /**
   * The document a put of {@code key} with write id {@code writeId} sends. Its content is a function
   * of its token ({@code <writeId>/<key>}), so a document read back can be checked byte for byte
   * without remembering every document ever sent.
   */
  static Document document(String key, String writeId) {
    String token = writeId + "/" + key;
    SplittableRandom r = new SplittableRandom(token.hashCode() * 0x9E3779B97F4A7C15L);
    StringBuilder body = new StringBuilder();
    int n = 5 + r.nextInt(60);
    for (int i = 0; i < n; i++) {
      body.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
    }
    return Document.newBuilder()
        .setId(key)
        .putFields("v", Value.newBuilder().setStringValue(token).build())
        .putFields("n", Value.newBuilder().setInt64Value(r.nextLong()).build())
        .putFields("body", Value.newBuilder().setStringValue(body.toString()).build())
        .build();
  }

  /** True if {@code d} is exactly a document some put of its key sent (whether acknowledged or not). */
  static boolean wasSent(Document d) {
    if (!d.containsFields("v")) {
      return false;
    }
    String token = token(d);
    int slash = token.lastIndexOf('/');
    return slash > 0 && token.substring(slash + 1).equals(d.getId()) && d.equals(document(d.getId(), token.substring(0, slash)));
  }

  /** Applies a writer's acknowledged batches, in order. */
  void applyAcknowledged(WriterLog w) {
    for (List<Mutation> batch : w.acknowledged) {
      apply(state, batch);
    }
  }

  private static void apply(Map<String, Document> target, List<Mutation> batch) {
    for (Mutation m : batch) {
      if (m.hasPut()) {
        target.put(m.getPut().getId(), m.getPut());
      } else {
        target.remove(m.getDeleteId());
      }
    }
  }

  /**
   * Checks the documents a full scan found after the restart against the model, with the writers'
   * unknown batches of the cycle that ended in the kill; then makes what was found the new state.
   */
  Findings check(Map<String, Document> observed, List<WriterLog> writers) {
    long lost = 0;
    long resurrected = 0;
    long corrupted = 0;
    long applied = 0;
    long notApplied = 0;
    List<String> examples = new ArrayList<>();
    Set<String> inFlightKeys = new HashSet<>();
    for (WriterLog w : writers) {
      if (w.inFlight == null) {
        continue;
      }
      // The batch's effect, and the state it would have replaced.
      Map<String, Document> after = new LinkedHashMap<>();
      Set<String> touched = new HashSet<>();
      for (Mutation m : w.inFlight) {
        String id = m.hasPut() ? m.getPut().getId() : m.getDeleteId();
        touched.add(id);
      }
      for (String id : touched) {
        Document before = state.get(id);
        if (before != null) {
          after.put(id, before);
        }
      }
      apply(after, w.inFlight);
      boolean allNew = true;
      boolean allOld = true;
      for (String id : touched) {
        Document seen = observed.get(id);
        allNew &= same(seen, after.get(id));
        allOld &= same(seen, state.get(id));
      }
      if (allNew) {
        applied++;
        for (String id : touched) {
          if (after.containsKey(id)) {
            state.put(id, after.get(id));
          } else {
            state.remove(id);
          }
        }
      } else if (allOld) {
        notApplied++;
      } else {
        corrupted++;
        example(examples, "torn batch of " + touched.size() + " keys " + touched + ": partly applied");
      }
      inFlightKeys.addAll(touched);
    }
    for (String key : keys) {
      if (inFlightKeys.contains(key)) {
        continue;
      }
      Document want = state.get(key);
      Document seen = observed.get(key);
      if (same(seen, want)) {
        continue;
      }
      if (seen == null) {
        lost++;
        example(examples, "lost: " + key + " (acknowledged " + token(want) + ")");
      } else if (!wasSent(seen)) {
        corrupted++;
        example(examples, "corrupted: " + key + " shows " + seen.toString().replace('\n', ' '));
      } else if (want == null) {
        resurrected++;
        example(examples, "resurrected: " + key + " shows " + token(seen) + " after an acknowledged delete");
      } else {
        lost++;
        example(examples, "lost: " + key + " shows the older " + token(seen) + " instead of " + token(want));
      }
    }
    for (Map.Entry<String, Document> e : observed.entrySet()) {
      if (!keys.contains(e.getKey())) {
        corrupted++;
        example(examples, "corrupted: " + e.getKey() + " was never written");
      }
    }
    // Whatever was found is the truth from now on (after a finding the run fails anyway).
    state.clear();
    observed.forEach((k, v) -> {
      if (keys.contains(k)) {
        state.put(k, v);
      }
    });
    return new Findings(lost, resurrected, corrupted, applied, notApplied, examples);
  }

  private static boolean same(Document a, Document b) {
    return a == null ? b == null : a.equals(b);
  }

  private static void example(List<String> examples, String s) {
    if (examples.size() < 20) {
      examples.add(s);
    }
  }

  /** Keys that hold a document in the acknowledged state. */
  int liveKeys() {
    return state.size();
  }
}
