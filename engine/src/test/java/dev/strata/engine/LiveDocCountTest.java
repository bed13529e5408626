package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.Manifest;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every manifest records each collection's live documents, exactly, from the moment it is
 * published (issue #11, defect 11): overwrites and deletes never count twice, a compaction changes
 * nothing, a fork inherits its base's counts, and a restart reads the same numbers.
 */
class LiveDocCountTest {
  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  private static Map<String, Long> recorded(Manifest m) {
    Map<String, Long> out = new TreeMap<>();
    for (CollectionDef d : m.getCollectionsList()) {
      assertThat(d.hasLiveDocCount()).as("collection %s of %s has a live count", d.getName(), m.getId()).isTrue();
      out.put(d.getName(), d.getLiveDocCount());
    }
    return out;
  }

  private static void assertCounts(Manifest m, Map<String, Map<String, String>> model) {
    Map<String, Long> want = new TreeMap<>();
    model.forEach((coll, docs) -> want.put(coll, (long) docs.size()));
    assertThat(recorded(m)).as("live counts of %s", m.getId()).isEqualTo(want);
    assertThat(m.getStats().getDocCount()).as("stats.doc_count of %s", m.getId())
        .isEqualTo(want.values().stream().mapToLong(Long::longValue).sum());
  }

  @Test
  void liveCountsAreExactThroughOverwritesDeletesCompactionForksAndRestarts() throws Exception {
    fx = new EngineFixture(dir, EngineFixture.testOptions().build());
    Fork main = fx.engine.fork("main");
    Map<String, Map<String, String>> model = new TreeMap<>();
    for (String c : List.of("books", "films", "empty")) {
      main.createOrGetCollection(c, SCHEMA);
      model.put(c, new TreeMap<>());
    }
    Random rnd = new Random(11);
    List<Manifest> published = new ArrayList<>();
    for (int round = 0; round < 6; round++) {
      for (int i = 0; i < 60; i++) {
        String coll = rnd.nextBoolean() ? "books" : "films";
        String id = "d" + rnd.nextInt(80);
        if (rnd.nextInt(5) == 0) {
          main.write(coll, List.of(new Mutation.Delete(id)), Durability.SYNC);
          model.get(coll).remove(id);
        } else {
          String body = "v" + round + "-" + i;
          main.write(coll, List.of(new Mutation.Put(doc(id, body, "t", i))), Durability.SYNC);
          model.get(coll).put(id, body);
        }
      }
      Manifest m = main.awaitTicket(main.flush(5_000)).get(20, TimeUnit.SECONDS);
      assertCounts(m, model);
      published.add(m);
    }
    for (String c : model.keySet()) {
      assertThat(main.search(c, SearchQuery.of(null, 1), null).totalHits())
          .as("match-all search agrees with the recorded count of %s", c)
          .isEqualTo(model.get(c).size());
    }
    Manifest compacted = fx.engine.compact("main", true).get(30, TimeUnit.SECONDS).published().orElseThrow();
    assertThat(compacted.getSegmentsCount()).isEqualTo(1);
    assertCounts(compacted, model);

    Fork child = fx.engine.createFork("child", null, "main", false, 5_000);
    assertCounts(child.head().orElseThrow(), model);
    Map<String, Map<String, String>> childModel = new LinkedHashMap<>();
    model.forEach((c, docs) -> childModel.put(c, new TreeMap<>(docs)));
    String anyBook = childModel.get("books").keySet().iterator().next();
    child.write("books", List.of(new Mutation.Delete(anyBook)), Durability.SYNC);
    childModel.get("books").remove(anyBook);
    child.write("films", List.of(new Mutation.Put(doc("new-film", "x", "t", 1))), Durability.SYNC);
    childModel.get("films").put("new-film", "x");
    assertCounts(child.awaitTicket(child.flush(5_000)).get(20, TimeUnit.SECONDS), childModel);

    fx.reopen();
    assertCounts(fx.engine.fork("main").head().orElseThrow(), model);
    Fork reopened = fx.engine.fork("main");
    reopened.write("books", List.of(new Mutation.Put(doc("after-restart", "x", "t", 1))), Durability.SYNC);
    model.get("books").put("after-restart", "x");
    assertCounts(reopened.awaitTicket(reopened.flush(5_000)).get(20, TimeUnit.SECONDS), model);
    for (Manifest m : published) {
      assertThat(recorded(fx.engine.fork("main").loadSnapshot(m.getId()))).isEqualTo(recorded(m));
    }
  }
}
