package dev.strata.server;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Request bytes for fuzzing, three ways: random bytes; a random message of the request type, every
 * field drawn from edge values and a dictionary of names the server knows (so requests get past
 * validation into the engine); and a real request mutated at the byte level (bit flips, cuts,
 * splices, invalid UTF-8) or at the field level (one field set to a random value or cleared).
 * Driven by a caller-seeded {@link SplittableRandom}: a run is reproducible from its seed. Not
 * thread-safe.
 */
final class ProtoFuzzer {
  private static final long[] LONGS = {
    0, 1, -1, 2, 7, 10, 100, 999, 1000, 1001, 1024, 1025, 10_000, 10_001, Integer.MAX_VALUE, Integer.MIN_VALUE,
    Long.MAX_VALUE, Long.MIN_VALUE, Long.MAX_VALUE / 1000, 1L << 32, -(1L << 40)
  };
  private static final double[] DOUBLES = {
    0.0, -0.0, 1.5, -2.25, 1e300, -1e300, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY,
    Double.MIN_VALUE, Double.MAX_VALUE
  };
  private static final String[] STRINGS = {
    "", "main", "docs", "body", "tag", "n", "price", "a", "d1", "x", "*", "alpha", "alpha OR beta", "body:alpha",
    "tag:red", "n:[1 TO 5]", "price:{1.0 TO *]", "\"unterminated", "(((", "a AND", "fork*", "~2", "..", "../x",
    "a/b", "-lead", "Upper", "ünïcödé", "\u0000", "emoji \uD83D\uDE00", "v1.0", "main-0000000000000000",
    "main-0000000000000000-000000000001", "standard", "english", "keyword", "FIELD_KIND_TEXT"
  };

  private final SplittableRandom random;
  /** Names and ids the server knows now (forks, collections, snapshot ids, fork ids, tags, doc ids). */
  private final Supplier<List<String>> dictionary;

  ProtoFuzzer(SplittableRandom random, Supplier<List<String>> dictionary) {
    this.random = random;
    this.dictionary = dictionary;
  }

  SplittableRandom random() {
    return random;
  }

