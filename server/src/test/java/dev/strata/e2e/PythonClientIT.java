package dev.strata.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The Python client's pytest suite ({@code clients/python/tests}), run by Debian's python3 against
 * real servers that the suite starts with {@code bin/strata serve} (the shaded jar this module has
 * just packaged: this is a failsafe test, run after {@code package}).
 *
 * <p>Needs Debian's {@code python3-grpcio}, {@code python3-protobuf}, {@code python3-pytest},
 * {@code protobuf-compiler} and {@code protobuf-compiler-grpc} (.ci/run installs them). Skipped
 * when they are missing, unless {@code STRATA_REQUIRE_PYTHON=1} (set by .ci/run), which turns the
 * skip into a failure. The suite's output is in {@code target/pytest.log}.
 */
class PythonClientIT {
  /** Debian's interpreter: another python3 earlier on the PATH may lack Debian's grpcio. */
  private static final String PYTHON = "/usr/bin/python3";

  @Test
  void thePythonClientsTestsPassAgainstARealServer() throws Exception {
    Path clientDir = Path.of("../clients/python").toAbsolutePath().normalize();
    String missing = missingPrerequisite();
    if ("1".equals(System.getenv("STRATA_REQUIRE_PYTHON"))) {
      assertThat(missing).as("the Python client's test prerequisites").isNull();
    }
    assumeTrue(missing == null, () -> "Python client tests skipped: " + missing);

    Path log = Path.of("target/pytest.log").toAbsolutePath();
    Process p =
        new ProcessBuilder(
                List.of(PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "tests"))
            .directory(clientDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    boolean exited = p.waitFor(540, TimeUnit.SECONDS);
    if (!exited) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
    String out = Files.readString(log, StandardCharsets.UTF_8);
    System.out.println(out); // in the failsafe report
    assertThat(exited).as("pytest finished within 9 minutes; output:\n" + out).isTrue();
    assertThat(p.exitValue()).as("pytest exit code; output:\n" + out).isZero();
    assertThat(out).containsPattern("\\d+ passed").doesNotContainPattern("\\d+ (failed|error)");
  }

  /** What is missing to run the suite, or null. */
  private static String missingPrerequisite() {
    if (!Files.isExecutable(Path.of(PYTHON))) {
      return PYTHON + " not found (apt-get install python3)";
    }
    for (String tool : List.of("protoc", "grpc_python_plugin")) {
      if (!runs(List.of("sh", "-c", "command -v " + tool))) {
        return tool + " not on the PATH (apt-get install protobuf-compiler protobuf-compiler-grpc)";
      }
    }
    if (!runs(List.of(PYTHON, "-c", "import grpc, google.protobuf, pytest"))) {
      return "Debian's python3-grpcio, python3-protobuf or python3-pytest is missing";
    }
    return null;
  }

  private static boolean runs(List<String> command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
