package dev.strata.bench.peers;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import dev.strata.api.v1.BatchGetResponse;
import dev.strata.api.v1.BatchGetResult;
import dev.strata.api.v1.Document;
import dev.strata.api.v1.StringList;
import dev.strata.api.v1.Value;
import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.Test;

/** The field-by-field BatchGet decoder reads every kind of value and counts what was found. */
class FieldDecodingBatchGetTest {
  @Test
  void countsFoundResultsAcrossEveryValueKind() throws Exception {
    Document doc =
        Document.newBuilder()
            .setId("pkg-é")
            .putFields("summary", Value.newBuilder().setStringValue("text editor ✓").build())
            .putFields("installed_size_kib", Value.newBuilder().setInt64Value(1234).build())
            .putFields("ratio", Value.newBuilder().setDoubleValue(0.5).build())
            .putFields("essential", Value.newBuilder().setBoolValue(true).build())
            .putFields("blob", Value.newBuilder().setBytesValue(ByteString.copyFrom(new byte[] {0, 1, 2})).build())
            .putFields("tags", Value.newBuilder().setStringListValue(StringList.newBuilder().addValues("a").addValues("b")).build())
            .build();
    BatchGetResponse r =
        BatchGetResponse.newBuilder()
            .addResults(BatchGetResult.newBuilder().setId("pkg-é").setFound(true).setDocument(doc))
            .addResults(BatchGetResult.newBuilder().setId("missing"))
            .addResults(BatchGetResult.newBuilder().setId("x").setFound(true).setDocument(Document.newBuilder().setId("x")))
            .build();
    assertThat(FieldDecodingBatchGet.decodeResponse(CodedInputStream.newInstance(r.toByteArray()))).isEqualTo(2);
    assertThat(FieldDecodingBatchGet.METHOD.parseResponse(new ByteArrayInputStream(r.toByteArray()))).isEqualTo(2);
    assertThat(FieldDecodingBatchGet.decodeResponse(CodedInputStream.newInstance(new byte[0]))).isZero();
  }
}
