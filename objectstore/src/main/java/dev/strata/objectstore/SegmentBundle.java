package dev.strata.objectstore;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.strata.engine.segment.SegmentStore;
import dev.strata.objectstore.proto.BundleFile;
import dev.strata.objectstore.proto.BundleIndex;
import dev.strata.vfs.Vfs;
import dev.strata.vfs.WritableFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * One segment as one object: its SST (exported from the shared RocksDB) and its Lucene files,
 * concatenated, then an index, then a footer — the layout of a zip's central directory, so a
 * reader can find any file with one ranged read of the tail.
 *
 * <pre>
 * bundle := file-bytes* index footer
 * index  := BundleIndex protobuf (path, offset, length, CRC32C of each file)
 * footer := index length u32 | CRC32C(index) u32 | magic "STSB" u32 | format version u32   (big-endian)
 * </pre>
 *
 * <p>Why one object per segment rather than one per file: one PUT per segment (a Lucene segment
 * has about ten files; request count is what S3 bills and throttles), and a segment is then
 * complete or absent in the bucket as a whole, since a PUT is atomic: "every segment a manifest
 * names is complete" is a property of one key. Every file is checked against its CRC32C on the way
 * back. Stateless; thread-safe.
 */
public final class SegmentBundle {
  /** The footer's magic, ASCII "STSB". */
  static final int MAGIC = 0x53545342;
  static final int FORMAT_VERSION = 1;
  static final int FOOTER_BYTES = 16;
  static final String SST_PATH = "docs.sst";
  static final String LUCENE_PREFIX = "lucene/";
  private static final int COPY_BUFFER = 1 << 20;

  private SegmentBundle() {}

  /** A bundle file written by {@link #write}: where and how big (bytes). */
  public record Written(Path file, long sizeBytes) {}

  /**
   * Writes segment {@code segmentId} of {@code store} as a bundle at {@code workDir/<hex>.bundle},
   * exporting its rows to {@code workDir/<hex>.sst} on the way (deleted after). The segment must
   * stay referenced while this runs.
   *
   * @param expectedChecksum the manifest's {@code SegmentRef.checksum}; the exported rows must match
   * @throws IOException if a file cannot be read or written, or the rows do not match the checksum
   */
  public static Written write(SegmentStore store, long segmentId, long expectedChecksum, long generation, Path workDir)
      throws IOException {
    String hex = SegmentStore.hex(segmentId);
    Path sst = workDir.resolve(hex + ".sst");
    Path out = workDir.resolve(hex + BucketLayout.BUNDLE_SUFFIX);
    Files.deleteIfExists(sst);
    try {
      long crc = store.exportSst(segmentId, sst);
      long expected = expectedChecksum & 0xffffffffL;
      if (crc >= 0 && crc != expected) {
        throw new IOException(String.format(
            "segment %s: rows in RocksDB have checksum %08x, the manifest says %08x; not uploading it", hex, crc, expected));
      }
      List<Path> sources = new ArrayList<>();
      List<String> names = new ArrayList<>();
      if (crc >= 0) {
        sources.add(sst);
        names.add(SST_PATH);
      }
      Path lucene = store.luceneDir(segmentId);
      if (crc < 0 && !Files.isDirectory(lucene)) {
        throw new IOException("segment " + hex + " has neither rows nor a Lucene index on local disk; not uploading an empty bundle");
      }
      if (Files.isDirectory(lucene)) {
        try (Stream<Path> files = Files.list(lucene)) {
          for (Path p : files.sorted().toList()) {
            String name = p.getFileName().toString();
            if (Files.isRegularFile(p) && !name.equals("write.lock")) {
              sources.add(p);
              names.add(LUCENE_PREFIX + name);
            }
          }
        }
      }
      BundleIndex.Builder index =
          BundleIndex.newBuilder().setSegmentId(hex).setContentChecksum((int) expected).setGeneration(generation);
      try (FileChannel ch = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.allocate(COPY_BUFFER);
        long offset = 0;
        for (int i = 0; i < sources.size(); i++) {
          CRC32C fileCrc = new CRC32C();
          long length = 0;
          try (FileChannel in = FileChannel.open(sources.get(i), StandardOpenOption.READ)) {
            while (in.read(buf.clear()) > 0) {
              buf.flip();
              fileCrc.update(buf.duplicate());
              length += buf.remaining();
              while (buf.hasRemaining()) {
                ch.write(buf);
              }
            }
          }
          index.addFiles(BundleFile.newBuilder().setPath(names.get(i)).setOffset(offset).setLength(length)
              .setCrc32C((int) fileCrc.getValue()));
          offset += length;
        }
        byte[] indexBytes = index.build().toByteArray();
        CRC32C indexCrc = new CRC32C();
        indexCrc.update(indexBytes);
        ByteBuffer tail = ByteBuffer.allocate(indexBytes.length + FOOTER_BYTES).order(ByteOrder.BIG_ENDIAN);
        tail.put(indexBytes).putInt(indexBytes.length).putInt((int) indexCrc.getValue()).putInt(MAGIC).putInt(FORMAT_VERSION);
        tail.flip();
        while (tail.hasRemaining()) {
          ch.write(tail);
        }
      }
      return new Written(out, Files.size(out));
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(out);
      throw e;
    } finally {
      Files.deleteIfExists(sst);
    }
  }

