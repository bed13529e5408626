package dev.strata.objectstore;

import java.net.URI;
import java.nio.file.Path;
import java.util.Properties;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * An S3 API server in this JVM: s3proxy with jclouds' filesystem backend under {@code dir},
 * listening on a free loopback port, signature v2/v4 with a fixed key. Test helper.
 */
public final class S3ProxyFixture implements AutoCloseable {
  public static final String BUCKET = "strata-test";
  public static final String ACCESS_KEY = "test-access";
  public static final String SECRET_KEY = "test-secret";

  private final BlobStoreContext context;
  private final S3Proxy proxy;

  public S3ProxyFixture(Path dir) throws Exception {
    Properties props = new Properties();
    props.setProperty("jclouds.filesystem.basedir", dir.toString());
    context = ContextBuilder.newBuilder("filesystem").credentials("identity", "credential").overrides(props)
        .build(BlobStoreContext.class);
    context.getBlobStore().createContainerInLocation(null, BUCKET);
    proxy = S3Proxy.builder()
        .blobStore(context.getBlobStore())
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    proxy.start();
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!AbstractLifeCycle.STARTED.equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("s3proxy did not start: " + proxy.getState());
      }
      Thread.sleep(5);
    }
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + proxy.getPort());
  }

  /** A tier config for {@code prefix} on the test bucket (short lease: tests restart servers). */
  public ObjectStoreConfig config(String prefix) {
    return new ObjectStoreConfig(endpoint(), "us-east-1", BUCKET, prefix, ACCESS_KEY, SECRET_KEY, true, 2_000, 2, 20, 60_000);
  }

  /** {@link #config(String)} with another {@code storage.delete_grace} (ms). */
  public ObjectStoreConfig config(String prefix, long deleteGraceMs) {
    return new ObjectStoreConfig(endpoint(), "us-east-1", BUCKET, prefix, ACCESS_KEY, SECRET_KEY, true, 2_000, 2, 20, deleteGraceMs);
  }

  /** A plain client of the bucket (no fault injection), for tests to look at what is there. */
  public S3ObjectStore client() {
    return S3ObjectStore.open(config(""));
  }

  @Override
  public void close() throws Exception {
    proxy.stop();
    context.close();
  }
}
