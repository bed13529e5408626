package dev.strata.bench.peers;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.strata.api.v1.BatchGetRequest;
import dev.strata.api.v1.DocumentServiceGrpc;
import io.grpc.MethodDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The BatchGet call as a client that decodes what PostgreSQL's JDBC client decodes: every value,
 * no object graph. The response ({@code BatchGetResponse}, the wire bytes the server sends) is
 * read field by field with a {@link CodedInputStream}: each result's id and each document field's
 * value become a Java value ({@code String} from UTF-8, {@code long}, {@code double}, …), as
 * {@code ResultSet.getObject} does for each column of each row; field names are skipped like
 * column names (which JDBC reads once per result, not per row). No {@code Document}, map,
 * {@code Value} or builder objects are made — those are what the generated stub adds on top
 * (measured: the generated client spends about twice the CPU per call of the JDBC client on the
 * same 100 documents, on the same two cores as the servers; issue #13, third pass).
 *
 * <p>{@link #METHOD} is {@code strata.v1.DocumentService/BatchGet} with this response marshaller;
 * its parsed value is the number of results found. Thread-safe (stateless).
 */
final class FieldDecodingBatchGet {
  private FieldDecodingBatchGet() {}

  /** BatchGet whose response is decoded field by field; the value is the number of documents found. */
  static final MethodDescriptor<BatchGetRequest, Integer> METHOD =
      DocumentServiceGrpc.getBatchGetMethod()
          .toBuilder(DocumentServiceGrpc.getBatchGetMethod().getRequestMarshaller(), new FoundCounter())
          .build();

  /** Keeps the JIT from dropping the decoded values. */
  static volatile long sink;

  private static final class FoundCounter implements MethodDescriptor.Marshaller<Integer> {
    @Override
    public InputStream stream(Integer value) {
      throw new UnsupportedOperationException("client side only: responses are never sent");
    }

    @Override
    public Integer parse(InputStream stream) {
      try {
        return decodeResponse(CodedInputStream.newInstance(stream.readAllBytes()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** {@code BatchGetResponse { repeated BatchGetResult results = 1 }}: the number found. */
  static int decodeResponse(CodedInputStream in) throws IOException {
    int found = 0;
    long check = 0;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      if (WireFormat.getTagFieldNumber(tag) != 1) {
        in.skipField(tag);
        continue;
      }
      int limit = in.pushLimit(in.readRawVarint32());
      // BatchGetResult { string id = 1; bool found = 2; Document document = 3; }
      for (int t = in.readTag(); t != 0; t = in.readTag()) {
        switch (WireFormat.getTagFieldNumber(t)) {
          case 1 -> check += in.readStringRequireUtf8().length();
          case 2 -> found += in.readBool() ? 1 : 0;
          case 3 -> {
            int doc = in.pushLimit(in.readRawVarint32());
            check += decodeDocument(in);
            in.popLimit(doc);
          }
          default -> in.skipField(t);
        }
      }
      in.popLimit(limit);
    }
    sink += check;
    return found;
  }

  /** {@code Document { string id = 1; map<string, Value> fields = 2 }}: every value decoded. */
  private static long decodeDocument(CodedInputStream in) throws IOException {
    long check = 0;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> check += in.readStringRequireUtf8().length();
        case 2 -> {
          int entry = in.pushLimit(in.readRawVarint32());
          for (int t = in.readTag(); t != 0; t = in.readTag()) {
            if (WireFormat.getTagFieldNumber(t) == 2) {
              int value = in.pushLimit(in.readRawVarint32());
              check += decodeValue(in);
              in.popLimit(value);
            } else {
              in.skipField(t); // the key: a column name
            }
          }
          in.popLimit(entry);
        }
        default -> in.skipField(tag);
      }
    }
    return check;
  }

  /** {@code Value { oneof kind { string = 1; int64 = 2; double = 3; bool = 4; bytes = 5; StringList = 6 } }}. */
  private static long decodeValue(CodedInputStream in) throws IOException {
    long check = 0;
    for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> check += in.readStringRequireUtf8().length();
        case 2 -> check += in.readInt64();
        case 3 -> check += (long) in.readDouble();
        case 4 -> check += in.readBool() ? 1 : 0;
        case 5 -> check += in.readByteArray().length;
        case 6 -> {
          int list = in.pushLimit(in.readRawVarint32());
          for (int t = in.readTag(); t != 0; t = in.readTag()) {
            if (WireFormat.getTagFieldNumber(t) == 1) {
              check += in.readStringRequireUtf8().length();
            } else {
              in.skipField(t);
            }
          }
          in.popLimit(list);
        }
        default -> in.skipField(tag);
      }
    }
    return check;
  }
}
