package dev.strata.objectstore;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** Base of the tier's tests: s3proxy on a loopback port per test, and a plain client of its bucket. */
abstract class BucketTest {
  @TempDir Path tmp;
  S3ProxyFixture s3;
  S3ObjectStore raw;

  @BeforeEach
  void startS3() throws Exception {
    s3 = new S3ProxyFixture(tmp.resolve("blobs"));
    raw = s3.client();
  }

  @AfterEach
  void stopS3() throws Exception {
    raw.close();
    s3.close();
  }
}
