package dev.strata.objectstore;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.StrataException;
import dev.strata.engine.fork.Fork;
import dev.strata.engine.fork.RetainedSnapshot;
import dev.strata.manifest.ManifestCodec;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.SegmentRef;
import dev.strata.objectstore.proto.UploadedManifest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Uploads one fork's snapshots, strictly in seq order, one at a time: for each snapshot not yet in
 * the bucket, every segment it names (a {@link SegmentBundle}, unless already uploaded), then a
 * fencing check, then the {@link UploadedManifest} — the commit. The bundles of all pending
 * snapshots are queued on the upload pool first ({@link ObjectStorageTier#prefetchSegment}), so
 * they go up in parallel; the manifests still wait for their own bundles. A failed step is retried from that
 * snapshot after a back-off (doubling from {@code retryBackoffMs}, at most 30 s); a later snapshot
 * is never uploaded before an earlier one, and none is skipped while it is retained (the tier pins
 * every snapshot not yet uploaded against retention).
 *
 * <p>At its first run it resumes from the bucket: the highest seq uploaded for this fork (by any
 * generation), whose segment keys it learns. If the bucket is ahead of the local head (this data
 * directory was restored from an older snapshot, or belongs to another lineage with the same fork
 * id), it refuses to upload this fork, since its next snapshots would reuse seqs already taken.
 *
 * <p>Thread-safety: {@link #drain} runs on the tier's upload pool, at most one at a time per fork
 * ({@code queued}); the seq watermark is volatile; waiters are guarded by {@code lock}, which is
 * never held across I/O or future completion.
 */
final class ForkUploader {
  private static final Logger log = LoggerFactory.getLogger(ForkUploader.class);
  private static final long MAX_BACKOFF_MS = 30_000;

  private final ObjectStorageTier tier;
  private final Fork fork;
  final AtomicBoolean queued = new AtomicBoolean();

  /** Highest seq whose manifest is in the bucket; -1 if none. Meaningful once initialized. */
  private volatile long uploadedSeq = -1;
  private volatile boolean initialized;
  /** Why this fork's uploads stopped for good (diverged, fenced, dropped); null while running. */
  private volatile String stoppedBy;
  private volatile String lastError;
  private volatile int failures;
  private volatile long retryAtNanos;
  private volatile long uploadedSnapshots;

  private final ReentrantLock lock = new ReentrantLock();
  private final TreeMap<Long, List<CompletableFuture<Void>>> waiters = new TreeMap<>();

  ForkUploader(ObjectStorageTier tier, Fork fork) {
    this.tier = tier;
    this.fork = fork;
  }

  Fork fork() {
    return fork;
  }

  /** Whether a drain should be queued now: there is work, and no back-off is running. */
  boolean wantsDrain() {
    if (stoppedBy != null || queued.get() || System.nanoTime() - retryAtNanos < 0) {
      return false;
    }
    if (!initialized) {
      return true;
    }
    Optional<Manifest> head = fork.head();
    return head.isPresent() && head.get().getSeq() > uploadedSeq;
  }

  /** Uploads every retained snapshot past the watermark, in seq order; on the upload pool. */
  void drain() {
    try {
      if (stoppedBy != null) {
        return;
      }
      if (!initialized) {
        resume();
        if (stoppedBy != null) {
          return;
        }
      }
      while (!tier.isClosing()) {
        long done = uploadedSeq;
        List<Manifest> pending = new ArrayList<>();
        for (Manifest m : fork.listSnapshots()) {
          if (m.getSeq() > done) {
            pending.add(m);
          }
        }
        if (pending.isEmpty()) {
          return;
        }
        pending.sort(Comparator.comparingLong(Manifest::getSeq));
        // Bundles of every pending snapshot go up in parallel on the pool (the manifests below
        // still commit one by one in seq order, each after its own bundles are in).
        for (Manifest m : pending) {
          m.getSegmentsList().forEach(tier::prefetchSegment);
        }
        for (Manifest m : pending) {
          if (tier.isClosing()) {
            return;
          }
          upload(m);
          uploadedSeq = m.getSeq();
          uploadedSnapshots++;
          failures = 0;
          lastError = null;
          completeWaiters();
        }
      }
    } catch (WriterFencedException e) {
      tier.fenced(e);
    } catch (InterruptedIOException e) {
      Thread.currentThread().interrupt(); // the tier is halting
    } catch (IOException | RuntimeException e) {
      if (Thread.currentThread().isInterrupted() || tier.isClosing()) {
        return;
      }
      int n = ++failures;
      long backoff = Math.min(MAX_BACKOFF_MS, tier.config().retryBackoffMs() << Math.min(20, n - 1));
      retryAtNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
      lastError = e.toString();
      boolean operatorNeeded = e instanceof ObjectStoreException o && !o.retryable();
      String msg = "fork={} upload after seq {} failed (attempt {}), retrying in {} ms: {}";
      if (operatorNeeded) {
        log.error(msg, fork.name(), uploadedSeq, n, backoff, e.toString());
      } else {
        log.warn(msg, fork.name(), uploadedSeq, n, backoff, e.toString());
      }
    } finally {
      queued.set(false);
    }
  }

  /** Learns from the bucket where this fork's uploads stopped. */
  private void resume() throws IOException {
    OptionalLong bucketSeq = OptionalLong.empty();
    String bucketKey = null;
    long bestGen = -1;
    for (ObjectStore.ObjectInfo o : tier.store().list(tier.layout().manifestsPrefix(fork.id()))) {
      OptionalLong seq = BucketLayout.seqOfManifestKey(o.key());
      OptionalLong gen = BucketLayout.generationOf(o.key());
      if (seq.isEmpty() || gen.isEmpty()) {
        continue;
      }
      if (bucketSeq.isEmpty() || seq.getAsLong() > bucketSeq.getAsLong()
          || (seq.getAsLong() == bucketSeq.getAsLong() && gen.getAsLong() > bestGen)) {
        bucketSeq = seq;
        bestGen = gen.getAsLong();
        bucketKey = o.key();
      }
    }
    if (bucketSeq.isPresent()) {
      long localHead = fork.head().map(Manifest::getSeq).orElse(-1L);
      if (bucketSeq.getAsLong() > localHead) {
        stop(String.format(
            "fork %s (%s): %s already holds seq %d but this data directory's head is seq %d (restored from an older"
                + " snapshot, or another lineage): its next snapshots would reuse seqs, so it is not uploaded."
                + " Give this server another storage.prefix.",
            fork.name(), fork.id(), tier.config().location(), bucketSeq.getAsLong(), localHead));
        return;
      }
      byte[] bytes = tier.store().get(bucketKey).orElseThrow(() -> new IOException("listed object vanished"));
      try {
        UploadedManifest um = UploadedManifest.parseFrom(bytes);
        Manifest uploaded = ManifestCodec.decode(um.getManifestFile().toByteArray(), java.nio.file.Path.of(bucketKey));
        Map<String, Long> sizes = new java.util.HashMap<>();
        uploaded.getSegmentsList().forEach(r -> sizes.put(r.getSegmentId(), r.getSizeBytes()));
        for (Map.Entry<String, String> e : um.getSegmentKeysMap().entrySet()) {
          tier.learnSegment(Long.parseUnsignedLong(e.getKey(), 16), e.getValue(), sizes.getOrDefault(e.getKey(), 0L));
        }
      } catch (InvalidProtocolBufferException | NumberFormatException e) {
        throw new IOException(bucketKey + " is not an uploaded manifest: " + e.getMessage(), e);
      }
      uploadedSeq = bucketSeq.getAsLong();
      log.info("fork={} uploads resume after seq {} ({})", fork.name(), uploadedSeq, bucketKey);
    }
    initialized = true;
    completeWaiters();
  }

  private void upload(Manifest m) throws IOException {
    UploadedManifest.Builder b = UploadedManifest.newBuilder()
        .setManifestFile(ByteString.copyFrom(ManifestCodec.encode(m)))
        .setGeneration(tier.generation());
    for (SegmentRef ref : m.getSegmentsList()) {
      b.putSegmentKeys(ref.getSegmentId(), tier.ensureSegment(ref));
    }
    tier.fence().check();
    b.setUploadTimeMs(System.currentTimeMillis());
    tier.store().put(tier.layout().manifestKey(fork.id(), m.getSeq(), tier.generation()), b.build().toByteArray());
    log.debug("fork={} uploaded snapshot {} (seq {}, {} segments)", fork.name(), m.getId(), m.getSeq(), m.getSegmentsCount());
  }

  /**
   * A future completed once the snapshot of seq {@code seq} (and every earlier one) is in the
   * bucket; failed if this fork's uploads stopped for good.
   */
  CompletableFuture<Void> awaitSeq(long seq) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    lock.lock();
    try {
      waiters.computeIfAbsent(seq, k -> new ArrayList<>()).add(f);
    } finally {
      lock.unlock();
    }
    completeWaiters(); // it may have been uploaded meanwhile, or stopped
    return f;
  }

  private void completeWaiters() {
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    String stop = stoppedBy;
    lock.lock();
    try {
      while (!waiters.isEmpty() && (stop != null || (initialized && waiters.firstKey() <= uploadedSeq))) {
        ready.addAll(waiters.pollFirstEntry().getValue());
      }
    } finally {
      lock.unlock();
    }
    for (CompletableFuture<Void> f : ready) {
      if (stop != null) {
        f.completeExceptionally(StrataException.failedPrecondition(stop));
      } else {
        f.complete(null);
      }
    }
  }

  /** Stops this fork's uploads for good and fails its waiters with {@code why}. */
  void stop(String why) {
    if (stoppedBy == null) {
      stoppedBy = why;
      log.error(why);
    }
    completeWaiters();
  }

  /** Fails the waiters with {@code e} (tier closing, fork dropped); no further uploads. */
  void abandon(RuntimeException e) {
    stoppedBy = e.getMessage();
    List<CompletableFuture<Void>> all = new ArrayList<>();
    lock.lock();
    try {
      waiters.values().forEach(all::addAll);
      waiters.clear();
    } finally {
      lock.unlock();
    }
    all.forEach(f -> f.completeExceptionally(e));
  }

  /** The highest seq in the bucket (-1 if none), or empty before the first run resumed. */
  OptionalLong watermark() {
    return initialized && stoppedBy == null ? OptionalLong.of(uploadedSeq) : OptionalLong.empty();
  }

  /** Ids of retained snapshots not yet in the bucket (all of them before the first run). */
  Set<String> pinnedSnapshotIds() {
    Set<String> out = new HashSet<>();
    long done = initialized ? uploadedSeq : -1;
    for (RetainedSnapshot r : fork.retainedSnapshots()) {
      if (r.seq() > done) {
        out.add(r.id());
      }
    }
    return out;
  }

  /** This fork's upload lag; see {@link UploadLag}. */
  UploadLag lag() {
    long done = initialized ? uploadedSeq : -1;
    int snapshots = 0;
    Set<Long> segs = new HashSet<>();
    long bytes = 0;
    for (RetainedSnapshot r : fork.retainedSnapshots()) {
      if (r.seq() > done) {
        snapshots++;
        for (Map.Entry<Long, Long> e : r.segmentBytes().entrySet()) {
          if (segs.add(e.getKey()) && !tier.isSegmentUploaded(e.getKey())) {
            bytes += e.getValue();
          }
        }
      }
    }
    return new UploadLag(fork.name(), fork.id(), snapshots, bytes, done, uploadedSnapshots, failures, lastError, stoppedBy);
  }
}
