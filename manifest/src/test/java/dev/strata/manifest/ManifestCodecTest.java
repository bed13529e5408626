package dev.strata.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.manifest.ManifestCorruptionException.Kind;
import dev.strata.manifest.proto.CollectionDef;
import dev.strata.manifest.proto.FieldDef;
import dev.strata.manifest.proto.FieldKind;
import dev.strata.manifest.proto.Manifest;
import dev.strata.manifest.proto.ManifestStats;
import dev.strata.manifest.proto.SegmentOrigin;
import dev.strata.manifest.proto.SegmentRef;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** The manifest file format: round trip, and detection of every single-byte change and truncation. */
class ManifestCodecTest {

  private static final Path FILE = Path.of("/data/forks/f/manifests/00000000000000000042.manifest");

  @Property(tries = 300)
  void roundTripIsExact(@ForAll("manifests") Manifest m) throws Exception {
    byte[] bytes = ManifestCodec.encode(m);
    assertThat(ManifestCodec.decode(bytes, FILE)).isEqualTo(m);
    assertThat(bytes.length).isEqualTo(ManifestCodec.HEADER_BYTES + m.getSerializedSize());
  }

  @Property(tries = 500)
  void anySingleByteChangeIsDetectedAndNamesTheFile(
      @ForAll("manifests") Manifest m,
      @ForAll @IntRange(min = 0, max = 1_000_000) int positionSeed,
      @ForAll @IntRange(min = 1, max = 255) int xor) {
    byte[] bytes = ManifestCodec.encode(m);
    int position = positionSeed % bytes.length;
    bytes[position] ^= (byte) xor;
    assertThatThrownBy(() -> ManifestCodec.decode(bytes, FILE))
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining(FILE.toString())
        .satisfies(e -> assertThat(((ManifestCorruptionException) e).file()).isEqualTo(FILE));
  }

  @Property(tries = 300)
  void anyTruncationIsDetected(
      @ForAll("manifests") Manifest m, @ForAll @IntRange(min = 0, max = 1_000_000) int lengthSeed) {
    byte[] bytes = ManifestCodec.encode(m);
    int length = lengthSeed % bytes.length; // 0 .. size-1
    byte[] cut = Arrays.copyOf(bytes, length);
    assertThatThrownBy(() -> ManifestCodec.decode(cut, FILE))
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining(FILE.toString())
        .extracting(e -> ((ManifestCorruptionException) e).kind())
        .isEqualTo(Kind.BAD_LENGTH);
  }

  @Example
  void everyPositionAndEveryBitPatternOfOneFileIsDetected() {
    byte[] good = ManifestCodec.encode(Manifests.next(Manifests.root(1)));
    for (int position = 0; position < good.length; position++) {
      for (int xor = 1; xor < 256; xor++) {
        byte[] bad = good.clone();
        bad[position] ^= (byte) xor;
        int p = position;
        int x = xor;
        assertThatThrownBy(() -> ManifestCodec.decode(bad, FILE))
            .as("position %d xor %d", p, x)
            .isInstanceOf(ManifestCorruptionException.class);
      }
    }
  }

  @Example
  void everyTruncationAndExtensionOfOneFileIsDetected() {
    byte[] good = ManifestCodec.encode(Manifests.next(Manifests.root(1)));
    for (int length = 0; length < good.length; length++) {
      byte[] cut = Arrays.copyOf(good, length);
      assertThatThrownBy(() -> ManifestCodec.decode(cut, FILE)).isInstanceOf(ManifestCorruptionException.class);
    }
    byte[] longer = Arrays.copyOf(good, good.length + 1);
    assertThatThrownBy(() -> ManifestCodec.decode(longer, FILE))
        .isInstanceOf(ManifestCorruptionException.class)
        .hasMessageContaining("torn or extended");
  }

  @Example
  void eachHeaderFieldHasItsOwnKind() {
    byte[] good = ManifestCodec.encode(Manifests.root(1));
    assertKind(withByte(good, 0, 'X'), Kind.BAD_MAGIC);
    assertKind(withByte(good, 7, 2), Kind.UNSUPPORTED_VERSION);
    assertKind(withByte(good, 11, good[11] + 1), Kind.BAD_LENGTH);
    assertKind(withByte(good, 15, good[15] ^ 1), Kind.BAD_CHECKSUM);
    assertKind(withByte(good, good.length - 1, good[good.length - 1] ^ 1), Kind.BAD_CHECKSUM);
    assertKind(new byte[3], Kind.BAD_LENGTH);
  }

