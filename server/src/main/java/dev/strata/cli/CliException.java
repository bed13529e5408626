package dev.strata.cli;

/** A failure the CLI reports on one line ({@code error: message}) with a given exit code. */
final class CliException extends RuntimeException {
  private final int exitCode;

  CliException(String message) {
    this(message, StrataCli.EXIT_FAILED);
  }

  CliException(String message, int exitCode) {
    super(message);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }
}
