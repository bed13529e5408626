package dev.strata.engine;

import static dev.strata.engine.EngineFixture.SCHEMA;
import static dev.strata.engine.EngineFixture.doc;
import static org.assertj.core.api.Assertions.assertThat;

import dev.strata.engine.fork.Fork;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.Mutation;
import dev.strata.engine.read.PublishedSnapshot;
import dev.strata.wal.Durability;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Undecoded reads (one id, and BatchGet's MultiGet per segment) answer the same versions — at
 * the head across active L0, frozen L0 and several segments with overwrites and deletes, and at an
 * older snapshot — and their bytes are the stored form the write encoded.
 */
class StoredReadTest {
  @TempDir Path dir;
  EngineFixture fx;

  @AfterEach
  void close() {
    if (fx != null) {
      fx.close();
    }
  }

  @Test
  void storedReadsMatchDecodedReadsEverywhere() throws Exception {
    fx = new EngineFixture(dir, EngineFixture.testOptions().build());
    Fork main = fx.engine.fork(StrataEngine.MAIN);
    main.createOrGetCollection("docs", SCHEMA);
    SplittableRandom rnd = new SplittableRandom(13);
    Map<String, Document> model = new HashMap<>();
    String firstSnapshot = null;
    Map<String, Document> atFirst = null;
    for (int round = 0; round < 6; round++) {
      List<Mutation> batch = new ArrayList<>();
      for (int k = 0; k < 80; k++) {
        String id = "id" + rnd.nextInt(200);
        if (rnd.nextInt(5) == 0) {
          batch.add(new Mutation.Delete(id));
          model.remove(id);
        } else {
          Document d = doc(id, "round " + round + " word" + rnd.nextInt(50), "t" + rnd.nextInt(3), rnd.nextLong());
          batch.add(new Mutation.Put(d));
          model.put(id, d);
        }
        if (batch.size() == 10) {
          main.write("docs", batch, Durability.SYNC);
          batch = new ArrayList<>();
        }
      }
      if (round < 5) { // the last round stays in L0
        var m = main.awaitTicket(main.flush(1000)).get(20, TimeUnit.SECONDS);
        if (firstSnapshot == null) {
          firstSnapshot = m.getId();
          atFirst = new HashMap<>(model);
        }
      }
    }
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 210; i++) {
      ids.add("id" + i);
    }
    DocumentVersion[] batch = main.reader().get("docs", ids, null);
    for (int i = 0; i < ids.size(); i++) {
      String id = ids.get(i);
      DocumentVersion one = main.get("docs", id);
      Document want = model.get(id);
      assertThat(one == null ? null : one.document()).as(id).isEqualTo(want);
      assertThat(batch[i] == null ? null : batch[i].document()).as(id).isEqualTo(want);
      if (want != null) {
        // Undecoded: the stored form is the canonical body the write encoded, byte for byte.
        assertThat(one.stored()).as(id).isEqualTo(EncodedDocument.of(want));
        assertThat(batch[i].stored()).as(id).isEqualTo(EncodedDocument.of(want));
        assertThat(batch[i].lsn()).as(id).isEqualTo(one.lsn());
      }
    }
    PublishedSnapshot old = main.acquireSnapshot(firstSnapshot);
    try {
      DocumentVersion[] then = main.reader().get("docs", ids, old);
      for (int i = 0; i < ids.size(); i++) {
        String id = ids.get(i);
        Document want = atFirst.get(id);
        assertThat(then[i] == null ? null : then[i].document()).as(id).isEqualTo(want);
        if (want != null) {
          assertThat(then[i].stored()).as(id).isEqualTo(EncodedDocument.of(want));
        }
      }
    } finally {
      old.release();
    }
  }
}
