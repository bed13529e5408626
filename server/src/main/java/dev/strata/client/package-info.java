/**
 * The Java client of the Strata gRPC API ({@code strata.v1}).
 *
 * <p>{@link dev.strata.client.StrataClient} wraps a {@code ManagedChannel} (grpc-netty-shaded)
 * and the stubs of the six services: it attaches {@code authorization: Bearer <token>} to every
 * call, gives every call a deadline, retries back-pressure ({@code RESOURCE_EXHAUSTED} with a
 * {@code google.rpc.RetryInfo}) with bounded exponential back-off ({@link
 * dev.strata.client.RetryPolicy}), and turns a {@code FlushTicket} into a {@code
 * CompletableFuture<Snapshot>} ({@link dev.strata.client.StrataClient#awaitFlush}).
 *
 * <p><b>Where it lives.</b> The client is a package of the {@code server} module
 * ({@code dev.strata:strata-server}) rather than a {@code client/} module of its own. The command
 * line ({@code dev.strata.cli}) is its main user and ships in the same self-contained jar as the
 * server ({@code server/target/strata.jar}, run by {@code bin/strata}), so one artifact carries
 * server, client and CLI, and end-to-end tests exercise all three in one module. The package
 * depends only on the generated API ({@code dev.strata.api.v1}), grpc-java and
 * {@code proto-google-common-protos} — never on {@code dev.strata.server} or the engine — so it can
 * be moved into its own {@code strata-client} artifact without code changes when a consumer needs
 * the client without the server's dependencies (RocksDB, Lucene).
 */
package dev.strata.client;
