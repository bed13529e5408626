package dev.strata.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client stays light: what the enforcer rule in client/pom.xml guarantees for the resolved
 * dependency tree, checked again on the class path the tests actually run with (test scope
 * included): no RocksDB JNI, no Lucene, no engine, no server.
 */
class ClientDependenciesTest {

  @Test
  void noStorageEngineOrServerJarIsOnTheClientsClassPath() {
    List<String> jars =
        Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
            .map(p -> new File(p).getName())
            .toList();
    assertThat(jars).anyMatch(j -> j.startsWith("grpc-netty-shaded-"));
    assertThat(jars).anyMatch(j -> j.startsWith("protobuf-java-"));
    assertThat(jars)
        .noneMatch(j -> j.startsWith("rocksdbjni-"))
        .noneMatch(j -> j.startsWith("lucene-"))
        .noneMatch(j -> j.startsWith("strata-engine"))
        .noneMatch(j -> j.startsWith("strata-server"))
        .noneMatch(j -> j.startsWith("strata-wal"))
        .noneMatch(j -> j.startsWith("strata-manifest"));
  }

  @Test
  void engineAndServerClassesCannotBeLoaded() {
    for (String name :
        List.of(
            "org.rocksdb.RocksDB",
            "org.apache.lucene.index.IndexWriter",
            "dev.strata.engine.StrataEngine",
            "dev.strata.server.StrataServer")) {
      assertThatThrownBy(() -> Class.forName(name)).as(name).isInstanceOf(ClassNotFoundException.class);
    }
  }
}