  @Example
  void aPayloadWithAValidChecksumThatIsNotAManifestIsBadPayload() {
    byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff};
    assertKind(Envelope.wrap(ManifestCodec.MAGIC, garbage), Kind.BAD_PAYLOAD);
  }

  @Example
  void theCatalogMagicIsNotAManifest() {
    byte[] catalog = ForkCatalogCodec.encode(CatalogSnapshot.EMPTY, 0);
    assertKind(catalog, Kind.BAD_MAGIC);
  }

  @Example
  void headerLayoutIsTheDocumentedOne() {
    Manifest m = Manifests.root(1);
    ByteBuffer b = ByteBuffer.wrap(ManifestCodec.encode(m));
    byte[] magic = new byte[4];
    b.get(magic);
    assertThat(new String(magic, StandardCharsets.US_ASCII)).isEqualTo("STMF");
    assertThat(b.getInt()).isEqualTo(1);
    assertThat(b.getInt()).isEqualTo(m.getSerializedSize());
    assertThat(b.getInt()).isEqualTo(Envelope.crc32c(m.toByteArray()));
  }

  private static byte[] withByte(byte[] bytes, int position, int value) {
    byte[] copy = bytes.clone();
    copy[position] = (byte) value;
    return copy;
  }

  private static void assertKind(byte[] bytes, Kind kind) {
    assertThatThrownBy(() -> ManifestCodec.decode(bytes, FILE))
        .isInstanceOf(ManifestCorruptionException.class)
        .extracting(e -> ((ManifestCorruptionException) e).kind())
        .isEqualTo(kind);
  }

  // ---- generators: any field values (the codec does not validate content) ----

  @Provide
  Arbitrary<Manifest> manifests() {
    Arbitrary<String> text = text();
    Arbitrary<Long> u64 = Arbitraries.longs();
    Arbitrary<List<SegmentRef>> segments = segments().list().ofMaxSize(6);
    Arbitrary<List<CollectionDef>> collections = collections().list().ofMaxSize(3);
    Arbitrary<ManifestStats> stats =
        Combinators.combine(u64, u64, u64, u64)
            .as((a, b, c, d) -> ManifestStats.newBuilder().setSegmentCount(a).setDocCount(b).setTombstoneCount(c).setSizeBytes(d).build());
    Arbitrary<Manifest> ids =
        Combinators.combine(text, text, text, u64, text, u64, Arbitraries.of(true, false), u64)
            .as((id, fork, name, seq, parent, parentSeq, hasParentSeq, lsn) -> {
              Manifest.Builder b = Manifest.newBuilder().setId(id).setForkId(fork).setForkName(name).setSeq(seq)
                  .setParentId(parent).setCoveredLsn(lsn);
              if (hasParentSeq) {
                b.setParentSeq(parentSeq);
              }
              return b.build();
            });
    return Combinators.combine(ids, segments, collections, stats, Arbitraries.longs(), text.list().ofMaxSize(3), text)
        .as((m, segs, cols, st, time, tags, base) -> m.toBuilder()
            .addAllSegments(segs)
            .addAllCollections(cols)
            .setStats(st)
            .setCreateTimeMs(time)
            .addAllTags(tags)
            .setBaseSnapshotId(base)
            .build());
  }

  /** Valid Unicode strings (any code point but lone surrogates, which UTF-8 cannot carry). */
  private static Arbitrary<String> text() {
    return Arbitraries.integers().between(0, 0x10FFFF)
        .filter(cp -> cp < 0xD800 || cp > 0xDFFF)
        .list().ofMaxSize(8)
        .map(cps -> new String(cps.stream().mapToInt(Integer::intValue).toArray(), 0, cps.size()));
  }

  private Arbitrary<SegmentRef> segments() {
    Arbitrary<Long> u64 = Arbitraries.longs();
    Arbitrary<String> text = text();
    Arbitrary<SegmentRef> counts = Combinators.combine(text, u64, u64, u64, Arbitraries.integers())
        .as((id, docs, tombs, size, crc) -> SegmentRef.newBuilder().setSegmentId(id).setDocCount(docs)
            .setTombstoneCount(tombs).setSizeBytes(size).setChecksum(crc).build());
    return Combinators.combine(counts, u64, u64, Arbitraries.of(SegmentOrigin.SEGMENT_ORIGIN_FLUSH,
            SegmentOrigin.SEGMENT_ORIGIN_COMPACTION, SegmentOrigin.SEGMENT_ORIGIN_UNSPECIFIED), text)
        .as((s, min, max, origin, fork) -> s.toBuilder().setMinLsn(min).setMaxLsn(max).setOrigin(origin).setOriginForkId(fork).build());
  }

  private Arbitrary<CollectionDef> collections() {
    Arbitrary<String> text = text();
    Arbitrary<FieldDef> fields = Combinators.combine(text,
            Arbitraries.of(FieldKind.FIELD_KIND_TEXT, FieldKind.FIELD_KIND_KEYWORD, FieldKind.FIELD_KIND_LONG,
                FieldKind.FIELD_KIND_DOUBLE, FieldKind.FIELD_KIND_STORED, FieldKind.FIELD_KIND_UNSPECIFIED), text)
        .as((name, kind, analyzer) -> FieldDef.newBuilder().setName(name).setKind(kind).setAnalyzer(analyzer).build());
    return Combinators.combine(text, fields.list().ofMaxSize(4), Arbitraries.longs())
        .as((name, fs, lsn) -> CollectionDef.newBuilder().setName(name).addAllFields(fs).setCreatedLsn(lsn).build());
  }
}
