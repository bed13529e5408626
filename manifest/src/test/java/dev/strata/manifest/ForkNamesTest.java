package dev.strata.manifest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Fork names cannot reach outside the data directory; fork ids are unique. */
class ForkNamesTest {

  @ParameterizedTest
  @ValueSource(strings = {"main", "a", "0", "dev-2", "feature.x_y-z", "a..b", "9lives"})
  void validNames(String name) {
    assertThat(ForkNames.isValid(name)).isTrue();
    assertThat(ForkNames.validate(name)).isEqualTo(name);
  }

  @Example
  void sixtyThreeCharactersIsTheLimit() {
    String max = "a".repeat(63);
    assertThat(ForkNames.isValid(max)).isTrue();
    assertThatThrownBy(() -> ForkNames.validate(max + "b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("64 characters long, at most 63");
    assertThat(ForkNames.isValid("a".repeat(200))).isFalse();
  }

  @ParameterizedTest
  @ValueSource(strings = {"../x", "..", ".", "./a", "a/b", "/abs", "a\\b", "Main", "MAIN", "-a", ".hidden", "_a",
      "a b", "a\u0000b", "caf\u00e9", "\u0430dmin" /* Cyrillic a */, "a\ud83d\ude00", "a:b", "a\nb", " a", "a*"})
  void invalidNames(String name) {
    assertThat(ForkNames.isValid(name)).isFalse();
    assertThatThrownBy(() -> ForkNames.validate(name))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("fork name");
    assertThatThrownBy(() -> ForkIds.newId(name)).isInstanceOf(IllegalArgumentException.class);
  }

  @Example
  void emptyAndNullAreInvalid() {
    assertThat(ForkNames.isValid("")).isFalse();
    assertThat(ForkNames.isValid(null)).isFalse();
    assertThat(ForkNames.problem("")).isEqualTo("fork name must not be empty");
    assertThat(ForkNames.problem("Ab")).contains("'A' at index 0");
    assertThat(ForkNames.problem("a\u00e9")).contains("U+00E9 at index 1");
  }

  @Property(tries = 2000)
  void anyAcceptedNameStaysInsideItsParentDirectory(@ForAll String name) {
    if (ForkNames.isValid(name)) {
      Path base = Path.of("/data/forks");
      Path resolved = base.resolve(name).normalize();
      assertThat(resolved.getParent()).isEqualTo(base);
    }
  }

  @Property(tries = 500)
  void anyAcceptedIdStaysInsideItsParentDirectory(@ForAll String suffix) {
    String id = "a" + suffix;
    if (ForkIds.isValid(id)) {
      Path base = Path.of("/data/forks");
      assertThat(base.resolve(id).normalize().getParent()).isEqualTo(base);
    }
  }

  @Example
  void newIdsAreValidAndUniqueEvenForTheSameName() {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 10_000; i++) {
      String id = ForkIds.newId("main");
      assertThat(ForkIds.isValid(id)).isTrue();
      assertThat(id).startsWith("main-").hasSize("main-".length() + 16);
      assertThat(ids.add(id)).isTrue();
    }
    assertThat(ForkIds.isValid(ForkIds.newId("a".repeat(63)))).isTrue();
  }
}
