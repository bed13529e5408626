package dev.strata.bench.engine;

import dev.strata.engine.model.CollectionSchema;
import dev.strata.engine.model.Document;
import dev.strata.engine.model.FieldKind;
import dev.strata.engine.model.FieldSpec;
import dev.strata.engine.model.FieldValue;
import dev.strata.engine.model.Mutation;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Small documents for the load generator: a TEXT {@code body} of about {@value #BODY_CHARS}
 * characters of words from a fixed vocabulary, a KEYWORD {@code tag} and a LONG {@code n}. Bodies
 * come from a pool built once from a seed, so generating a document costs almost nothing. Ids are
 * {@code w<writer>-<seq>}: every put inserts a new document. Thread-safe (immutable).
 */
final class DocumentSource {
  /** The collection schema the load uses. */
  static final CollectionSchema SCHEMA =
      new CollectionSchema(
          List.of(
              FieldSpec.of("body", FieldKind.TEXT),
              FieldSpec.of("tag", FieldKind.KEYWORD),
              FieldSpec.of("n", FieldKind.LONG)));

  static final int BODY_CHARS = 200;
  private static final int POOL = 4096;
  private static final String[] TAGS = {"red", "green", "blue", "amber", "violet", "grey", "black", "white"};

  private final String[] bodies = new String[POOL];

  DocumentSource(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    String[] vocabulary = new String[5000];
    for (int i = 0; i < vocabulary.length; i++) {
      int len = 3 + rnd.nextInt(8);
      StringBuilder w = new StringBuilder(len);
      for (int j = 0; j < len; j++) {
        w.append((char) ('a' + rnd.nextInt(26)));
      }
      vocabulary[i] = w.toString();
    }
    for (int i = 0; i < POOL; i++) {
      StringBuilder b = new StringBuilder(BODY_CHARS + 12);
      while (b.length() < BODY_CHARS) {
        if (b.length() > 0) {
          b.append(' ');
        }
        b.append(vocabulary[rnd.nextInt(vocabulary.length)]);
      }
      bodies[i] = b.toString();
    }
  }

  Document document(int writer, long seq) {
    Map<String, FieldValue> f = new LinkedHashMap<>();
    f.put("body", new FieldValue.Str(bodies[(int) ((seq * 31 + writer) % POOL)]));
    f.put("tag", new FieldValue.Str(TAGS[(int) (seq % TAGS.length)]));
    f.put("n", new FieldValue.Int64(seq));
    return new Document("w" + writer + "-" + seq, f);
  }

  /** {@code count} puts of new documents {@code firstSeq, firstSeq + 1, ...} of one writer. */
  List<Mutation> puts(int writer, long firstSeq, int count) {
    List<Mutation> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(new Mutation.Put(document(writer, firstSeq + i)));
    }
    return out;
  }
}
