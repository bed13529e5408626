package dev.strata.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * The allocation-free checks of the hot paths ({@code Violations.is...}) accept exactly what the
 * documented patterns accept, so the fast path and the path that names problems never disagree.
 */
class ViolationsPropertyTest {
  @Provide
  Arbitrary<String> nearlyNames() {
    // Mostly characters the patterns care about, at the lengths where they change their answer.
    Arbitrary<Character> chars =
        Arbitraries.frequencyOf(
            Tuple.of(8, Arbitraries.chars().range('a', 'z')),
            Tuple.of(3, Arbitraries.chars().range('0', '9')),
            Tuple.of(2, Arbitraries.of('.', '_', '-')),
            Tuple.of(2, Arbitraries.chars().range('A', 'Z')),
            Tuple.of(1, Arbitraries.of('/', ' ', '\0', 'é', '\uD83D')));
    return chars.list().ofMaxSize(140).map(l -> {
      StringBuilder sb = new StringBuilder();
      l.forEach(sb::append);
      return sb.toString();
    });
  }

  @Property(tries = 5000)
  void isNameIsThePattern(@ForAll("nearlyNames") String s) {
    boolean byPattern = Violations.NAME.matcher(s).matches() && !s.contains("..");
    assertThat(Violations.isName(s)).isEqualTo(byPattern);
    assertThat(Violations.nameProblem(s, "fork") == null).isEqualTo(byPattern);
  }

  @Property(tries = 5000)
  void isFieldNameIsThePattern(@ForAll("nearlyNames") String s) {
    assertThat(Violations.isFieldName(s)).isEqualTo(Violations.FIELD.matcher(s).matches());
  }

  @Property(tries = 5000)
  void isDocumentIdIsTheIdRule(@ForAll("nearlyNames") String s, @ForAll String any) {
    for (String id : new String[] {s, any}) {
      int bytes = id.getBytes(StandardCharsets.UTF_8).length;
      boolean wellFormed = Violations.utf8Length(id) >= 0;
      boolean expected = wellFormed && bytes > 0 && bytes <= 40 && id.indexOf('\0') < 0;
      assertThat(Violations.isDocumentId(id, 40)).as(id).isEqualTo(expected);
      assertThat(Violations.idProblem(id, 40) == null).as(id).isEqualTo(expected);
      if (wellFormed) {
        assertThat(Violations.utf8Length(id)).isEqualTo(bytes);
      }
    }
  }
}
