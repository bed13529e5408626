package dev.strata.engine.fork;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.StrataException;
import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A collection's creation is one step with respect to publication (issue #11, defect 4): the
 * collection is recorded before its definition's LSN is marked applied, because a flush reads the
 * registry once the watermark reached its covered LSN; a snapshot covering a definition therefore
 * always lists the collection.
 */
class CollectionRegistryTest {
  private static final CollectionSchema SCHEMA = new CollectionSchema(List.of(FieldSpec.of("body", FieldKind.TEXT)));

  @Test
  void theDefinitionIsRecordedBeforeItsLsnIsMarkedApplied() {
    CollectionRegistry registry = new CollectionRegistry();
    AtomicLong lsns = new AtomicLong(41);
    List<String> seenAtDone = new ArrayList<>();
    CollectionRegistry.Defined d =
        registry.createOrGet(
            "main",
            "books",
            SCHEMA,
            (name, schema) -> lsns.incrementAndGet(),
            lsn -> {
              // What a flush covering this LSN would read right after the watermark moved.
              for (CollectionRegistry.Collection c : registry.asOf(lsn)) {
                seenAtDone.add(c.name() + "@" + c.createdLsn());
              }
            });
    assertThat(d.created()).isTrue();
    assertThat(seenAtDone).containsExactly("books@42");
    assertThat(registry.createOrGet("main", "books", SCHEMA, (n, s) -> 99, lsn -> {}).created()).isFalse();
  }

  @Test
  void aFailedDefinitionLogRecordsNothingAndTheNextCallerCreatesIt() {
    CollectionRegistry registry = new CollectionRegistry();
    assertThatThrownBy(
            () ->
                registry.createOrGet(
                    "main", "books", SCHEMA, (n, s) -> { throw new IOException("disk full"); }, lsn -> {}))
        .isInstanceOfSatisfying(StrataException.class, e -> assertThat(e.kind()).isEqualTo(StrataException.Kind.IO_ERROR));
    assertThat(registry.get("books")).isNull();
    List<Long> done = new ArrayList<>();
    assertThat(registry.createOrGet("main", "books", SCHEMA, (n, s) -> 7, done::add).created()).isTrue();
    assertThat(done).containsExactly(7L);
  }
}
