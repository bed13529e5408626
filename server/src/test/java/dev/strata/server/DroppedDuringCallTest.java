package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.strata.api.v1.CreateForkRequest;
import dev.strata.api.v1.DropForkRequest;
import dev.strata.api.v1.FlushRequest;
import dev.strata.engine.fork.Fork;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Found by ApiFuzzTest: a Verify running while a DropFork finished answered INTERNAL ("cannot list
 * snapshots: manifest store of fork ... is closed") and logged an engine I/O error. A fork dropped
 * while a call used it is NOT_FOUND (FORK_DROPPED), not a server failure. The race is made
 * deterministic here by holding the engine's fork across its drop.
 */
class DroppedDuringCallTest {
  @Test
  void aForkDroppedUnderACallIsForkDroppedNotInternal(@TempDir Path dir) throws Exception {
    try (TestServer t = TestServer.start(dir, Map.of())) {
      t.createCollection("main", "docs");
      t.write("main", "docs", TestServer.doc("a", "alpha", "x", 1));
      t.flushes().flush(FlushRequest.newBuilder().setWait(true).build());
      t.forks().createFork(CreateForkRequest.newBuilder().setName("x").setFromFork("main").build());
      Fork held = t.server.engine().fork("x"); // what a call in flight holds
      t.forks().dropFork(DropForkRequest.newBuilder().setName("x").build());

      Throwable e = catchThrowable(held::listSnapshots);
      assertThat(e).as("the engine's answer to a call on a dropped fork").isNotNull();
      StatusRuntimeException s = StatusMapper.toStatus(e);
      assertThat(s.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(TestServer.errorInfo(s).getReason()).isEqualTo("FORK_DROPPED");
      assertThat(TestServer.errorInfo(s).getMetadataMap()).containsEntry("fork_id", held.id());
    }
  }
}
