package dev.strata.engine.l0;

import dev.strata.engine.model.Document;
import dev.strata.engine.model.DocumentVersion;
import dev.strata.engine.model.EncodedDocument;
import dev.strata.engine.model.FieldValue;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Builds {@link L0Record}s for tests, the way the fork's WAL code lays them out over one array. */
final class TestRecords {
  private TestRecords() {}

  /** One mutation: a put of {@code body} (as the field "body"), or a tombstone if it is null. */
  record Op(String id, String body) {}

  static EncodedDocument document(String id, String body) {
    return EncodedDocument.of(new Document(id, Map.of("body", new FieldValue.Str(body))));
  }

  static L0Record record(String collection, List<Op> ops) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] c = collection.getBytes(StandardCharsets.UTF_8);
    out.writeBytes(c);
    int[] idAt = new int[ops.size()];
    int[] idLen = new int[ops.size()];
    int[] bodyAt = new int[ops.size()];
    int[] bodyLen = new int[ops.size()];
    for (int i = 0; i < ops.size(); i++) {
      Op op = ops.get(i);
      byte[] id = op.id().getBytes(StandardCharsets.UTF_8);
      idAt[i] = out.size();
      idLen[i] = id.length;
      out.writeBytes(id);
      if (op.body() != null) {
        byte[] body = document(op.id(), op.body()).body().toByteArray();
        bodyAt[i] = out.size();
        bodyLen[i] = body.length;
        out.writeBytes(body);
      }
    }
    L0Record r = new L0Record();
    r.reset(out.toByteArray(), 0, c.length);
    for (int i = 0; i < ops.size(); i++) {
      if (ops.get(i).body() == null) {
        r.addDelete(idAt[i], idLen[i]);
      } else {
        r.addPut(idAt[i], idLen[i], bodyAt[i], bodyLen[i]);
      }
    }
    return r;
  }

  static L0Record put(String collection, String id, String body) {
    return record(collection, List.of(new Op(id, body)));
  }

  static L0Record delete(String collection, String id) {
    return record(collection, List.of(new Op(id, null)));
  }

  /** The "body" field of a version's document, or null for a tombstone. */
  static String bodyOf(DocumentVersion v) {
    return v.isTombstone() ? null : ((FieldValue.Str) v.document().fields().get("body")).value();
  }
}