  /** 0..maxLen random bytes (sometimes a valid-looking tag first). */
  byte[] randomBytes(int maxLen) {
    int n = random.nextInt(maxLen + 1);
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) random.nextInt(256);
    }
    if (n > 0 && random.nextBoolean()) {
      b[0] = (byte) ((1 + random.nextInt(9)) << 3 | random.nextInt(3)); // field 1..9, varint/fixed64/len
    }
    return b;
  }

  /** A random message of {@code type}, serialized. */
  byte[] randomMessage(Descriptor type) {
    return message(type, 0).toByteArray();
  }

  /** {@code template} mutated once or a few times, at the byte or the field level. */
  byte[] mutate(Descriptor type, byte[] template, List<byte[]> others) {
    int r = random.nextInt(100);
    if (r < 15) {
      return template; // the real request as it is: the model must see valid writes too
    }
    if (r < 60) {
      return mutateField(type, template);
    }
    byte[] b = template;
    int rounds = 1 + random.nextInt(3);
    for (int i = 0; i < rounds; i++) {
      b = mutateBytes(b, others);
    }
    return b;
  }

  private byte[] mutateField(Descriptor type, byte[] template) {
    DynamicMessage m;
    try {
      m = DynamicMessage.parseFrom(type, template);
    } catch (InvalidProtocolBufferException e) {
      return template;
    }
    DynamicMessage.Builder b = m.toBuilder();
    mutateIn(b, type, 0);
    return b.build().toByteArray();
  }

  /** Sets, clears or recurses into one field of {@code b}. */
  private void mutateIn(DynamicMessage.Builder b, Descriptor type, int depth) {
    List<FieldDescriptor> fields = type.getFields();
    if (fields.isEmpty()) {
      return;
    }
    FieldDescriptor f = fields.get(random.nextInt(fields.size()));
    int op = random.nextInt(10);
    if (f.isRepeated()) {
      int n = b.getRepeatedFieldCount(f);
      if (op < 2 || n == 0) {
        b.addRepeatedField(f, value(f, depth + 1));
      } else if (op < 4) {
        b.clearField(f);
      } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField() && op < 8) {
        int i = random.nextInt(n);
        DynamicMessage.Builder inner = ((DynamicMessage) b.getRepeatedField(f, i)).toBuilder();
        mutateIn(inner, f.getMessageType(), depth + 1);
        b.setRepeatedField(f, i, inner.build());
      } else {
        b.setRepeatedField(f, random.nextInt(n), value(f, depth + 1));
      }
    } else if (op < 2) {
      b.clearField(f);
    } else if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && b.hasField(f) && op < 7) {
      DynamicMessage.Builder inner = ((DynamicMessage) b.getField(f)).toBuilder();
      mutateIn(inner, f.getMessageType(), depth + 1);
      b.setField(f, inner.build());
    } else {
      b.setField(f, value(f, depth + 1));
    }
  }

  private byte[] mutateBytes(byte[] in, List<byte[]> others) {
    if (in.length == 0) {
      return randomBytes(16);
    }
    byte[] b = in.clone();
    switch (random.nextInt(7)) {
      case 0 -> { // flip a bit
        int i = random.nextInt(b.length);
        b[i] ^= (byte) (1 << random.nextInt(8));
        return b;
      }
      case 1 -> { // an interesting byte
        int[] interesting = {0x00, 0xff, 0x7f, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x0a, 0x12, 0x1a};
        b[random.nextInt(b.length)] = (byte) interesting[random.nextInt(interesting.length)];
        return b;
      }
      case 2 -> { // cut
        return java.util.Arrays.copyOf(b, random.nextInt(b.length));
      }
      case 3 -> { // delete a range
        int from = random.nextInt(b.length);
        int to = Math.min(b.length, from + 1 + random.nextInt(8));
        byte[] out = new byte[b.length - (to - from)];
        System.arraycopy(b, 0, out, 0, from);
        System.arraycopy(b, to, out, from, b.length - to);
        return out;
      }
      case 4 -> { // insert invalid UTF-8 or random bytes
        byte[] ins = random.nextBoolean() ? new byte[] {(byte) 0xc3, 0x28} : randomBytes(6);
        int at = random.nextInt(b.length + 1);
        byte[] out = new byte[b.length + ins.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(ins, 0, out, at, ins.length);
        System.arraycopy(b, at, out, at + ins.length, b.length - at);
        return out;
      }
      case 5 -> { // duplicate a range (repeated fields twice, a field set twice)
        int from = random.nextInt(b.length);
        int to = Math.min(b.length, from + 1 + random.nextInt(32));
        byte[] out = new byte[b.length + (to - from)];
        System.arraycopy(b, 0, out, 0, to);
        System.arraycopy(b, from, out, to, b.length - from);
        return out;
      }
      default -> { // splice with another request
        byte[] other = others.isEmpty() ? randomBytes(32) : others.get(random.nextInt(others.size()));
        int at = random.nextInt(b.length + 1);
        int from = other.length == 0 ? 0 : random.nextInt(other.length);
        byte[] out = new byte[at + other.length - from];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(other, from, out, at, other.length - from);
        return out;
      }
    }
  }

  private DynamicMessage message(Descriptor type, int depth) {
    DynamicMessage.Builder b = DynamicMessage.newBuilder(type);
    for (FieldDescriptor f : type.getFields()) {
      if (depth > 4 || random.nextInt(100) >= (depth == 0 ? 70 : 45)) {
        continue;
      }
      if (f.isRepeated()) {
        int n = random.nextInt(50) == 0 ? 1000 + random.nextInt(100) : random.nextInt(4);
        for (int i = 0; i < n; i++) {
          b.addRepeatedField(f, value(f, depth + 1));
        }
      } else {
        b.setField(f, value(f, depth + 1));
      }
    }
    return b.build();
  }

  /** A random value for (one element of) field {@code f}. */
  private Object value(FieldDescriptor f, int depth) {
    return switch (f.getJavaType()) {
      case INT -> (int) longValue();
      case LONG -> longValue();
      case FLOAT -> (float) doubleValue();
      case DOUBLE -> doubleValue();
      case BOOLEAN -> random.nextBoolean();
      case STRING -> string();
      case BYTE_STRING -> ByteString.copyFrom(randomBytes(16));
      case ENUM -> enumValue(f.getEnumType());
      case MESSAGE -> message(f.getMessageType(), depth);
    };
  }

  private Object enumValue(EnumDescriptor e) {
    if (random.nextInt(8) == 0) {
      return e.findValueByNumberCreatingIfUnknown(100 + random.nextInt(1000));
    }
    return e.getValues().get(random.nextInt(e.getValues().size()));
  }

  private long longValue() {
    return random.nextBoolean() ? LONGS[random.nextInt(LONGS.length)] : random.nextLong(-1000, 100_000);
  }

  private double doubleValue() {
    return random.nextBoolean() ? DOUBLES[random.nextInt(DOUBLES.length)] : random.nextDouble(-1e6, 1e6);
  }

  /** A string: known names most of the time, else edge cases and random text. */
  String string() {
    int r = random.nextInt(100);
    if (r < 45) {
      List<String> known = dictionary.get();
      if (!known.isEmpty()) {
        return known.get(random.nextInt(known.size()));
      }
    }
    if (r < 80) {
      return STRINGS[random.nextInt(STRINGS.length)];
    }
    if (r < 82) {
      return "x".repeat(random.nextInt(40_000)); // around every length limit (ids, terms, queries)
    }
    StringBuilder sb = new StringBuilder();
    int n = random.nextInt(40);
    for (int i = 0; i < n; i++) {
      int cp = random.nextInt(10) == 0 ? random.nextInt(0x10000, 0x10FFFF) : random.nextInt(0x20, 0x3000);
      if (cp >= 0xD800 && cp <= 0xDFFF) {
        cp = 'z';
      }
      sb.appendCodePoint(cp);
    }
    return sb.toString();
  }

  /** A few elements of {@code list}, for splicing. */
  static List<byte[]> sample(List<byte[]> list, SplittableRandom random, int n) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n && !list.isEmpty(); i++) {
      out.add(list.get(random.nextInt(list.size())));
    }
    return out;
  }
}
