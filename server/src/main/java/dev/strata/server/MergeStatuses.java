package dev.strata.server;

import dev.strata.api.v1.ErrorReason;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The error reasons and metadata of {@code MergeFork} and {@code WatchChanges} failures, read from
 * the engine's messages ({@code ForkMerges}, {@code fork.ForkMerge}, {@code ChangeFeed}) as {@link
 * StatusMapper} does for the other reasons. Each pattern matches exactly one engine message, so a
 * reworded message shows up in {@code MergeForkRpcTest} and {@code WatchChangesRpcTest} rather than
 * silently losing its reason. Stateless and thread-safe.
 */
final class MergeStatuses {
  private static final Pattern TARGET_MOVED =
      Pattern.compile("^merge refused: the target moved: fork '([^']*)' has head snapshot '([^']*)'");
  private static final Pattern NO_ANCESTOR = Pattern.compile("forks '([^']*)' and '([^']*)' have no retained common ancestor");
  private static final Pattern IN_PROGRESS = Pattern.compile("^fork '([^']*)' is running a merge already");
  private static final Pattern TOO_LARGE = Pattern.compile("^merge too large: its changes take about (\\d+) bytes, more than the (\\d+) bytes");
  private static final Pattern EXPIRED =
      Pattern.compile("^change feed position '([^']*)' has expired on fork '([^']*)': the oldest retained snapshot is '([^']*)'");

  private MergeStatuses() {}

  /**
   * The reason of a FAILED_PRECONDITION message, adding its metadata to {@code meta}; null if the
   * message is not a merge's or a change feed's.
   */
  static ErrorReason failedPrecondition(String msg, Map<String, String> meta) {
    Matcher m = TARGET_MOVED.matcher(msg);
    if (m.find()) {
      meta.put("fork", m.group(1));
      meta.put("head_snapshot_id", m.group(2));
      meta.remove("snapshot_id");
      return ErrorReason.MERGE_TARGET_MOVED;
    }
    m = NO_ANCESTOR.matcher(msg);
    if (m.find()) {
      meta.put("source", m.group(1));
      meta.put("target", m.group(2));
      return ErrorReason.MERGE_NO_COMMON_ANCESTOR;
    }
    m = IN_PROGRESS.matcher(msg);
    if (m.find()) {
      meta.put("fork", m.group(1));
      return ErrorReason.MERGE_IN_PROGRESS;
    }
    m = EXPIRED.matcher(msg);
    if (m.find()) {
      meta.remove("snapshot_id");
      meta.put("after_snapshot_id", m.group(1));
      meta.put("fork", m.group(2));
      meta.put("oldest_retained_snapshot_id", m.group(3));
      return ErrorReason.CHANGE_POSITION_EXPIRED;
    }
    return null;
  }

  /**
   * True if a RESOURCE_EXHAUSTED message is a merge too large for one atomic write (not
   * back-pressure: retrying does not help); adds "bytes" and "limit_bytes" to {@code meta}.
   */
  static boolean tooLarge(String msg, Map<String, String> meta) {
    Matcher m = TOO_LARGE.matcher(msg);
    if (!m.find()) {
      return false;
    }
    meta.put("bytes", m.group(1));
    meta.put("limit_bytes", m.group(2));
    return true;
  }
}
