package dev.strata.server;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;

/**
 * Page tokens of the {@code List*} RPCs: opaque to clients, they carry the last key of the
 * previous page and a checksum of the request's other parameters (the "scope"), so a token reused
 * with other parameters, or made up, is INVALID_ARGUMENT. Stateless and thread-safe.
 */
final class PageTokens {
  private static final String VERSION = "p1";

  private PageTokens() {}

  /** The token that continues after {@code lastKey} in {@code scope}. */
  static String encode(String scope, String lastKey) {
    String s = VERSION + "\n" + crc(scope) + "\n" + lastKey;
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The last key a token continues after; "" for an empty token (the first page).
   *
   * @throws ApiError INVALID_ARGUMENT naming {@code field} if the token is malformed or of another
   *     scope
   */
  static String decode(String token, String scope, String field) {
    if (token.isEmpty()) {
      return "";
    }
    String s;
    try {
      s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiError.invalid(field, "page_token is not a token returned by this RPC");
    }
    String[] parts = s.split("\n", 3);
    if (parts.length != 3 || !parts[0].equals(VERSION) || parts[2].isEmpty()) {
      throw ApiError.invalid(field, "page_token is not a token returned by this RPC");
    }
    if (!parts[1].equals(crc(scope))) {
      throw ApiError.invalid(field, "page_token belongs to a call with other parameters");
    }
    return parts[2];
  }

  private static String crc(String scope) {
    CRC32 c = new CRC32();
    c.update(scope.getBytes(StandardCharsets.UTF_8));
    return Long.toHexString(c.getValue());
  }
}
