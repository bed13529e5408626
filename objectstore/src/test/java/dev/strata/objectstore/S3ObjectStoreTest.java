package dev.strata.objectstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link S3ObjectStore} against s3proxy: the four operations, paging, missing keys, bad credentials. */
class S3ObjectStoreTest extends BucketTest {
  @Test
  void putGetListDelete() throws Exception {
    raw.put("p/a/1", "one".getBytes(StandardCharsets.UTF_8));
    Path f = tmp.resolve("f");
    Files.write(f, new byte[300_000]);
    raw.putFile("p/a/2", f);
    raw.put("p/b", new byte[0]);
    assertThat(raw.get("p/a/1")).hasValueSatisfying(b -> assertThat(new String(b, StandardCharsets.UTF_8)).isEqualTo("one"));
    assertThat(raw.get("p/missing")).isEmpty();
    assertThat(raw.list("p/a/")).extracting(ObjectStore.ObjectInfo::key).containsExactly("p/a/1", "p/a/2");
    assertThat(raw.list("p/a/")).extracting(ObjectStore.ObjectInfo::sizeBytes).containsExactly(3L, 300_000L);
    Path back = tmp.resolve("back");
    assertThat(raw.getToFile("p/a/2", back)).isTrue();
    assertThat(Files.size(back)).isEqualTo(300_000);
    assertThat(raw.getToFile("p/none", tmp.resolve("none"))).isFalse();
    assertThat(Files.exists(tmp.resolve("none"))).isFalse();
    raw.delete("p/a/1");
    raw.delete("p/a/1"); // a missing key is not an error
    assertThat(raw.list("p/")).extracting(ObjectStore.ObjectInfo::key).containsExactly("p/a/2", "p/b");
  }

  @Test
  void listFollowsEveryPage() throws Exception {
    for (int i = 0; i < 1_050; i++) {
      raw.put(String.format("many/%05d", i), new byte[] {(byte) i});
    }
    List<ObjectStore.ObjectInfo> all = raw.list("many/");
    assertThat(all).hasSize(1_050);
    assertThat(all.get(1_049).key()).isEqualTo("many/01049");
  }

  @Test
  void wrongCredentialsAreNotRetryable() {
    ObjectStoreConfig bad = new ObjectStoreConfig(
        s3.endpoint(), "us-east-1", S3ProxyFixture.BUCKET, "", "nobody", "wrong", true, 2_000, 1, 10, 0);
    try (S3ObjectStore other = S3ObjectStore.open(bad)) {
      // A GET, not a PUT: s3proxy may refuse a PUT's credentials before it reads the body and close
      // the connection, which the SDK then sees as a write error (it failed a CI run that way).
      assertThatThrownBy(() -> other.get("x"))
          .isInstanceOf(ObjectStoreException.class)
          .hasMessageContaining("GET s3://strata-test/x failed: HTTP 403")
          .satisfies(e -> assertThat(((ObjectStoreException) e).retryable()).isFalse());
    }
  }
}
