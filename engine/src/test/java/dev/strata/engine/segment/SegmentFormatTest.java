package dev.strata.engine.segment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.strata.engine.model.DocumentCodec;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class SegmentFormatTest {
  @Test
  void keysSortBySegmentThenCollectionThenIdBytes() {
    List<byte[]> keys =
        new ArrayList<>(
            List.of(
                SegmentFormat.key(2, "a", "a"),
                SegmentFormat.key(1, "a.b", "a"),
                SegmentFormat.key(1, "a", "zz"),
                SegmentFormat.key(1, "a", "é"),
                SegmentFormat.key(1, "a", "a"),
                SegmentFormat.key(Long.MAX_VALUE, "a", "a")));
    keys.sort(SegmentFormat::compareKeys);
    assertThat(keys)
        .containsExactly(
            SegmentFormat.key(1, "a", "a"),
            SegmentFormat.key(1, "a", "zz"),
            SegmentFormat.key(1, "a", "é"),
            SegmentFormat.key(1, "a.b", "a"),
            SegmentFormat.key(2, "a", "a"),
            SegmentFormat.key(Long.MAX_VALUE, "a", "a"));
    // every key of a collection lies in [collectionStart, collectionEnd) and in its segment range
    byte[] k = SegmentFormat.key(1, "a", "zz");
    assertThat(SegmentFormat.compareKeys(SegmentFormat.collectionStart(1, "a"), k)).isNegative();
    assertThat(SegmentFormat.compareKeys(k, SegmentFormat.collectionEnd(1, "a"))).isNegative();
    assertThat(
            SegmentFormat.compareKeys(
                SegmentFormat.collectionEnd(1, "a"), SegmentFormat.key(1, "a.b", "" + "x")))
        .isNegative();
    assertThat(
            SegmentFormat.compareKeys(
                SegmentFormat.key(Long.MAX_VALUE, "z", "z"),
                SegmentFormat.segmentRangeEnd(Long.MAX_VALUE)))
        .isNegative();
    assertThat(SegmentFormat.segmentIdOf(k)).isEqualTo(1);
  }

  @Test
  void hexNames() {
    assertThat(SegmentFormat.hex(0xABCL)).isEqualTo("0000000000000abc");
    assertThat(SegmentFormat.parseHex("0000000000000abc")).isEqualTo(0xABC);
    assertThat(SegmentFormat.parseHex("0000000000000ABC")).isEqualTo(-1);
    assertThat(SegmentFormat.parseHex("ffffffffffffffff"))
        .isEqualTo(-1); // negative ids are invalid
    assertThat(SegmentFormat.parseHex("abc")).isEqualTo(-1);
    assertThat(SegmentFormat.parseHex("000000000000000g")).isEqualTo(-1);
  }

  @Test
  void valuesRoundTripAndCorruptionIsDetected() throws Exception {
    var d = TestData.doc("x", "t", "v", "n", 3L);
    EncodedDocument stored = EncodedDocument.of(d);
    byte[] put = SegmentFormat.value(42, stored.body());
    assertThat(put[0]).isEqualTo(SegmentFormat.KIND_PUT);
    assertThat(put).hasSize(9 + stored.bodySize());
    DocumentVersion back = SegmentFormat.decodeValue(1, "x", put);
    assertThat(back).isEqualTo(new DocumentVersion(42, stored));
    assertThat(back.document()).isEqualTo(d);
    byte[] tomb = SegmentFormat.value(43, null);
    assertThat(tomb).hasSize(9);
    assertThat(SegmentFormat.decodeValue(1, "x", tomb)).isEqualTo(new DocumentVersion(43, null));
    assertThatThrownBy(() -> SegmentFormat.decodeValue(1, "x", new byte[] {1, 2}))
        .isInstanceOf(SegmentCorruptionException.class);
    byte[] badKind = tomb.clone();
    badKind[0] = 7;
    assertThatThrownBy(() -> SegmentFormat.decodeValue(1, "x", badKind))
        .isInstanceOf(SegmentCorruptionException.class)
        .hasMessageContaining("0000000000000001");
  }

  /** The L0 arena holds a version as the SST value's bytes: the kinds must agree. */
  @Test
  void theL0ArenaUsesTheSegmentValueKinds() throws Exception {
    byte[] put = SegmentFormat.value(1, EncodedDocument.of(TestData.doc("x", "t", "v")).body());
    assertThat(put[0]).isEqualTo((byte) 3);
    assertThat(SegmentFormat.value(1, null)[0]).isEqualTo((byte) 2);
  }

  /** Values written by the code before format 2 (kind 1, StoredDocument) still read. */
  @Test
  void aFormat1ValueReadsAsTheSameDocumentInTheCanonicalForm() throws Exception {
    var d = TestData.doc("x", "t", "v", "n", 3L);
    byte[] body1 = DocumentCodec.toProto(d).toByteArray();
    byte[] v1 = new byte[9 + body1.length];
    v1[0] = 1;
    SegmentFormat.putLong(v1, 1, 42);
    System.arraycopy(body1, 0, v1, 9, body1.length);
    DocumentVersion back = SegmentFormat.decodeValue(1, "x", v1);
    assertThat(back.lsn()).isEqualTo(42);
    assertThat(back.document()).isEqualTo(d);
    assertThat(back.stored()).isEqualTo(EncodedDocument.of(d));
    byte[] badDoc = v1.clone();
    badDoc[9] = (byte) 0xFF;
    assertThatThrownBy(() -> SegmentFormat.decodeValue(1, "x", badDoc))
        .isInstanceOf(SegmentCorruptionException.class);
  }

  @Test
  void checksumFramingSeparatesKeyFromValue() {
    CRC32C a = new CRC32C();
    SegmentFormat.updateChecksum(a, new byte[] {1, 2}, new byte[] {3});
    CRC32C b = new CRC32C();
    SegmentFormat.updateChecksum(b, new byte[] {1}, new byte[] {2, 3});
    assertThat(a.getValue()).isNotEqualTo(b.getValue());
  }
}
