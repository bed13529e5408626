package dev.strata.server;

import dev.strata.api.v1.ErrorReason;
import dev.strata.engine.StrataEngine;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.protobuf.services.HealthStatusManager;
import java.util.List;

/**
 * The server's lifecycle and the engine it serves, kept in step with the {@code grpc.health.v1}
 * status. Transitions: STARTING (port bound, engine recovering: NOT_SERVING, Strata RPCs
 * UNAVAILABLE) → SERVING (SERVING) → STOPPING (NOT_SERVING for good; in-flight calls finish, new
 * ones are refused by the transport) → STOPPED (engine closed). STARTING → STOPPED if recovery
 * fails. Thread-safe: the fields are volatile and written by the owning {@link StrataServer} only.
 */
final class ServingState {
  /** Lifecycle phases, in order. */
  enum Phase {
    STARTING,
    SERVING,
    STOPPING,
    STOPPED
  }

  private final HealthStatusManager health;
  private final List<String> serviceNames;
  private volatile Phase phase = Phase.STARTING;
  private volatile StrataEngine engine;

  ServingState(HealthStatusManager health, List<String> serviceNames) {
    this.health = health;
    this.serviceNames = List.copyOf(serviceNames);
    setHealth(ServingStatus.NOT_SERVING);
  }

  /** The current phase. */
  Phase phase() {
    return phase;
  }

  /**
   * The engine to serve a call with.
   *
   * @throws ApiError UNAVAILABLE while starting or after the engine closed
   */
  StrataEngine engine() {
    StrataEngine e = engine;
    Phase p = phase;
    if (p == Phase.STARTING) {
      throw ApiError.of(
          Status.Code.UNAVAILABLE, null, "the server is starting (recovering its data directory); retry shortly");
    }
    if (e == null || p == Phase.STOPPED) {
      throw ApiError.of(Status.Code.UNAVAILABLE, ErrorReason.SERVER_SHUTTING_DOWN, "the server is shutting down");
    }
    return e;
  }

  /** The engine if it is open, else null (for shutdown). */
  StrataEngine engineOrNull() {
    return engine;
  }

  /** STARTING → SERVING. */
  void serving(StrataEngine e) {
    engine = e;
    phase = Phase.SERVING;
    setHealth(ServingStatus.SERVING);
  }

  /** → STOPPING: health NOT_SERVING from now on, whatever happens. */
  void stopping() {
    phase = Phase.STOPPING;
    health.enterTerminalState();
  }

  /** → STOPPED. */
  void stopped() {
    if (phase != Phase.STOPPING) {
      health.enterTerminalState();
    }
    phase = Phase.STOPPED;
  }

  private void setHealth(ServingStatus s) {
    health.setStatus(HealthStatusManager.SERVICE_NAME_ALL_SERVICES, s);
    for (String name : serviceNames) {
      health.setStatus(name, s);
    }
  }
}
