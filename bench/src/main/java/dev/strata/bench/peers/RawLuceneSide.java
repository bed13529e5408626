package dev.strata.bench.peers;

import dev.strata.bench.BenchDirs;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.NoMergePolicy;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.queryparser.classic.MultiFieldQueryParser;
import org.apache.lucene.queryparser.classic.QueryParser;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.TopScoreDocCollectorManager;
import org.apache.lucene.store.FSDirectory;

/**
 * Raw Lucene in-process: the same documents as the in-process Strata engine, with exactly as many
 * Lucene segments as Strata's snapshot has (one commit per slice, no merges). {@code summary} and
 * {@code description} are {@link TextField}s with {@link StandardAnalyzer} (Strata's "standard"
 * analyzer), queries go through {@link MultiFieldQueryParser} with default operator OR (as
 * Strata's), and each of the top 10 hits has its document decoded from a stored field (Strata
 * reads each hit's document from RocksDB). Deleted with its scratch directory by {@link #close()}.
 */
public final class RawLuceneSide implements AutoCloseable {
  private static final String[] TEXT_FIELDS = {"summary", "description"};

  private final Path dir;
  private final FSDirectory directory;
  private final DirectoryReader reader;
  private final IndexSearcher searcher;

  /** Indexes the first {@code count} replicas into {@code segments} segments under {@code root}. */
  public RawLuceneSide(Path root, Corpus corpus, long count, int segments) throws Exception {
    this.dir = BenchDirs.create(root, "strata-bench-lucene-");
    this.directory = FSDirectory.open(dir);
    IndexWriterConfig cfg = new IndexWriterConfig(new StandardAnalyzer())
        .setMergePolicy(NoMergePolicy.INSTANCE)
        .setRAMBufferSizeMB(1024);
    try (IndexWriter w = new IndexWriter(directory, cfg)) {
      int slices = Math.max(1, segments);
      for (int s = 0; s < slices; s++) {
        for (long i = count * s / slices; i < count * (s + 1) / slices; i++) {
          CorpusDoc d = corpus.replica(i);
          Document doc = new Document();
          doc.add(new StringField("id", d.id(), Field.Store.NO));
          for (String f : TEXT_FIELDS) {
            String v = d.text(f);
            if (v != null) {
              doc.add(new TextField(f, v, Field.Store.NO));
            }
          }
          doc.add(new StoredField("_source", d.bytes()));
          w.addDocument(doc);
        }
        w.commit(); // one segment per slice
      }
    }
    this.reader = DirectoryReader.open(directory);
    this.searcher = new IndexSearcher(reader);
    searcher.setQueryCache(null); // as Strata's searcher: every query does its work
  }

  /** Lucene segments of the index. */
  public int segmentCount() {
    return reader.leaves().size();
  }

  /** Lucene's default total-hits threshold ({@code IndexSearcher.search(Query, int)}). */
  public static final int DEFAULT_THRESHOLD = 1000;

  /**
   * Search clients: a random query of {@code queries}, top 10 by BM25, each hit's document decoded.
   *
   * @param totalHitsThreshold count matches exactly up to this many: {@link #DEFAULT_THRESHOLD}
   *     (Lucene's default), 10,000 (Strata's API contract: {@code total_hits} is exact up to 10,000
   *     matches, as Elasticsearch's {@code track_total_hits} default) or {@link Integer#MAX_VALUE}
   *     (every match). Past it Lucene skips blocks of documents that cannot make the top 10.
   */
  public ClosedLoop.ClientFactory search(List<String> queries, int totalHitsThreshold) {
    return index -> {
      QueryParser parser = new MultiFieldQueryParser(TEXT_FIELDS, new StandardAnalyzer());
      return (SplittableRandom rnd) -> {
        Query q = parser.parse(queries.get(rnd.nextInt(queries.size())));
        TopDocs top = searcher.search(q, new TopScoreDocCollectorManager(10, totalHitsThreshold));
        StoredFields stored = searcher.storedFields();
        for (ScoreDoc sd : top.scoreDocs) {
          dev.strata.api.v1.Document.parseFrom(stored.document(sd.doc).getBinaryValue("_source").bytes);
        }
        return top.scoreDocs.length;
      };
    };
  }

  /** Closes the index and deletes its directory. */
  @Override
  public void close() throws Exception {
    try {
      reader.close();
      directory.close();
    } finally {
      BenchDirs.deleteRecursively(dir);
    }
  }
}
