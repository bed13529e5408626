package dev.strata.api.v1;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import com.google.protobuf.DurationProto;
import com.google.protobuf.TextFormat;
import com.google.protobuf.TimestampProto;
import io.grpc.MethodDescriptor.MethodType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Checks the public v1 API surface against SPEC §6 and Google's API design rules (AIP), by walking
 * the generated descriptors, the grpc-java service descriptors, the .proto sources (for comments)
 * and docs/api.md. Each rule is a function returning its violations, so that {@link RulesCanFail}
 * can show on deliberately bad input that every rule does report problems.
 */
class ApiSurfaceTest {

  /** Every file of the API, through the generated outer classes. */
  static final List<FileDescriptor> FILES =
      List.of(
          CommonProto.getDescriptor(),
          CollectionProto.getDescriptor(),
          DocumentProto.getDescriptor(),
          FlushProto.getDescriptor(),
          SnapshotProto.getDescriptor(),
          ForkProto.getDescriptor(),
          AdminProto.getDescriptor());

  enum Streaming {
    UNARY,
    SERVER
  }

  record Rpc(Streaming streaming, String role) {}

  /**
   * SPEC §6 (services, RPCs, streaming) plus the role each RPC needs, with the RPCs later issues
   * added to it (issue 16: {@code ForkService.MergeFork}, {@code SnapshotService.WatchChanges}).
   */
  static final Map<String, Map<String, Rpc>> SPEC = new LinkedHashMap<>();

  static {
    SPEC.put(
        "CollectionService",
        ordered(
            "CreateOrGetCollection", unary("writer"),
            "GetCollection", unary("reader"),
            "ListCollections", unary("reader")));
    SPEC.put(
        "DocumentService",
        ordered(
            "Write", unary("writer"),
            "Get", unary("reader"),
            "BatchGet", unary("reader"),
            "Scan", new Rpc(Streaming.SERVER, "reader"),
            "Search", unary("reader")));
    SPEC.put(
        "FlushService",
        ordered(
            "Flush", unary("writer"),
            "AwaitFlush", unary("reader"),
            "WatchSnapshots", new Rpc(Streaming.SERVER, "reader")));
    SPEC.put(
        "SnapshotService",
        ordered(
            "ListSnapshots", unary("reader"),
            "GetSnapshot", unary("reader"),
            "TagSnapshot", unary("admin"),
            "DeleteTag", unary("admin"),
            "DiffSnapshots", new Rpc(Streaming.SERVER, "reader"),
            "WatchChanges", new Rpc(Streaming.SERVER, "reader")));
    SPEC.put(
        "ForkService",
        ordered(
            "CreateFork", unary("admin"),
            "GetFork", unary("reader"),
            "ListForks", unary("reader"),
            "DropFork", unary("admin"),
            "MergeFork", unary("admin")));
    SPEC.put(
        "AdminService",
        ordered(
            "Compact", unary("admin"),
            "Stats", unary("reader"),
            "Verify", unary("admin")));
  }

  private static Rpc unary(String role) {
    return new Rpc(Streaming.UNARY, role);
  }

