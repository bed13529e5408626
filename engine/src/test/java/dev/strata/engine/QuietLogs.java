package dev.strata.engine;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Turns logging off for a test class whose sweeps provoke thousands of expected errors, and
 * restores the level after it ({@code @ExtendWith(QuietLogs.class)}).
 */
public final class QuietLogs implements BeforeAllCallback, AfterAllCallback {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(QuietLogs.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    context.getStore(NS).put("level", root.getLevel());
    root.setLevel(Level.OFF);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(context.getStore(NS).get("level", Level.class));
  }
}
