import java.nio.file.Path;
import java.util.List;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.MockNode;
import org.opensearch.percolator.PercolatorPlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single-node OpenSearch for tests: `java TestNode HOME HTTP_PORT`.
 *
 * Node's constructor that takes classpath plugins is protected; the test
 * framework's MockNode exposes it. The randomized-testing runner must not be on
 * the classpath: with it present, OpenSearch asks it for a test seed.
 */
public final class TestNode {
    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "newswire-test")
            .put("node.name", "newswire-test-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", args[1])
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            // a test node on a shared disk: never go read-only because the disk is full-ish
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        MockNode node = new MockNode(settings, List.of(Netty4Plugin.class, CommonAnalysisPlugin.class, PercolatorPlugin.class));
        node.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        Thread.currentThread().join();
    }
}
