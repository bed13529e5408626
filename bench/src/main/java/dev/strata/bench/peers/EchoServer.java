package dev.strata.bench.peers;

import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.net.InetSocketAddress;

/**
 * The ceiling of our gRPC stack on this machine (issue #13, workload 7): a bare grpc-java server
 * with the same version and transport as Strata's (grpc-netty-shaded), {@code directExecutor()},
 * no interceptor, serving only the standard health service. Its {@code Check} is the cheapest call
 * grpc-java can answer; Strata's own health check runs the same code behind Strata's interceptors.
 *
 * <p>Main class of a child JVM ({@link StrataServerProcess#startEcho}): prints {@code echo: serving
 * on 127.0.0.1:PORT } once it listens, then serves until the process is stopped.
 */
public final class EchoServer {
  private EchoServer() {}

  /** Listens on a loopback port picked by the OS and serves until killed. */
  public static void main(String[] args) throws Exception {
    HealthStatusManager health = new HealthStatusManager();
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
            .directExecutor()
            .addService(health.getHealthService())
            .build()
            .start();
    System.out.println("echo: serving on 127.0.0.1:" + server.getPort() + " ");
    System.out.flush();
    server.awaitTermination();
  }
}
