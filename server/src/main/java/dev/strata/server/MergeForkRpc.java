package dev.strata.server;

import dev.strata.api.v1.ConflictKind;
import dev.strata.api.v1.MergeConflict;
import dev.strata.api.v1.MergeForkRequest;
import dev.strata.api.v1.MergeForkResponse;
import dev.strata.api.v1.MergeOutcome;
import dev.strata.engine.MergeSpec;
import dev.strata.engine.fork.MergeResult;
import dev.strata.engine.fork.MergeStrategy;

/**
 * {@code ForkService.MergeFork}: validates the request, turns a conflict page token into the key
 * the engine lists after, runs the merge ({@code StrataEngine.mergeFork}) and builds the response.
 * Page tokens carry the last conflict listed, scoped to source, target and strategy. Stateless.
 */
final class MergeForkRpc {
  /** Bound on the source's flush (flush_source) when the call has no deadline, ms. */
  static final long DEFAULT_FLUSH_SOURCE_MS = 120_000;

  private MergeForkRpc() {}

  /** Handles one call on the RPC thread. Errors as the RPC's comment in fork.proto says. */
  static MergeForkResponse merge(ServerContext ctx, MergeForkRequest req) {
    Violations v = new Violations();
    String source = v.name("source", req.getSource(), "fork");
    String target = req.getTarget().isEmpty() ? "" : v.name("target", req.getTarget(), "fork");
    if (!target.isEmpty() && target.equals(source)) {
      v.add("target", "a fork cannot be merged into itself");
    }
    MergeStrategy strategy =
        switch (req.getStrategy()) {
          case MERGE_STRATEGY_UNSPECIFIED, MERGE_STRATEGY_FAIL -> MergeStrategy.FAIL;
          case MERGE_STRATEGY_SOURCE_WINS -> MergeStrategy.SOURCE_WINS;
          case MERGE_STRATEGY_TARGET_WINS -> MergeStrategy.TARGET_WINS;
          default -> {
            v.add("strategy", "unknown strategy " + req.getStrategyValue());
            yield MergeStrategy.FAIL;
          }
        };
    v.optionalSnapshotId("expected_target_head", req.getExpectedTargetHead());
    int pageSize = v.pageSize("conflict_page_size", req.getConflictPageSize());
    if (!req.getConflictPageToken().isEmpty() && !req.getDryRun()) {
      v.add("conflict_page_token", "a conflict page token needs dry_run (a paging call never merges)");
    }
    v.throwIfAny();
    String scope = "merge|" + source + "|" + target + "|" + strategy;
    String after = PageTokens.decode(req.getConflictPageToken(), scope, "conflict_page_token");
    int nul = after.indexOf('\0');
    String afterCollection = nul < 0 ? after : after.substring(0, nul);
    String afterId = nul < 0 ? "" : after.substring(nul + 1);
    long timeoutMs = Deadlines.remainingMs(DEFAULT_FLUSH_SOURCE_MS);
    MergeResult r =
        ctx.engine()
            .mergeFork(
                new MergeSpec(
                    source, target, strategy, req.getExpectedTargetHead(), req.getDryRun(), req.getFlushSource(), timeoutMs,
                    afterCollection, afterId, pageSize));
    MergeForkResponse.Builder out =
        MergeForkResponse.newBuilder()
            .setOutcome(outcome(r.outcome()))
            .setDryRun(r.dryRun())
            .setBaseSnapshotId(r.baseSnapshotId())
            .setSourceSnapshotId(r.sourceSnapshotId())
            .setTargetHeadSnapshotId(r.targetHeadSnapshotId())
            .setDocumentsPut(r.documentsPut())
            .setDocumentsDeleted(r.documentsDeleted())
            .setCollectionsCreated(r.collectionsCreated())
            .setConflictCount(r.conflictCount())
            .setMergeLsn(r.mergeLsn());
    if (r.ticket() != null) {
      out.setTicket(ApiConversions.ticket(r.ticket()));
    }
    for (MergeResult.Conflict c : r.conflicts()) {
      out.addConflicts(
          MergeConflict.newBuilder()
              .setKind(c.kind() == MergeResult.Conflict.Kind.SCHEMA ? ConflictKind.CONFLICT_KIND_SCHEMA : ConflictKind.CONFLICT_KIND_DOCUMENT)
              .setCollection(c.collection())
              .setId(c.id())
              .setSourceLsn(c.sourceLsn())
              .setTargetLsn(c.targetLsn())
              .setSourceDeleted(c.sourceDeleted())
              .setTargetDeleted(c.targetDeleted())
              .setDetail(c.detail()));
    }
    if (r.moreConflicts() && !r.conflicts().isEmpty()) {
      MergeResult.Conflict last = r.conflicts().get(r.conflicts().size() - 1);
      out.setNextConflictPageToken(PageTokens.encode(scope, last.collection() + "\0" + last.id()));
    }
    return out.build();
  }

  private static MergeOutcome outcome(MergeResult.Outcome o) {
    return switch (o) {
      case FAST_FORWARD -> MergeOutcome.MERGE_OUTCOME_FAST_FORWARD;
      case THREE_WAY -> MergeOutcome.MERGE_OUTCOME_THREE_WAY;
      case UP_TO_DATE -> MergeOutcome.MERGE_OUTCOME_UP_TO_DATE;
      case CONFLICTS -> MergeOutcome.MERGE_OUTCOME_CONFLICTS;
    };
  }
}