  /**
   * Reads and checks a bundle's index (footer magic, version, index CRC, file extents).
   *
   * @throws IOException naming {@code bundle} if it is not a valid bundle of {@code segmentHex}
   */
  public static BundleIndex readIndex(Path bundle, String segmentHex) throws IOException {
    try (FileChannel ch = FileChannel.open(bundle, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < FOOTER_BYTES) {
        throw corrupt(bundle, "shorter than its footer (" + size + " bytes)");
      }
      ByteBuffer footer = ByteBuffer.allocate(FOOTER_BYTES).order(ByteOrder.BIG_ENDIAN);
      readFully(ch, footer, size - FOOTER_BYTES);
      footer.flip();
      int indexLength = footer.getInt();
      int indexCrc = footer.getInt();
      int magic = footer.getInt();
      int version = footer.getInt();
      if (magic != MAGIC) {
        throw corrupt(bundle, String.format("bad magic %08x", magic));
      }
      if (version != FORMAT_VERSION) {
        throw corrupt(bundle, "unsupported format version " + version);
      }
      if (indexLength < 0 || indexLength > size - FOOTER_BYTES) {
        throw corrupt(bundle, "index length " + indexLength + " does not fit in " + size + " bytes");
      }
      ByteBuffer idx = ByteBuffer.allocate(indexLength);
      long indexOffset = size - FOOTER_BYTES - indexLength;
      readFully(ch, idx, indexOffset);
      CRC32C crc = new CRC32C();
      crc.update(idx.array());
      if ((int) crc.getValue() != indexCrc) {
        throw corrupt(bundle, "index checksum mismatch");
      }
      BundleIndex index;
      try {
        index = BundleIndex.parseFrom(idx.array());
      } catch (InvalidProtocolBufferException e) {
        throw corrupt(bundle, "index is not a BundleIndex: " + e.getMessage());
      }
      if (!index.getSegmentId().equals(segmentHex)) {
        throw corrupt(bundle, "holds segment " + index.getSegmentId() + ", expected " + segmentHex);
      }
      Set<String> seen = new HashSet<>();
      for (BundleFile f : index.getFilesList()) {
        if (f.getOffset() < 0 || f.getLength() < 0 || f.getOffset() + f.getLength() > indexOffset) {
          throw corrupt(bundle, "file " + f.getPath() + " lies outside the data area");
        }
        if (!validPath(f.getPath()) || !seen.add(f.getPath())) {
          throw corrupt(bundle, "bad or repeated file path '" + f.getPath() + "'");
        }
      }
      return index;
    }
  }

