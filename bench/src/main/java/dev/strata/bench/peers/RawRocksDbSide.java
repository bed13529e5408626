package dev.strata.bench.peers;

import dev.strata.bench.BenchDirs;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * Raw RocksDB JNI in-process, default options: the upper bound of what the storage library gives
 * without our server. Key = document id (UTF-8), value = the document's protobuf encoding. One
 * database per instance, in its own scratch directory, deleted by {@link #close()}.
 */
public final class RawRocksDbSide implements AutoCloseable {
  static {
    RocksDB.loadLibrary();
  }

  private final Path dir;
  private final Options options;
  private final RocksDB db;

  /** Opens a new, empty database in a scratch directory under {@code root}. */
  public RawRocksDbSide(Path root) throws Exception {
    this.dir = BenchDirs.create(root, "strata-bench-rocksdb-");
    this.options = new Options().setCreateIfMissing(true);
    this.db = RocksDB.open(options, dir.toString());
  }

  /** Puts the first {@code count} replicas (unsynced, batches of 1,000), then flushes the memtable to an SST. */
  public void load(Corpus corpus, long count) throws RocksDBException {
    try (WriteOptions wo = new WriteOptions(); WriteBatch b = new WriteBatch()) {
      for (long i = 0; i < count; i++) {
        CorpusDoc d = corpus.replica(i);
        b.put(d.idBytes(), d.bytes());
        if (b.count() == 1000 || i == count - 1) {
          db.write(wo, b);
          b.clear();
        }
      }
    }
    try (FlushOptions fo = new FlushOptions().setWaitForFlush(true)) {
      db.flush(fo);
    }
  }

  /**
   * Ingest clients: each writes {@code batchDocs} replicas per {@link WriteBatch} with
   * {@code sync=true} (one fsync'd WAL write per batch; RocksDB groups concurrent writers).
   */
  public ClosedLoop.ClientFactory ingest(Corpus corpus, int batchDocs, AtomicLong sequence) {
    return index -> {
      WriteOptions wo = new WriteOptions().setSync(true);
      WriteBatch b = new WriteBatch();
      return new ClosedLoop.Client() {
        @Override
        public int call(SplittableRandom rnd) throws RocksDBException {
          long first = sequence.getAndAdd(batchDocs);
          b.clear();
          for (int k = 0; k < batchDocs; k++) {
            CorpusDoc d = corpus.replica(first + k);
            b.put(d.idBytes(), d.bytes());
          }
          db.write(wo, b);
          return batchDocs;
        }

        @Override
        public void close() {
          b.close();
          wo.close();
        }
      };
    };
  }

  /** Point reads of ids uniformly among the first {@code idCount} replicas; the value is decoded. */
  public ClosedLoop.ClientFactory get(Corpus corpus, long idCount) {
    return index -> rnd -> {
      byte[] v = db.get(corpus.replica(rnd.nextLong(idCount)).idBytes());
      if (v == null) {
        return 0;
      }
      dev.strata.api.v1.Document.parseFrom(v);
      return 1;
    };
  }

  /** Closes the database and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      db.close();
      options.close();
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }
}
