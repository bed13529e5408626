package dev.strata.bench.peers;

import java.io.StringReader;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.PGConnection;

/**
 * The PostgreSQL side: what a user would run instead of Strata. Database {@code bench} holds the
 * table {@code packages} (the read workloads) and {@code ingest} (truncated before every ingest
 * run), both {@code (id text primary key, …, tsv tsvector generated)} with a GIN index on
 * {@code tsv} (English text search configuration, summary weighted A, description B). Every client
 * has its own JDBC connection.
 */
public final class PostgresSide implements AutoCloseable {
  /** The database of the workloads (and the template of the fork workload). */
  public static final String DB = "bench";

  private static final String COLS = String.join(", ", Corpus.COLUMNS);
  private static final String SEARCH_SQL =
      "SELECT " + COLS + ", ts_rank(tsv, q) AS rank FROM packages, websearch_to_tsquery('english', ?) q"
          + " WHERE tsv @@ q ORDER BY rank DESC LIMIT 10";

  private final PostgresInstance pg;

  /** Creates database {@code bench} and its two tables on a started cluster. */
  public PostgresSide(PostgresInstance pg) throws SQLException {
    this.pg = pg;
    try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE " + DB);
    }
    try (Connection c = pg.connect(DB); Statement s = c.createStatement()) {
      for (String t : List.of("packages", "ingest")) {
        s.execute("CREATE TABLE " + t + " (id text PRIMARY KEY, version text, section text, priority text,"
            + " maintainer text, homepage text, summary text, description text, depends text,"
            + " installed_size_kib bigint, tsv tsvector GENERATED ALWAYS AS ("
            + "setweight(to_tsvector('english', coalesce(summary, '')), 'A') || "
            + "setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED)");
        s.execute("CREATE INDEX " + t + "_tsv ON " + t + " USING gin (tsv)");
      }
    }
  }

  /** The cluster. */
  public PostgresInstance instance() {
    return pg;
  }

  /**
   * Bulk-loads replicas {@code [from, to)} of the corpus into {@code packages} with {@code COPY}
   * (chunks of 2,000 rows, {@code threads} connections), then {@code VACUUM ANALYZE}.
   */
  public void load(Corpus corpus, long from, long to, int threads) throws Exception {
    ChunkedLoader.run(from, to, 2000, threads, () -> {
      Connection c = pg.connect(DB);
      var copy = c.unwrap(PGConnection.class).getCopyAPI();
      return new ChunkedLoader.Writer() {
        @Override
        public void write(long start, long end) throws Exception {
          StringBuilder csv = new StringBuilder();
          for (long i = start; i < end; i++) {
            csvRow(csv, corpus.replica(i));
          }
          copy.copyIn("COPY packages (" + COLS + ") FROM STDIN (FORMAT csv)", new StringReader(csv.toString()));
        }

        @Override
        public void close() throws SQLException {
          c.close();
        }
      };
    });
    try (Connection c = pg.connect(DB); Statement s = c.createStatement()) {
      s.execute("VACUUM ANALYZE packages");
    }
  }

  private static void csvRow(StringBuilder b, CorpusDoc d) {
    for (int k = 0; k < Corpus.COLUMNS.size(); k++) {
      String col = Corpus.COLUMNS.get(k);
      if (k > 0) {
        b.append(',');
      }
      String v = col.equals("id") ? d.id() : d.text(col);
      if (v == null) {
        continue; // unquoted empty = NULL
      }
      if (col.equals("installed_size_kib")) {
        b.append(v);
      } else {
        b.append('"').append(v.replace("\"", "\"\"")).append('"');
      }
    }
    b.append('\n');
  }

  /** Empties {@code ingest} (before each ingest run). */
  public void truncateIngest() throws SQLException {
    try (Connection c = pg.connect(DB); Statement s = c.createStatement()) {
      s.execute("TRUNCATE ingest");
    }
  }

  /**
   * Ingest clients: each inserts {@code batchDocs} new rows into {@code ingest} per transaction
   * (a JDBC batch, rewritten to one multi-row INSERT), committed with synchronous_commit on.
   * Documents are the corpus replicas in the order of the shared {@code sequence}.
   */
  public ClosedLoop.ClientFactory ingest(Corpus corpus, int batchDocs, AtomicLong sequence) {
    return index -> {
      Connection c = pg.connect(DB);
      c.setAutoCommit(false);
      PreparedStatement ins = c.prepareStatement(
          "INSERT INTO ingest (" + COLS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      return new ClosedLoop.Client() {
        @Override
        public int call(java.util.SplittableRandom rnd) throws SQLException {
          long first = sequence.getAndAdd(batchDocs);
          for (int k = 0; k < batchDocs; k++) {
            bind(ins, corpus.replica(first + k));
            if (batchDocs > 1) {
              ins.addBatch();
            }
          }
          if (batchDocs > 1) {
            ins.executeBatch();
          } else {
            ins.executeUpdate();
          }
          c.commit();
          return batchDocs;
        }

        @Override
        public void close() throws SQLException {
          c.close();
        }
      };
    };
  }

  private static void bind(PreparedStatement ps, CorpusDoc d) throws SQLException {
    ps.setString(1, d.id());
    for (int k = 1; k < Corpus.COLUMNS.size() - 1; k++) {
      ps.setString(k + 1, d.text(Corpus.COLUMNS.get(k)));
    }
    Long size = d.installedSizeKib();
    if (size == null) {
      ps.setNull(Corpus.COLUMNS.size(), Types.BIGINT);
    } else {
      ps.setLong(Corpus.COLUMNS.size(), size);
    }
  }

  /** Point reads: {@code SELECT <every column> FROM packages WHERE id = ?}, ids uniformly among the first {@code idCount} replicas. */
  public ClosedLoop.ClientFactory get(Corpus corpus, long idCount) {
    return query("SELECT " + COLS + " FROM packages WHERE id = ?",
        (ps, rnd) -> ps.setString(1, corpus.replica(rnd.nextLong(idCount)).id()));
  }

  /**
   * Batched point reads: {@code SELECT <every column> FROM packages WHERE id = ANY(?)} with {@code
   * ids} distinct ids (a {@code text[]}), uniformly among the first {@code idCount} replicas;
   * returns the rows.
   */
  public ClosedLoop.ClientFactory batchGet(Corpus corpus, long idCount, int ids) {
    return query("SELECT " + COLS + " FROM packages WHERE id = ANY(?)", (ps, rnd) -> {
      String[] batch = corpus.distinctIds(rnd, idCount, ids).toArray(new String[0]);
      ps.setArray(1, ps.getConnection().createArrayOf("text", batch));
    });
  }

  /** Full-text search: {@code websearch_to_tsquery} + {@code ts_rank}, top 10, a random query of {@code queries} per call. */
  public ClosedLoop.ClientFactory search(List<String> queries) {
    return query(SEARCH_SQL, (ps, rnd) -> ps.setString(1, queries.get(rnd.nextInt(queries.size()))));
  }

  /** The smallest round trip: {@code SELECT 1}. */
  public ClosedLoop.ClientFactory ping() {
    return query("SELECT 1", (ps, rnd) -> {});
  }

  private interface Binder {
    void bind(PreparedStatement ps, java.util.SplittableRandom rnd) throws SQLException;
  }

  /** Clients running one prepared query per call, reading every column of every row; returns the rows. */
  private ClosedLoop.ClientFactory query(String sql, Binder binder) {
    return index -> {
      Connection c = pg.connect(DB);
      PreparedStatement ps = c.prepareStatement(sql);
      return new ClosedLoop.Client() {
        @Override
        public int call(java.util.SplittableRandom rnd) throws SQLException {
          binder.bind(ps, rnd);
          int rows = 0;
          try (ResultSet rs = ps.executeQuery()) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
              for (int k = 1; k <= n; k++) {
                rs.getObject(k);
              }
              rows++;
            }
          }
          return rows;
        }

        @Override
        public void close() throws SQLException {
          c.close();
        }
      };
    };
  }

  /** Rows in {@code table}. */
  public long count(String table) throws SQLException {
    try (Connection c = pg.connect(DB); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /** The size of database {@code bench}, in bytes. */
  public long databaseBytes() throws SQLException {
    try (Connection c = pg.connect("postgres"); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT pg_database_size('" + DB + "')")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /**
   * Branches database {@code bench}: {@code CREATE DATABASE name TEMPLATE bench} with the given
   * strategy ({@code WAL_LOG}, PostgreSQL 15's default, or {@code FILE_COPY}). No other session
   * may be connected to {@code bench}.
   *
   * @return the statement's wall time, in milliseconds
   */
  public double createDatabaseFromTemplate(String name, String strategy) throws SQLException {
    try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
      long t0 = System.nanoTime();
      s.execute("CREATE DATABASE " + name + " TEMPLATE " + DB + " STRATEGY " + strategy);
      return (System.nanoTime() - t0) / 1e6;
    }
  }

  /** {@code DROP DATABASE name}; returns its wall time in milliseconds. */
  public double dropDatabase(String name) throws SQLException {
    try (Connection c = pg.connect("postgres"); Statement s = c.createStatement()) {
      long t0 = System.nanoTime();
      s.execute("DROP DATABASE " + name);
      return (System.nanoTime() - t0) / 1e6;
    }
  }

  /** Stops and deletes the cluster. */
  @Override
  public void close() {
    pg.close();
  }
}
