package dev.strata.cli;

/** Placeholder entry point; the picocli command line replaces it. */
public final class StrataCli {
  private StrataCli() {}

  public static void main(String[] args) {
    System.err.println("strata: the command line is not built yet");
    System.exit(2);
  }
}
