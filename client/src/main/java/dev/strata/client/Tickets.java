package dev.strata.client;

import dev.strata.api.v1.FlushTicket;

/**
 * The compact text form of a {@link FlushTicket}: {@code <fork_id>:<seq>:<lsn>}, e.g. {@code
 * main.3f9a0c21:7:18}. Fork ids never contain a colon, so the form is unambiguous; it is what
 * {@code strata flush} prints and {@code strata await} reads ({@code fork_name}, informational, is
 * not part of it). Only {@code fork_id} and {@code lsn}
 * matter to the server ({@code seq} is informational), so {@code <fork_id>:<lsn>} is accepted too.
 */
public final class Tickets {
  private Tickets() {}

  /** {@code <fork_id>:<seq>:<lsn>}. */
  public static String format(FlushTicket ticket) {
    return ticket.getForkId() + ":" + ticket.getSeq() + ":" + ticket.getLsn();
  }

  /**
   * Parses {@code <fork_id>:<seq>:<lsn>} or {@code <fork_id>:<lsn>}.
   *
   * @throws IllegalArgumentException if the text is not a ticket
   */
  public static FlushTicket parse(String text) {
    String[] parts = text == null ? new String[0] : text.trim().split(":", -1);
    if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty()) {
      throw new IllegalArgumentException(
          "not a ticket: '" + text + "' (expected <fork_id>:<seq>:<lsn>, e.g. main.3f9a0c21:7:18)");
    }
    try {
      long seq = parts.length == 3 ? Long.parseLong(parts[1]) : 0;
      long lsn = Long.parseLong(parts[parts.length - 1]);
      if (seq < 0 || lsn < 0) {
        throw new NumberFormatException("negative");
      }
      return FlushTicket.newBuilder().setForkId(parts[0]).setSeq(seq).setLsn(lsn).build();
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "not a ticket: '" + text + "' (seq and lsn must be non-negative integers)");
    }
  }
}
