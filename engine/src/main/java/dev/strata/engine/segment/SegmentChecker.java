package dev.strata.engine.segment;

import dev.strata.vfs.Vfs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.apache.lucene.codecs.CodecUtil;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.SegmentInfos;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.FSDirectory;
import org.apache.lucene.store.IOContext;
import org.apache.lucene.store.IndexInput;
import org.apache.lucene.store.NoLockFactory;

/**
 * End-to-end check of one segment for {@link SegmentStore#check}: the RocksDB content checksum
 * recomputed key by key, and the Lucene index's commit, file footers ({@link
 * CodecUtil#checksumEntireFile}, the CRC32 every Lucene codec file ends with) and document count.
 * Stateless; reads only, so it is safe on a segment in use.
 */
final class SegmentChecker {
  private SegmentChecker() {}

  /** See {@link SegmentStore#check}. */
  static Optional<String> check(
      SegmentStore store, Path luceneDir, Vfs vfs, long segmentId, long expectedContentChecksum)
      throws IOException {
    List<String> problems = new ArrayList<>();
    CRC32C crc = new CRC32C();
    long puts = 0;
    long keys = 0;
    try (RangeCursor c = store.segmentEntries(segmentId)) {
      while (c.next()) {
        byte[] key = c.key();
        byte[] value = c.value();
        keys++;
        SegmentFormat.updateChecksum(crc, key, value);
        int sep = SegmentFormat.separatorIndex(key);
        String id =
            sep < 0 ? "?" : new String(key, sep + 1, key.length - sep - 1, StandardCharsets.UTF_8);
        if (sep < 0) {
          problems.add("key #" + keys + " has no collection/id separator");
        }
        try {
          if (!SegmentFormat.decodeValue(segmentId, id, value).isTombstone()) {
            puts++;
          }
        } catch (SegmentCorruptionException e) {
          problems.add(e.getMessage());
        }
      }
    }
    // CRC32C is 32 bits; manifests may keep it in an int (sign-extended when widened).
    if ((int) crc.getValue() != (int) expectedContentChecksum) {
      problems.add(
          String.format(
              "content checksum mismatch: manifest says %08x, RocksDB holds %08x over %d keys",
              (int) expectedContentChecksum, (int) crc.getValue(), keys));
    }
    if (!vfs.exists(luceneDir)) {
      problems.add("Lucene index directory " + luceneDir + " is missing");
    } else {
      try (Directory dir = FSDirectory.open(luceneDir, NoLockFactory.INSTANCE)) {
        SegmentInfos infos = SegmentInfos.readLatestCommit(dir);
        if (infos.size() > 1) {
          problems.add("Lucene index has " + infos.size() + " segments, expected at most 1");
        }
        for (String file : infos.files(true)) {
          try (IndexInput in = dir.openInput(file, IOContext.READONCE)) {
            CodecUtil.checksumEntireFile(in);
          } catch (IOException e) {
            problems.add("Lucene file " + file + ": " + e.getMessage());
          }
        }
        try (DirectoryReader r = DirectoryReader.open(dir)) {
          if (r.maxDoc() != puts) {
            problems.add(
                "Lucene index has " + r.maxDoc() + " documents but RocksDB has " + puts + " puts");
          }
          for (LeafReaderContext leaf : r.leaves()) {
            leaf.reader().checkIntegrity();
          }
        }
      } catch (IOException | RuntimeException e) {
        problems.add("Lucene index does not open: " + e);
      }
    }
    return problems.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", problems));
  }
}
