/**
 * The Java client of the Strata gRPC API ({@code strata.v1}), artifact {@code
 * dev.strata:strata-client}.
 *
 * <p>{@link dev.strata.client.StrataClient} wraps one {@code ManagedChannel} (grpc-netty-shaded)
 * and the stubs of the six services: it attaches {@code authorization: Bearer <token>} to every
 * call, gives every call a deadline, lets the channel retry back-pressure and unavailability
 * through gRPC's service-config retry policy ({@link dev.strata.client.RetryPolicy}), and turns a
 * {@code FlushTicket} into a {@code CompletableFuture<Snapshot>} ({@link
 * dev.strata.client.StrataClient#awaitFlush}). {@link dev.strata.client.StrataErrors} reads a
 * failed call's status and {@code google.rpc} details; {@link dev.strata.client.Tickets} is the
 * text form of a ticket.
 *
 * <p><b>Dependencies.</b> Only {@code strata-proto} (the generated API), grpc-java and protobuf
 * ({@code proto-google-common-protos} for the error details): a Java application that calls Strata
 * never pulls in RocksDB, Lucene or the server. {@code client/pom.xml} enforces it (maven-enforcer
 * {@code bannedDependencies}). The module targets Java 17. The server module and the {@code strata}
 * command line depend on it; {@code client/target/strata-client-all.jar} bundles it with its
 * dependencies for programs run without a build tool.
 */
package dev.strata.client;