  /**
   * Unpacks a checked bundle into {@code store}'s layout for segment {@code segmentId}: the SST to
   * {@link SegmentStore#stagedSstPath}, the Lucene files to {@link SegmentStore#luceneDir}, every
   * file's CRC32C checked and every file and directory fsynced (through {@code vfs}).
   *
   * @return whether the bundle had an SST (then call {@link SegmentStore#ingest})
   * @throws IOException if the bundle is corrupt or a file cannot be written
   */
  public static boolean unpack(Path bundle, long segmentId, SegmentStore store, Vfs vfs) throws IOException {
    Path sst = store.stagedSstPath(segmentId);
    vfs.createDirectories(sst.getParent());
    boolean hasSst = unpackTo(bundle, segmentId, store.luceneDir(segmentId), sst, vfs).hasSst();
    vfs.syncDirectory(store.segmentDir(segmentId));
    return hasSst;
  }

  /** What {@link #unpackTo} wrote: whether there was an SST, and the bytes of the files written. */
  public record Unpacked(boolean hasSst, long bytes) {}

  /**
   * Unpacks a checked bundle of segment {@code segmentId}: its Lucene files into {@code lucene}
   * (created if missing), its SST, if it has one, to {@code sst} (whose directory must exist);
   * every file's CRC32C checked, every file and both directories fsynced (through {@code vfs}).
   *
   * @throws IOException if the bundle is corrupt or a file cannot be written
   */
  public static Unpacked unpackTo(Path bundle, long segmentId, Path lucene, Path sst, Vfs vfs) throws IOException {
    BundleIndex index = readIndex(bundle, SegmentStore.hex(segmentId));
    vfs.createDirectories(lucene);
    boolean hasSst = false;
    long bytes = 0;
    try (FileChannel ch = FileChannel.open(bundle, StandardOpenOption.READ)) {
      for (BundleFile f : index.getFilesList()) {
        Path target;
        if (f.getPath().equals(SST_PATH)) {
          target = sst;
          hasSst = true;
        } else {
          target = lucene.resolve(f.getPath().substring(LUCENE_PREFIX.length()));
        }
        copyChecked(ch, f, target, vfs, bundle);
        bytes += f.getLength();
      }
    }
    vfs.syncDirectory(lucene);
    vfs.syncDirectory(sst.getParent());
    return new Unpacked(hasSst, bytes);
  }

  private static void copyChecked(FileChannel in, BundleFile f, Path target, Vfs vfs, Path bundle) throws IOException {
    CRC32C crc = new CRC32C();
    ByteBuffer buf = ByteBuffer.allocate(COPY_BUFFER);
    try (WritableFile out = vfs.create(target)) {
      long pos = f.getOffset();
      long left = f.getLength();
      while (left > 0) {
        buf.clear().limit((int) Math.min(buf.capacity(), left));
        int n = in.read(buf, pos);
        if (n <= 0) {
          throw corrupt(bundle, "ends inside " + f.getPath());
        }
        buf.flip();
        crc.update(buf.duplicate());
        out.write(buf);
        pos += n;
        left -= n;
      }
      if ((int) crc.getValue() != f.getCrc32C()) {
        throw corrupt(bundle, "checksum mismatch in " + f.getPath());
      }
      out.sync();
    }
  }

  private static boolean validPath(String p) {
    if (p.equals(SST_PATH)) {
      return true;
    }
    if (!p.startsWith(LUCENE_PREFIX)) {
      return false;
    }
    String name = p.substring(LUCENE_PREFIX.length());
    return !name.isEmpty() && !name.contains("/") && !name.contains("\\") && !name.equals("..") && !name.equals(".");
  }

  private static void readFully(FileChannel ch, ByteBuffer dst, long position) throws IOException {
    long pos = position;
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos);
      if (n < 0) {
        throw new IOException("unexpected end of file");
      }
      pos += n;
    }
  }

  private static IOException corrupt(Path bundle, String what) {
    return new IOException("segment bundle " + bundle.getFileName() + " is corrupt: " + what);
  }
}
