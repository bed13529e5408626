package dev.strata.objectstore;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * {@link ObjectStore} over the S3 API with the AWS SDK for Java v2's synchronous {@link S3Client}
 * on its {@code url-connection-client} (blocking, no Netty, so no clash with grpc's). The client
 * retries throttling and 5xx itself (the SDK's standard retry policy) before a failure reaches the
 * caller. Request checksums are computed only when the operation requires them, which keeps
 * S3-compatible servers that predate S3's default CRC32 checksums working.
 *
 * <p>Thread-safe: {@link S3Client} is.
 */
public final class S3ObjectStore implements ObjectStore {
  private static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

  private final S3Client s3;
  private final String bucket;

  private S3ObjectStore(S3Client s3, String bucket) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  /** A client for {@code config}'s endpoint, region, credentials and bucket (no request is made). */
  public static S3ObjectStore open(ObjectStoreConfig config) {
    AwsCredentialsProvider credentials =
        config.accessKey().isEmpty()
            ? DefaultCredentialsProvider.builder().build()
            : StaticCredentialsProvider.create(AwsBasicCredentials.create(config.accessKey(), config.secretKey()));
    S3ClientBuilder b =
        S3Client.builder()
            .httpClientBuilder(
                UrlConnectionHttpClient.builder()
                    .connectionTimeout(Duration.ofSeconds(10))
                    .socketTimeout(Duration.ofSeconds(60)))
            .region(Region.of(config.region()))
            .credentialsProvider(credentials)
            .forcePathStyle(config.pathStyle())
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
            .overrideConfiguration(o -> o.apiCallTimeout(CALL_TIMEOUT));
    if (config.endpoint() != null) {
      b.endpointOverride(config.endpoint());
    }
    return new S3ObjectStore(b.build(), config.bucket());
  }

  @Override
  public void put(String key, byte[] bytes) throws IOException {
    try {
      s3.putObject(r -> r.bucket(bucket).key(key).contentLength((long) bytes.length), RequestBody.fromBytes(bytes));
    } catch (SdkException e) {
      throw translate("PUT", key, e);
    }
  }

  @Override
  public void putFile(String key, Path file) throws IOException {
    long size = Files.size(file);
    try {
      s3.putObject(r -> r.bucket(bucket).key(key).contentLength(size), RequestBody.fromFile(file));
    } catch (SdkException e) {
      throw translate("PUT", key, e);
    }
  }

  @Override
  public Optional<byte[]> get(String key) throws IOException {
    try {
      return Optional.of(s3.getObjectAsBytes(r -> r.bucket(bucket).key(key)).asByteArray());
    } catch (NoSuchKeyException e) {
      return Optional.empty();
    } catch (SdkException e) {
      if (isNotFound(e)) {
        return Optional.empty();
      }
      throw translate("GET", key, e);
    }
  }

  @Override
  public boolean getToFile(String key, Path target) throws IOException {
    Path temp = target.resolveSibling(target.getFileName() + ".part");
    try (ResponseInputStream<GetObjectResponse> in = s3.getObject(r -> r.bucket(bucket).key(key))) {
      copy(in, temp);
    } catch (NoSuchKeyException e) {
      return false;
    } catch (SdkException e) {
      Files.deleteIfExists(temp);
      if (isNotFound(e)) {
        return false;
      }
      throw translate("GET", key, e);
    } catch (IOException e) {
      Files.deleteIfExists(temp);
      throw new ObjectStoreException("GET " + key + " failed while reading: " + e.getMessage(), true, e);
    }
    Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    return true;
  }

  private static void copy(InputStream in, Path target) throws IOException {
    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
  }

  @Override
  public List<ObjectInfo> list(String prefix) throws IOException {
    List<ObjectInfo> out = new ArrayList<>();
    String token = null;
    try {
      do {
        ListObjectsV2Request.Builder req = ListObjectsV2Request.builder().bucket(bucket).prefix(prefix);
        if (token != null) {
          req.continuationToken(token);
        }
        ListObjectsV2Response page = s3.listObjectsV2(req.build());
        for (S3Object o : page.contents()) {
          if (o.key().endsWith("/")) {
            continue; // a directory marker (file-system backed look-alikes report them); the tier never writes one
          }
          out.add(new ObjectInfo(o.key(), o.size() == null ? 0 : o.size()));
        }
        token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
      } while (token != null);
    } catch (SdkException e) {
      throw translate("LIST", prefix + "*", e);
    }
    return out;
  }

  @Override
  public void delete(String key) throws IOException {
    try {
      s3.deleteObject(r -> r.bucket(bucket).key(key));
    } catch (SdkException e) {
      if (isNotFound(e)) {
        return;
      }
      throw translate("DELETE", key, e);
    }
  }

  @Override
  public void close() {
    s3.close();
  }

  private static boolean isNotFound(SdkException e) {
    return e instanceof S3Exception s && s.statusCode() == 404 && !"NoSuchBucket".equals(errorCode(s));
  }

  private static String errorCode(S3Exception e) {
    return e.awsErrorDetails() == null ? "" : e.awsErrorDetails().errorCode();
  }

  private ObjectStoreException translate(String op, String key, SdkException e) {
    String where = op + " s3://" + bucket + "/" + key;
    if (e instanceof S3Exception s) {
      int status = s.statusCode();
      boolean retryable = status >= 500 || status == 429 || status == 408;
      return new ObjectStoreException(where + " failed: HTTP " + status + " " + errorCode(s) + ": " + s.getMessage(), retryable, e);
    }
    boolean retryable = e instanceof SdkClientException || e.retryable();
    return new ObjectStoreException(where + " failed: " + e.getMessage(), retryable, e);
  }
}
