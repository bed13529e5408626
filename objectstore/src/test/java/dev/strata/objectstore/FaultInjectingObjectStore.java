package dev.strata.objectstore;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * An {@link ObjectStore} wrapper that fails or stalls chosen requests, and logs every PUT that
 * succeeded, in order. Requests are numbered from 1 across all operations. Thread-safe.
 */
final class FaultInjectingObjectStore implements ObjectStore {
  /** One request: operation ("PUT", "GET", "LIST", "DELETE") and key (or prefix). */
  record Request(long n, String op, String key) {}

  private final ObjectStore inner;
  private final AtomicLong requests = new AtomicLong();
  private final List<String> puts = new ArrayList<>();
  private volatile Predicate<Request> fail = r -> false;
  private volatile Predicate<Request> stall = r -> false;
  private volatile CountDownLatch stallRelease = new CountDownLatch(1);
  private final CountDownLatch stalled = new CountDownLatch(1);

  FaultInjectingObjectStore(ObjectStore inner) {
    this.inner = inner;
  }

  /** Requests matching {@code p} fail (a retryable 503-like error) before reaching the store. */
  FaultInjectingObjectStore failWhen(Predicate<Request> p) {
    fail = p;
    return this;
  }

  /** Requests matching {@code p} block (interruptibly) until {@link #release}. */
  FaultInjectingObjectStore stallWhen(Predicate<Request> p) {
    stall = p;
    return this;
  }

  /** Waits until some request stalls. */
  boolean awaitStall(long timeoutMs) throws InterruptedException {
    return stalled.await(timeoutMs, TimeUnit.MILLISECONDS);
  }

  void release() {
    stall = r -> false;
    stallRelease.countDown();
  }

  /** Keys of the successful PUTs, in completion order. */
  synchronized List<String> successfulPuts() {
    return new ArrayList<>(puts);
  }

  long requestCount() {
    return requests.get();
  }

  private void before(String op, String key) throws IOException {
    Request r = new Request(requests.incrementAndGet(), op, key);
    if (stall.test(r)) {
      stalled.countDown();
      try {
        while (!stallRelease.await(100, TimeUnit.MILLISECONDS)) {
          // interruptible: a halted tier interrupts this thread
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("stalled " + op + " " + key + " interrupted");
      }
    }
    if (fail.test(r)) {
      throw new ObjectStoreException("injected failure of request #" + r.n() + ": " + op + " " + key, true, null);
    }
  }

  private synchronized void logPut(String key) {
    puts.add(key);
  }

  @Override
  public void put(String key, byte[] bytes) throws IOException {
    before("PUT", key);
    inner.put(key, bytes);
    logPut(key);
  }

  @Override
  public void putFile(String key, Path file) throws IOException {
    before("PUT", key);
    inner.putFile(key, file);
    logPut(key);
  }

  @Override
  public Optional<byte[]> get(String key) throws IOException {
    before("GET", key);
    return inner.get(key);
  }

  @Override
  public boolean getToFile(String key, Path target) throws IOException {
    before("GET", key);
    return inner.getToFile(key, target);
  }

  @Override
  public List<ObjectInfo> list(String prefix) throws IOException {
    before("LIST", prefix);
    return inner.list(prefix);
  }

  @Override
  public void delete(String key) throws IOException {
    before("DELETE", key);
    inner.delete(key);
  }

  @Override
  public void close() {
    inner.close();
  }
}