  private static Map<String, Rpc> ordered(Object... kv) {
    Map<String, Rpc> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], (Rpc) kv[i + 1]);
    }
    return m;
  }

  static final Path PROTO_DIR = Path.of("src", "main", "proto", "strata", "v1");
  static final Path API_DOC = Path.of("..", "docs", "api.md");

  // ---------------------------------------------------------------------------------------------
  // The checks on the real API.

  @Test
  void everyServiceAndRpcOfTheSpecIsDeclaredWithItsStreamingMode() {
    assertThat(surfaceViolations(FILES, SPEC)).isEmpty();
  }

  @Test
  void grpcJavaStubsAgreeWithTheSpec() {
    Map<String, io.grpc.ServiceDescriptor> stubs = new LinkedHashMap<>();
    for (io.grpc.ServiceDescriptor sd :
        List.of(
            CollectionServiceGrpc.getServiceDescriptor(),
            DocumentServiceGrpc.getServiceDescriptor(),
            FlushServiceGrpc.getServiceDescriptor(),
            SnapshotServiceGrpc.getServiceDescriptor(),
            ForkServiceGrpc.getServiceDescriptor(),
            AdminServiceGrpc.getServiceDescriptor())) {
      stubs.put(sd.getName(), sd);
    }
    assertThat(stubs.keySet())
        .containsExactlyInAnyOrderElementsOf(
            SPEC.keySet().stream().map(s -> "strata.v1." + s).toList());
    SPEC.forEach(
        (service, rpcs) -> {
          io.grpc.ServiceDescriptor sd = stubs.get("strata.v1." + service);
          Map<String, MethodType> actual = new TreeMap<>();
          for (io.grpc.MethodDescriptor<?, ?> m : sd.getMethods()) {
            actual.put(m.getBareMethodName(), m.getType());
          }
          Map<String, MethodType> expected = new TreeMap<>();
          rpcs.forEach(
              (name, rpc) ->
                  expected.put(
                      name,
                      rpc.streaming() == Streaming.SERVER
                          ? MethodType.SERVER_STREAMING
                          : MethodType.UNARY));
          assertThat(actual).as(service).isEqualTo(expected);
        });
  }

  @Test
  void everyRpcHasItsOwnRequestAndResponseMessage() {
    assertThat(requestResponseViolations(FILES)).isEmpty();
  }

  @Test
  void everyEnumStartsWithAnUnspecifiedZeroValue() {
    assertThat(enumViolations(FILES)).isEmpty();
  }

  @Test
  void everyListRpcIsPaginated() {
    assertThat(paginationViolations(FILES)).isEmpty();
  }

  @Test
  void namesFollowTheStyleGuide() {
    assertThat(namingViolations(FILES)).isEmpty();
  }

  @Test
  void timesUseWellKnownTypesAndUnitsAreInFieldNames() {
    assertThat(typeViolations(FILES)).isEmpty();
  }

  @Test
  void fileOptionsAreSet() {
    assertThat(fileOptionViolations(FILES)).isEmpty();
    assertThat(FILES).extracting(FileDescriptor::getName).doesNotHaveDuplicates();
  }

  @Test
  void theFlushTicketCarriesAStableForkId() {
    Descriptor ticket = FlushTicket.getDescriptor();
    assertThat(ticket.getFields())
        .extracting(FieldDescriptor::getName)
        .containsExactly("fork_id", "fork_name", "seq", "lsn");
    assertThat(ticket.findFieldByName("fork_id").getType()).isEqualTo(FieldDescriptor.Type.STRING);
    assertThat(ticket.findFieldByName("lsn").getType()).isEqualTo(FieldDescriptor.Type.INT64);
  }

  @Test
  void valuesHaveTheTypedKindsOfTheIssue() {
    Descriptor value = Value.getDescriptor();
    assertThat(value.getOneofs()).hasSize(1);
    assertThat(value.getOneofs().get(0).getFields())
        .extracting(FieldDescriptor::getName)
        .containsExactly(
            "string_value",
            "int64_value",
            "double_value",
            "bool_value",
            "bytes_value",
            "string_list_value");
    FieldDescriptor fields = Document.getDescriptor().findFieldByName("fields");
    assertThat(fields.isMapField()).isTrue();
    assertThat(fields.getMessageType().findFieldByName("value").getMessageType())
        .isEqualTo(value);
    assertThat(FieldKind.getDescriptor().getValues())
        .extracting(v -> v.getName())
        .containsExactly(
            "FIELD_KIND_UNSPECIFIED",
            "FIELD_KIND_TEXT",
            "FIELD_KIND_KEYWORD",
            "FIELD_KIND_LONG",
            "FIELD_KIND_DOUBLE",
            "FIELD_KIND_STORED");
  }

  @Test
  void everyDeclarationInTheProtoSourcesIsCommented() throws IOException {
    List<String> violations = new ArrayList<>();
    for (FileDescriptor f : FILES) {
      Path source = PROTO_DIR.resolve(Path.of(f.getName()).getFileName());
      assertThat(source).exists();
      violations.addAll(commentViolations(f.getName(), Files.readAllLines(source)));
    }
    assertThat(violations).isEmpty();
  }

  @Test
  void everyRpcCommentNamesTheRoleOfTheSpec() throws IOException {
    Map<String, String> roles = new TreeMap<>();
    for (FileDescriptor f : FILES) {
      roles.putAll(
          rpcRolesInSource(Files.readAllLines(PROTO_DIR.resolve(Path.of(f.getName()).getFileName()))));
    }
    assertThat(roles).isEqualTo(expectedRoles());
  }

  @Test
  void apiDocListsEveryRpcWithItsStreamingModeAndRole() throws IOException {
    assertThat(API_DOC).exists();
    assertThat(docTableViolations(Files.readAllLines(API_DOC), SPEC)).isEmpty();
  }

  private static Map<String, String> expectedRoles() {
    Map<String, String> roles = new TreeMap<>();
    SPEC.forEach((s, rpcs) -> rpcs.forEach((r, rpc) -> roles.put(r, rpc.role())));
    return roles;
  }

  // ---------------------------------------------------------------------------------------------
  // The rules. Each returns human-readable violations; empty means the rule holds.

  static final Pattern LOWER_SNAKE = Pattern.compile("[a-z][a-z0-9]*(_[a-z0-9]+)*");
  static final Pattern UPPER_SNAKE = Pattern.compile("[A-Z][A-Z0-9]*(_[A-Z0-9]+)*");
  static final Pattern UPPER_CAMEL = Pattern.compile("[A-Z][a-zA-Z0-9]*");

  static List<ServiceDescriptor> services(List<FileDescriptor> files) {
    return files.stream().flatMap(f -> f.getServices().stream()).toList();
  }

  static List<Descriptor> allMessages(List<FileDescriptor> files) {
    List<Descriptor> out = new ArrayList<>();
    for (FileDescriptor f : files) {
      for (Descriptor d : f.getMessageTypes()) {
        collect(d, out);
      }
    }
    return out;
  }

  private static void collect(Descriptor d, List<Descriptor> out) {
    if (d.getOptions().getMapEntry()) {
      return; // synthetic map entry types (key/value) follow protoc's own naming
    }
    out.add(d);
    d.getNestedTypes().forEach(n -> collect(n, out));
  }

  static List<EnumDescriptor> allEnums(List<FileDescriptor> files) {
    List<EnumDescriptor> out = new ArrayList<>();
    for (FileDescriptor f : files) {
      out.addAll(f.getEnumTypes());
    }
    for (Descriptor d : allMessages(files)) {
      out.addAll(d.getEnumTypes());
    }
    return out;
  }

  /** The declared services and RPCs equal {@code spec}, with the same streaming modes. */
  static List<String> surfaceViolations(
      List<FileDescriptor> files, Map<String, Map<String, Rpc>> spec) {
    List<String> v = new ArrayList<>();
    Map<String, ServiceDescriptor> declared = new HashMap<>();
    for (ServiceDescriptor s : services(files)) {
      declared.put(s.getName(), s);
      if (!s.getFile().getPackage().equals("strata.v1")) {
        v.add(s.getFullName() + ": not in package strata.v1");
      }
      if (!spec.containsKey(s.getName())) {
        v.add(s.getName() + ": service not in SPEC §6");
      }
    }
    spec.forEach(
        (name, rpcs) -> {
          ServiceDescriptor s = declared.get(name);
          if (s == null) {
            v.add(name + ": service missing");
            return;
          }
          for (MethodDescriptor m : s.getMethods()) {
            if (!rpcs.containsKey(m.getName())) {
              v.add(name + "." + m.getName() + ": RPC not in SPEC §6");
            }
          }
          rpcs.forEach(
              (rpcName, rpc) -> {
                MethodDescriptor m = s.findMethodByName(rpcName);
                if (m == null) {
                  v.add(name + "." + rpcName + ": RPC missing");
                  return;
                }
                if (m.isClientStreaming()) {
                  v.add(name + "." + rpcName + ": must not be client streaming");
                }
                boolean wantServerStreaming = rpc.streaming() == Streaming.SERVER;
                if (m.isServerStreaming() != wantServerStreaming) {
                  v.add(
                      name
                          + "."
                          + rpcName
                          + ": server streaming is "
                          + m.isServerStreaming()
                          + ", want "
                          + wantServerStreaming);
                }
              });
        });
    return v;
  }

  /** AIP-131..136: RpcName(RpcNameRequest) returns (RpcNameResponse); no message is shared. */
  static List<String> requestResponseViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    Map<Descriptor, String> used = new HashMap<>();
    for (ServiceDescriptor s : services(files)) {
      for (MethodDescriptor m : s.getMethods()) {
        String rpc = s.getName() + "." + m.getName();
        if (!m.getInputType().getName().equals(m.getName() + "Request")) {
          v.add(rpc + ": request is " + m.getInputType().getName());
        }
        if (!m.getOutputType().getName().equals(m.getName() + "Response")) {
          v.add(rpc + ": response is " + m.getOutputType().getName());
        }
        for (Descriptor d : List.of(m.getInputType(), m.getOutputType())) {
          if (!d.getFile().getPackage().equals("strata.v1")) {
            v.add(rpc + ": uses " + d.getFullName() + " from another package");
          }
          String previous = used.put(d, rpc);
          if (previous != null) {
            v.add(rpc + ": shares " + d.getName() + " with " + previous);
          }
        }
      }
    }
    return v;
  }

  /**
   * Enums whose value names are used as strings elsewhere (google.rpc.ErrorInfo.reason), so they
   * carry no prefix, like google.api.ErrorReason.
   */
  static final java.util.Set<String> UNPREFIXED_ENUMS = java.util.Set.of("strata.v1.ErrorReason");

  /**
   * AIP-126: the zero value of every enum is NAME_UNSPECIFIED, declared first; the values carry the
   * enum's name as prefix (protobuf style guide), except in {@link #UNPREFIXED_ENUMS}.
   */
  static List<String> enumViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    for (EnumDescriptor e : allEnums(files)) {
      var zero = e.findValueByNumber(0);
      String want = upperSnake(e.getName()) + "_UNSPECIFIED";
      if (zero == null || !zero.getName().endsWith("_UNSPECIFIED")) {
        v.add(e.getFullName() + ": zero value is " + (zero == null ? "missing" : zero.getName()));
      } else if (!zero.getName().equals(want)) {
        v.add(e.getFullName() + ": zero value is " + zero.getName() + ", want " + want);
      } else if (e.getValues().get(0).getNumber() != 0) {
        v.add(e.getFullName() + ": the zero value must be declared first");
      }
      if (!UNPREFIXED_ENUMS.contains(e.getFullName())) {
        for (var value : e.getValues()) {
          if (!value.getName().startsWith(upperSnake(e.getName()) + "_")) {
            v.add(e.getFullName() + "." + value.getName() + ": value lacks the enum's prefix");
          }
        }
      }
    }
    return v;
  }

  /** AIP-158: every List* RPC takes page_size/page_token and returns next_page_token. */
  static List<String> paginationViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    for (ServiceDescriptor s : services(files)) {
      for (MethodDescriptor m : s.getMethods()) {
        if (!m.getName().startsWith("List")) {
          continue;
        }
        String rpc = s.getName() + "." + m.getName();
        expectField(v, rpc, m.getInputType(), "page_size", FieldDescriptor.Type.INT32);
        expectField(v, rpc, m.getInputType(), "page_token", FieldDescriptor.Type.STRING);
        expectField(v, rpc, m.getOutputType(), "next_page_token", FieldDescriptor.Type.STRING);
        long repeated =
            m.getOutputType().getFields().stream().filter(FieldDescriptor::isRepeated).count();
        if (repeated != 1) {
          v.add(rpc + ": response must have exactly one repeated field, has " + repeated);
        }
        if (m.isServerStreaming()) {
          v.add(rpc + ": a paginated list must be unary");
        }
      }
    }
    return v;
  }

  private static void expectField(
      List<String> v, String rpc, Descriptor d, String name, FieldDescriptor.Type type) {
    FieldDescriptor f = d.findFieldByName(name);
    if (f == null) {
      v.add(rpc + ": " + d.getName() + " lacks " + name);
    } else if (f.getType() != type || f.isRepeated()) {
      v.add(rpc + ": " + d.getName() + "." + name + " must be a singular " + type);
    }
  }

  /**
   * AIP-140 and the protobuf style guide: lower_snake_case fields and oneofs, UpperCamelCase
   * messages, enums, services and RPCs, UPPER_SNAKE_CASE enum values.
   */
  static List<String> namingViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    for (Descriptor d : allMessages(files)) {
      if (!UPPER_CAMEL.matcher(d.getName()).matches()) {
        v.add(d.getFullName() + ": message name not UpperCamelCase");
      }
      for (FieldDescriptor f : d.getFields()) {
        if (!LOWER_SNAKE.matcher(f.getName()).matches()) {
          v.add(d.getFullName() + "." + f.getName() + ": field name not lower_snake_case");
        }
        if (f.getName().startsWith("is_")) {
          v.add(d.getFullName() + "." + f.getName() + ": booleans omit the is_ prefix (AIP-140)");
        }
      }
      for (var o : d.getRealOneofs()) {
        if (!LOWER_SNAKE.matcher(o.getName()).matches()) {
          v.add(d.getFullName() + "." + o.getName() + ": oneof name not lower_snake_case");
        }
      }
    }
    for (EnumDescriptor e : allEnums(files)) {
      if (!UPPER_CAMEL.matcher(e.getName()).matches()) {
        v.add(e.getFullName() + ": enum name not UpperCamelCase");
      }
      for (var value : e.getValues()) {
        if (!UPPER_SNAKE.matcher(value.getName()).matches()) {
          v.add(e.getFullName() + "." + value.getName() + ": enum value not UPPER_SNAKE_CASE");
        }
      }
    }
    for (ServiceDescriptor s : services(files)) {
      if (!UPPER_CAMEL.matcher(s.getName()).matches() || !s.getName().endsWith("Service")) {
        v.add(s.getFullName() + ": service name must be UpperCamelCase ending in Service");
      }
      for (MethodDescriptor m : s.getMethods()) {
        if (!UPPER_CAMEL.matcher(m.getName()).matches()) {
          v.add(s.getName() + "." + m.getName() + ": RPC name not UpperCamelCase");
        }
      }
    }
    return v;
  }

  /**
   * AIP-142: *_time fields are google.protobuf.Timestamp, timeouts/durations are
   * google.protobuf.Duration, numeric durations carry their unit (_ms) in the name.
   */
  static List<String> typeViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    for (Descriptor d : allMessages(files)) {
      for (FieldDescriptor f : d.getFields()) {
        String where = d.getFullName() + "." + f.getName();
        boolean isMessage = f.getJavaType() == FieldDescriptor.JavaType.MESSAGE;
        String typeName = isMessage ? f.getMessageType().getFullName() : "";
        if (f.getName().endsWith("_time") && !typeName.equals("google.protobuf.Timestamp")) {
          v.add(where + ": a *_time field must be a google.protobuf.Timestamp");
        }
        if (typeName.equals("google.protobuf.Timestamp") && !f.getName().endsWith("_time")) {
          v.add(where + ": a Timestamp field must be named *_time");
        }
        if ((f.getName().endsWith("_timeout") || f.getName().endsWith("_duration"))
            && !typeName.equals("google.protobuf.Duration")) {
          v.add(where + ": a timeout/duration field must be a google.protobuf.Duration");
        }
        if (f.getName().matches(".*_(secs|seconds|millis|micros|nanos|ns|us)(_total)?")) {
          v.add(where + ": use _ms for milliseconds or a google.protobuf.Duration");
        }
      }
    }
    return v;
  }

  /** Every file: package strata.v1, java_package dev.strata.api.v1, multiple files, *Proto. */
  static List<String> fileOptionViolations(List<FileDescriptor> files) {
    List<String> v = new ArrayList<>();
    for (FileDescriptor f : files) {
      var o = f.getOptions();
      if (!f.getPackage().equals("strata.v1")) {
        v.add(f.getName() + ": package " + f.getPackage());
      }
      if (!f.getName().startsWith("strata/v1/")) {
        v.add(f.getName() + ": not under strata/v1/");
      }
      if (!o.getJavaPackage().equals("dev.strata.api.v1")) {
        v.add(f.getName() + ": java_package " + o.getJavaPackage());
      }
      if (!o.getJavaMultipleFiles()) {
        v.add(f.getName() + ": java_multiple_files is not set");
      }
      if (!o.getJavaOuterClassname().endsWith("Proto")) {
        v.add(f.getName() + ": java_outer_classname '" + o.getJavaOuterClassname() + "'");
      }
      if (!f.toProto().getSyntax().equals("proto3")) {
        v.add(f.getName() + ": not proto3");
      }
    }
    return v;
  }

  static final Pattern DECLARATION =
      Pattern.compile(
          "^(?:(?:message|enum|service|oneof)\\s+\\w+\\s*\\{"
              + "|rpc\\s+\\w+\\s*\\("
              + "|(?:optional\\s+|repeated\\s+)?(?:map<[^>]+>|[A-Za-z_][\\w.]*)\\s+\\w+\\s*=\\s*\\d+"
              + "|[A-Z][A-Z0-9_]*\\s*=\\s*-?\\d+).*");

  /**
   * Every message, enum, service, oneof, RPC, field and enum value in a .proto source has a {@code
   * //} comment on the line(s) right above it; every RPC comment has a "Role:" and an "Errors:"
   * section.
   */
  static List<String> commentViolations(String file, List<String> lines) {
    List<String> v = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (!DECLARATION.matcher(line).matches()) {
        continue;
      }
      List<String> comment = leadingComment(lines, i);
      String where = file + ":" + (i + 1) + ": " + line;
      if (comment.isEmpty()) {
        v.add(where + ": no comment");
      } else if (line.startsWith("rpc ")) {
        String text = String.join("\n", comment);
        if (!text.contains("Role:")) {
          v.add(where + ": the RPC comment has no 'Role:'");
        }
        if (!text.contains("Errors")) {
          v.add(where + ": the RPC comment has no 'Errors:' section");
        }
      }
    }
    return v;
  }

  private static List<String> leadingComment(List<String> lines, int declaration) {
    List<String> comment = new ArrayList<>();
    for (int j = declaration - 1; j >= 0; j--) {
      String prev = lines.get(j).strip();
      if (!prev.startsWith("//")) {
        break;
      }
      comment.add(0, prev);
    }
    return comment;
  }

  static final Pattern RPC_LINE = Pattern.compile("^\\s*rpc\\s+(\\w+)\\s*\\(.*");
  static final Pattern ROLE_LINE = Pattern.compile("^//\\s*Role:\\s*(admin|writer|reader)\\.?\\s*$");

  /** RPC name to the role its comment names ("Role: writer."). */
  static Map<String, String> rpcRolesInSource(List<String> lines) {
    Map<String, String> roles = new TreeMap<>();
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = RPC_LINE.matcher(lines.get(i));
      if (!m.matches()) {
        continue;
      }
      String role = "none";
      for (String c : leadingComment(lines, i)) {
        Matcher r = ROLE_LINE.matcher(c);
        if (r.matches()) {
          role = r.group(1);
        }
      }
      roles.put(m.group(1), role);
    }
    return roles;
  }

  static final Pattern DOC_ROW =
      Pattern.compile(
          "^\\|\\s*`(\\w+)\\.(\\w+)`\\s*\\|\\s*(unary|server streaming)\\s*\\|\\s*(admin|writer|reader)\\s*\\|.*");

  /** docs/api.md has one table row per RPC: | `Service.Rpc` | unary/server streaming | role |. */
  static List<String> docTableViolations(List<String> doc, Map<String, Map<String, Rpc>> spec) {
    List<String> v = new ArrayList<>();
    Map<String, String> rows = new HashMap<>();
    for (String line : doc) {
      Matcher m = DOC_ROW.matcher(line.strip());
      if (m.matches()) {
        String key = m.group(1) + "." + m.group(2);
        if (rows.put(key, m.group(3) + "/" + m.group(4)) != null) {
          v.add(key + ": listed twice");
        }
      }
    }
    spec.forEach(
        (service, rpcs) ->
            rpcs.forEach(
                (name, rpc) -> {
                  String key = service + "." + name;
                  String want =
                      (rpc.streaming() == Streaming.SERVER ? "server streaming" : "unary")
                          + "/"
                          + rpc.role();
                  String got = rows.remove(key);
                  if (got == null) {
                    v.add(key + ": no row in docs/api.md");
                  } else if (!got.equals(want)) {
                    v.add(key + ": docs/api.md says " + got + ", want " + want);
                  }
                }));
    rows.keySet().forEach(k -> v.add(k + ": in docs/api.md but not in the API"));
    return v;
  }

  static String upperSnake(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toUpperCase(java.util.Locale.ROOT);
  }

  // ---------------------------------------------------------------------------------------------
  // The rules report problems on bad input (so that the checks above can fail).

  @Nested
  class RulesCanFail {

    private FileDescriptor bad() throws Exception {
      FileDescriptorProto.Builder b = FileDescriptorProto.newBuilder();
      TextFormat.merge(
          """
          name: "strata/v1/bad.proto"
          package: "strata.v1"
          syntax: "proto3"
          dependency: "google/protobuf/duration.proto"
          options { java_package: "dev.strata.api.v1" java_outer_classname: "Bad" }
          message_type {
            name: "ListThingsRequest"
            field { name: "pageSize" number: 1 type: TYPE_INT32 label: LABEL_OPTIONAL }
            field { name: "is_cool" number: 2 type: TYPE_BOOL label: LABEL_OPTIONAL }
            field { name: "start_time" number: 3 type: TYPE_INT64 label: LABEL_OPTIONAL }
            field { name: "wait_seconds" number: 4 type: TYPE_INT64 label: LABEL_OPTIONAL }
          }
          message_type {
            name: "ListThingsResponse"
            field { name: "things" number: 1 type: TYPE_STRING label: LABEL_REPEATED }
          }
          message_type { name: "Shared" }
          message_type {
            name: "thing_detail"
            field {
              name: "drain_timeout" number: 1 type: TYPE_INT64 label: LABEL_OPTIONAL
            }
          }
          enum_type {
            name: "Color"
            value { name: "COLOR_RED" number: 0 }
            value { name: "COLOR_blue" number: 1 }
          }
          enum_type {
            name: "Shape"
            value { name: "UNSPECIFIED_SHAPE" number: 0 }
          }
          service {
            name: "CollectionService"
            method {
              name: "ListThings"
              input_type: ".strata.v1.ListThingsRequest"
              output_type: ".strata.v1.ListThingsResponse"
              server_streaming: true
            }
            method {
              name: "GetCollection"
              input_type: ".strata.v1.Shared"
              output_type: ".strata.v1.Shared"
            }
          }
          service { name: "Extra" }
          """,
          b);
      return FileDescriptor.buildFrom(
          b.build(), new FileDescriptor[] {DurationProto.getDescriptor()});
    }

    @Test
    void surfaceRuleReportsMissingExtraAndWronglyStreamedRpcs() throws Exception {
      Map<String, Map<String, Rpc>> spec = new LinkedHashMap<>();
      spec.put(
          "CollectionService",
          ordered(
              "ListThings", unary("reader"),
              "CreateOrGetCollection", unary("writer")));
      spec.put("DocumentService", ordered("Scan", new Rpc(Streaming.SERVER, "reader")));
      assertThat(surfaceViolations(List.of(bad()), spec))
          .anySatisfy(s -> assertThat(s).contains("ListThings: server streaming is true"))
          .anySatisfy(s -> assertThat(s).contains("CreateOrGetCollection: RPC missing"))
          .anySatisfy(s -> assertThat(s).contains("GetCollection: RPC not in SPEC"))
          .anySatisfy(s -> assertThat(s).contains("DocumentService: service missing"))
          .anySatisfy(s -> assertThat(s).contains("Extra: service not in SPEC"));
      // and the real SPEC against the bad file: everything real is missing
      assertThat(surfaceViolations(List.of(bad()), SPEC)).hasSizeGreaterThan(5);
    }

    @Test
    void requestResponseRuleReportsSharedAndMisnamedMessages() throws Exception {
      assertThat(requestResponseViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("GetCollection: request is Shared"))
          .anySatisfy(s -> assertThat(s).contains("GetCollection: response is Shared"))
          .anySatisfy(s -> assertThat(s).contains("shares Shared"));
    }

    @Test
    void enumRuleReportsAZeroValueWithoutUnspecified() throws Exception {
      assertThat(enumViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("Color: zero value is COLOR_RED"))
          .anySatisfy(s -> assertThat(s).contains("Shape: zero value is UNSPECIFIED_SHAPE"))
          .anySatisfy(s -> assertThat(s).contains("UNSPECIFIED_SHAPE: value lacks the enum's prefix"));
    }

    @Test
    void paginationRuleReportsMissingPageFields() throws Exception {
      assertThat(paginationViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("lacks page_size"))
          .anySatisfy(s -> assertThat(s).contains("lacks page_token"))
          .anySatisfy(s -> assertThat(s).contains("lacks next_page_token"))
          .anySatisfy(s -> assertThat(s).contains("must be unary"));
    }

    @Test
    void namingRuleReportsCamelCaseFieldsAndBadEnumValues() throws Exception {
      assertThat(namingViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("pageSize: field name not lower_snake_case"))
          .anySatisfy(s -> assertThat(s).contains("is_cool: booleans omit the is_ prefix"))
          .anySatisfy(s -> assertThat(s).contains("thing_detail: message name not UpperCamelCase"))
          .anySatisfy(s -> assertThat(s).contains("COLOR_blue: enum value not UPPER_SNAKE_CASE"))
          .anySatisfy(s -> assertThat(s).contains("Extra: service name must be"));
    }

    @Test
    void typeRuleReportsTimesAndDurationsAsPlainNumbers() throws Exception {
      assertThat(typeViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("start_time: a *_time field must be"))
          .anySatisfy(s -> assertThat(s).contains("drain_timeout: a timeout/duration field"))
          .anySatisfy(s -> assertThat(s).contains("wait_seconds: use _ms"));
    }

    @Test
    void fileOptionRuleReportsMissingOptions() throws Exception {
      assertThat(fileOptionViolations(List.of(bad())))
          .anySatisfy(s -> assertThat(s).contains("java_multiple_files is not set"))
          .anySatisfy(s -> assertThat(s).contains("java_outer_classname 'Bad'"));
    }

    @Test
    void commentRuleReportsUncommentedDeclarationsAndRpcsWithoutRoleOrErrors() {
      List<String> source =
          """
          // A service.
          service ThingService {
            // Does things.
            rpc DoThing(DoThingRequest) returns (DoThingResponse);
          }
          message DoThingRequest {
            // Commented.
            string name = 1;
            repeated string tags = 2;
            map<string, Value> fields = 3;
          }
          // An enum.
          enum Mood {
            MOOD_UNSPECIFIED = 0;
          }
          """
              .lines()
              .toList();
      assertThat(commentViolations("t.proto", source))
          .anySatisfy(s -> assertThat(s).contains("rpc DoThing").contains("no 'Role:'"))
          .anySatisfy(s -> assertThat(s).contains("rpc DoThing").contains("no 'Errors:'"))
          .anySatisfy(s -> assertThat(s).contains("message DoThingRequest").contains("no comment"))
          .anySatisfy(s -> assertThat(s).contains("repeated string tags").contains("no comment"))
          .anySatisfy(s -> assertThat(s).contains("map<string, Value>").contains("no comment"))
          .anySatisfy(s -> assertThat(s).contains("MOOD_UNSPECIFIED").contains("no comment"))
          .noneSatisfy(s -> assertThat(s).contains("string name = 1"));
      assertThat(rpcRolesInSource(source)).containsEntry("DoThing", "none");
    }

    @Test
    void docRuleReportsMissingWrongAndUnknownRows() {
      Map<String, Map<String, Rpc>> spec = new LinkedHashMap<>();
      spec.put(
          "FlushService",
          ordered(
              "Flush", unary("writer"),
              "WatchSnapshots", new Rpc(Streaming.SERVER, "reader"),
              "AwaitFlush", unary("reader")));
      List<String> doc =
          List.of(
              "| `FlushService.Flush` | unary | admin | ... |",
              "| `FlushService.WatchSnapshots` | unary | reader | ... |",
              "| `FlushService.Gone` | unary | reader | ... |");
      assertThat(docTableViolations(doc, spec))
          .anySatisfy(s -> assertThat(s).contains("Flush: docs/api.md says unary/admin"))
          .anySatisfy(s -> assertThat(s).contains("WatchSnapshots: docs/api.md says unary"))
          .anySatisfy(s -> assertThat(s).contains("AwaitFlush: no row"))
          .anySatisfy(s -> assertThat(s).contains("Gone: in docs/api.md but not in the API"));
    }

    @Test
    void theBadFixtureBuildsAndTheRealFilesDependOnlyOnWellKnownTypes() throws Exception {
      assertThat(bad().getMessageTypes()).hasSize(4);
      List<String> allowed =
          Stream.concat(
                  FILES.stream().map(FileDescriptor::getName),
                  Stream.of(
                      TimestampProto.getDescriptor().getName(),
                      DurationProto.getDescriptor().getName()))
              .toList();
      for (FileDescriptor f : FILES) {
        assertThat(f.getDependencies())
            .extracting(FileDescriptor::getName)
            .isSubsetOf(allowed);
      }
    }
  }
}
