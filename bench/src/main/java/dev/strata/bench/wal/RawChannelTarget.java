package dev.strata.bench.wal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The naive WAL, as a floor to compare group commit with: one file, and every appender, in turn
 * under one lock, writes its record and calls {@code force(false)} (fdatasync). One fsync per record
 * by construction; concurrency only adds waiting.
 *
 * <p>With {@code preallocateBytes > 0} the file is first filled with that many zero bytes and
 * fsynced, and records then overwrite it from offset 0: an fdatasync that changes neither the file
 * size nor the block allocation, which on ext4 and XFS skips the journal commit an appending
 * fdatasync pays. (Past the preallocated end it appends again.) This isolates what segment
 * preallocation, as RocksDB does for its WAL, would buy.
 */
final class RawChannelTarget implements SyncAppendTarget {
  private final FileChannel channel;
  private final Object lock = new Object();

  /** Reused for every write; guarded by {@code lock}. */
  private final ByteBuffer buffer;

  private final boolean preallocated;

  /** Guarded by {@code lock}. */
  private long fsyncs;

  RawChannelTarget(Path dir, int recordBytes, long preallocateBytes) throws IOException {
    channel =
        FileChannel.open(
            dir.resolve("raw.log"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    buffer = ByteBuffer.allocateDirect(recordBytes);
    preallocated = preallocateBytes > 0;
    if (preallocated) {
      ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
      for (long done = 0; done < preallocateBytes; done += zeros.capacity()) {
        zeros.clear();
        while (zeros.hasRemaining()) {
          channel.write(zeros);
        }
      }
      channel.force(true);
      channel.position(0);
    }
  }

  @Override
  public void appendSync(byte[] record) throws IOException {
    synchronized (lock) {
      buffer.clear();
      buffer.put(record).flip();
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(false);
      fsyncs++;
    }
  }

  @Override
  public SyncCounts counts() {
    synchronized (lock) {
      return new SyncCounts(fsyncs, fsyncs, null);
    }
  }

  @Override
  public String describeSince(SyncCounts from) {
    SyncCounts now = counts();
    return String.format(
        (preallocated ? "raw-force-prealloc" : "raw-force") + ": %d records, %d fsyncs, %.2f records/fsync",
        now.records() - from.records(),
        now.fsyncs() - from.fsyncs(),
        now.recordsPerFsyncSince(from));
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
