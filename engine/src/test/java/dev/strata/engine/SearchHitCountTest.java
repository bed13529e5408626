package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static dev.strata.engine.EngineFixture.put;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.segment.SearchQuery;
import dev.strata.engine.segment.SearchResult;
import dev.strata.engine.segment.SegmentSearcher;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Scored searches count matches exactly up to {@link SegmentSearcher#TOTAL_HITS_THRESHOLD} and
 * report a lower bound beyond (so Lucene may skip non-competitive blocks); match-all stays exact.
 */
class SearchHitCountTest {
  @TempDir Path dir;

  @Test
  void scoredCountsStopAtTheThresholdAndMatchAllStaysExact() throws Exception {
    try (EngineFixture fx = new EngineFixture(dir, EngineFixture.testOptions().build())) {
      Fork main = fx.engine.fork("main");
      main.createOrGetCollection("c", SCHEMA);
      int n = SegmentSearcher.TOTAL_HITS_THRESHOLD + 2_000;
      List<Mutation> batch = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        batch.addAll(put(doc("d" + i, "common word" + (i % 7 == 0 ? " rare" : ""), "x", i)));
        if (batch.size() == 1_000) {
          main.write("c", batch, Durability.ASYNC);
          batch = new ArrayList<>();
        }
      }
      main.awaitTicket(main.flush(10_000)).get(60, TimeUnit.SECONDS);

      SearchResult common = main.search("c", SearchQuery.of("common", 10), null);
      assertThat(common.hits()).hasSize(10);
      assertThat(common.totalHitsLowerBound()).isTrue();
      assertThat(common.totalHits()).isBetween((long) SegmentSearcher.TOTAL_HITS_THRESHOLD, (long) n);

      SearchResult rare = main.search("c", SearchQuery.of("rare", 10), null);
      assertThat(rare.totalHitsLowerBound()).isFalse();
      assertThat(rare.totalHits()).isEqualTo((n + 6) / 7);

      for (String all : new String[] {null, "", "*"}) {
        SearchResult r = main.search("c", SearchQuery.of(all, 1), null);
        assertThat(r.totalHitsLowerBound()).isFalse();
        assertThat(r.totalHits()).isEqualTo(n);
      }
    }
  }
}
