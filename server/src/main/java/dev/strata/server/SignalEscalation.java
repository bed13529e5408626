package dev.strata.server;

import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a second SIGTERM or SIGINT during a graceful shutdown halt the JVM at once. By default the
 * JVM ignores signals once its shutdown hooks run; this replaces the handlers (through {@code
 * sun.misc.Signal}, looked up reflectively because it is an unsupported API) when the first signal
 * has started the shutdown. Halting is safe: every acknowledged write is in a WAL.
 */
final class SignalEscalation {
  private static final Logger log = LoggerFactory.getLogger(SignalEscalation.class);

  private SignalEscalation() {}

  /** From now on, TERM and INT halt the JVM with 128 + signal number. Best effort. */
  static void haltOnNextSignal() {
    for (String name : new String[] {"TERM", "INT"}) {
      try {
        Class<?> signalClass = Class.forName("sun.misc.Signal");
        Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
        Object signal = signalClass.getConstructor(String.class).newInstance(name);
        Object handler =
            Proxy.newProxyInstance(
                handlerClass.getClassLoader(),
                new Class<?>[] {handlerClass},
                (proxy, method, args) -> {
                  if (method.getName().equals("handle")) {
                    log.warn("second SIG{}: stopping at once (the WALs keep unflushed writes)", name);
                    Runtime.getRuntime().halt(name.equals("TERM") ? 143 : 130);
                  }
                  return null;
                });
        Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
        handle.invoke(null, signal, handler);
      } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
        log.debug("cannot install the SIG{} escalation: {}", name, e.toString());
      }
    }
  }
}
