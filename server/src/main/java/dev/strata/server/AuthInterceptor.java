package dev.strata.server;

import dev.strata.api.v1.AdminServiceGrpc;
import dev.strata.api.v1.CollectionServiceGrpc;
import dev.strata.api.v1.DocumentServiceGrpc;
import dev.strata.api.v1.ErrorReason;
import dev.strata.api.v1.FlushServiceGrpc;
import dev.strata.api.v1.ForkServiceGrpc;
import dev.strata.api.v1.SnapshotServiceGrpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Bearer-token authentication and role checks (docs/api.md §2). Every call of a Strata service
 * carries {@code authorization: Bearer <token>}; the token maps to a role, and the role must cover
 * the RPC's role ({@link #requiredRole}). With no tokens configured every caller is admin (the
 * server then listens on loopback only). The health service needs no token, so probes work;
 * reflection needs reader.
 *
 * <p>Tokens are compared in constant time: the presented token and every configured one are
 * hashed with SHA-256 and all hashes are compared with {@link MessageDigest#isEqual}, without an
 * early exit, so neither a token's content nor its length shows in the timing. Thread-safe.
 */
final class AuthInterceptor implements ServerInterceptor {
  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private static final Map<String, Role> ROLES = new HashMap<>();

  static {
    reader(CollectionServiceGrpc.getGetCollectionMethod(), CollectionServiceGrpc.getListCollectionsMethod());
    writer(CollectionServiceGrpc.getCreateOrGetCollectionMethod());
    writer(DocumentServiceGrpc.getWriteMethod());
    reader(
        DocumentServiceGrpc.getGetMethod(),
        DocumentServiceGrpc.getBatchGetMethod(),
        DocumentServiceGrpc.getScanMethod(),
        DocumentServiceGrpc.getSearchMethod());
    writer(FlushServiceGrpc.getFlushMethod());
    reader(FlushServiceGrpc.getAwaitFlushMethod(), FlushServiceGrpc.getWatchSnapshotsMethod());
    reader(
        SnapshotServiceGrpc.getListSnapshotsMethod(),
        SnapshotServiceGrpc.getGetSnapshotMethod(),
        SnapshotServiceGrpc.getDiffSnapshotsMethod(),
        SnapshotServiceGrpc.getWatchChangesMethod());
    admin(SnapshotServiceGrpc.getTagSnapshotMethod(), SnapshotServiceGrpc.getDeleteTagMethod());
    admin(ForkServiceGrpc.getCreateForkMethod(), ForkServiceGrpc.getDropForkMethod(), ForkServiceGrpc.getMergeForkMethod());
    reader(ForkServiceGrpc.getGetForkMethod(), ForkServiceGrpc.getListForksMethod());
    admin(AdminServiceGrpc.getCompactMethod(), AdminServiceGrpc.getVerifyMethod());
    reader(AdminServiceGrpc.getStatsMethod());
  }

  private static void reader(MethodDescriptor<?, ?>... ms) {
    put(Role.READER, ms);
  }

  private static void writer(MethodDescriptor<?, ?>... ms) {
    put(Role.WRITER, ms);
  }

  private static void admin(MethodDescriptor<?, ?>... ms) {
    put(Role.ADMIN, ms);
  }

  private static void put(Role r, MethodDescriptor<?, ?>... ms) {
    for (MethodDescriptor<?, ?> m : ms) {
      ROLES.put(m.getFullMethodName(), r);
    }
  }

  /**
   * The role an RPC needs: from the table of docs/api.md for Strata RPCs; none (null) for the
   * health service; reader for server reflection; admin for anything else (fail closed).
   */
  static Role requiredRole(String fullMethodName) {
    Role r = ROLES.get(fullMethodName);
    if (r != null) {
      return r;
    }
    if (fullMethodName.startsWith("grpc.health.v1.Health/")) {
      return null;
    }
    if (fullMethodName.startsWith("grpc.reflection.")) {
      return Role.READER;
    }
    return Role.ADMIN;
  }

  /** Every Strata RPC with its role (for docs and tests). */
  static Map<String, Role> roleTable() {
    return Map.copyOf(ROLES);
  }

  private record Known(byte[] digest, ServerConfig.Token token) {}

  private final List<Known> tokens;

  AuthInterceptor(List<ServerConfig.Token> tokens) {
    this.tokens = tokens.stream().map(t -> new Known(sha256(t.secret()), t)).toList();
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    Role required = requiredRole(call.getMethodDescriptor().getFullMethodName());
    if (tokens.isEmpty() || required == null) {
      label(call, tokens.isEmpty() ? "anonymous-admin" : "anonymous");
      return next.startCall(call, headers);
    }
    String header = headers.get(AUTHORIZATION);
    String secret = bearer(header);
    if (secret == null) {
      return refuse(
          call,
          ApiError.of(
              Status.Code.UNAUTHENTICATED,
              ErrorReason.AUTH_TOKEN_MISSING,
              header == null
                  ? "authentication required: send the metadata 'authorization: Bearer <token>'"
                  : "malformed authorization metadata: expected 'Bearer <token>'"));
    }
    ServerConfig.Token token = match(secret);
    if (token == null) {
      return refuse(
          call, ApiError.of(Status.Code.UNAUTHENTICATED, ErrorReason.AUTH_TOKEN_INVALID, "the bearer token is not valid"));
    }
    label(call, token.label());
    if (!token.role().covers(required)) {
      return refuse(
          call,
          ApiError.of(
              Status.Code.PERMISSION_DENIED,
              ErrorReason.ROLE_INSUFFICIENT,
              call.getMethodDescriptor().getFullMethodName() + " needs role " + required.configName()
                  + "; the token '" + token.label() + "' has role " + token.role().configName(),
              "required_role",
              required.configName(),
              "role",
              token.role().configName()));
    }
    return next.startCall(call, headers);
  }

  private static void label(ServerCall<?, ?> call, String caller) {
    if (call instanceof CallLogInterceptor.LoggedCall<?, ?> logged) {
      logged.caller(caller);
    }
  }

  /** The token of a "Bearer <token>" header (scheme case-insensitive), or null. */
  static String bearer(String header) {
    if (header == null || header.length() <= 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String t = header.substring(7).strip();
    return t.isEmpty() ? null : t;
  }

  /** The configured token equal to {@code secret}, compared in constant time; null if none. */
  private ServerConfig.Token match(String secret) {
    byte[] d = sha256(secret);
    ServerConfig.Token found = null;
    for (Known k : tokens) {
      if (MessageDigest.isEqual(d, k.digest()) && found == null) {
        found = k.token();
      }
    }
    return found;
  }

  private static <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, ApiError e) {
    StatusRuntimeException s = StatusMapper.toStatus(e);
    call.close(s.getStatus(), s.getTrailers() == null ? new Metadata() : s.getTrailers());
    return new ServerCall.Listener<>() {};
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
