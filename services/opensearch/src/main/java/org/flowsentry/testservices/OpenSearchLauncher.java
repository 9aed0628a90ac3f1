package org.flowsentry.testservices;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.cluster.metadata.Metadata;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.ExtensiblePlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Boots one OpenSearch node from jars on the classpath, without the distribution's
 * bootstrap (no security manager, no JarHell or bootstrap checks, no native calls).
 *
 * <pre>
 * java [-Dopensearch.path.home=DIR] -cp ... org.flowsentry.testservices.OpenSearchLauncher CONFIG_DIR [-E key=value]...
 * </pre>
 *
 * CONFIG_DIR holds opensearch.yml and log4j2.properties; path.home defaults to its parent.
 * SIGTERM (or SIGINT) closes the node and exits 0 once it has stopped; a failed start exits 1.
 */
public final class OpenSearchLauncher {

    /** Modules of the official distribution that are loaded from the classpath instead. */
    static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,          // transport-netty4: http.type / transport.type netty4
        CommonAnalysisPlugin.class,  // analysis-common
        PainlessPlugin.class,        // lang-painless
        MapperExtrasPlugin.class,    // mapper-extras: scaled_float, rank_feature, search_as_you_type, ...
        ReindexPlugin.class          // reindex: _reindex, _update_by_query, _delete_by_query
    );

    /** The protected constructor takes plugin classes that are already on the classpath. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
            super(environment, classpathPlugins, true);
        }
    }

    private OpenSearchLauncher() {}

    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable t) {
            t.printStackTrace();
            Throwable cause = t;
            while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
            // Last, so that the tail of the log says what went wrong.
            System.err.println("[launcher] OpenSearch failed to start: " + t + (cause == t ? "" : "; caused by " + cause));
            System.out.flush();
            System.err.flush();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length < 1) {
            throw new IllegalArgumentException("usage: OpenSearchLauncher CONFIG_DIR [-E key=value]...");
        }
        Path configDir = Paths.get(args[0]).toAbsolutePath().normalize();
        Map<String, String> overrides = parseOverrides(args);
        String home = System.getProperty("opensearch.path.home");
        Path homeDir = home != null ? Paths.get(home).toAbsolutePath() : configDir.getParent();

        LogConfigurator.registerErrorListener();
        Settings input = Settings.builder().put(Environment.PATH_HOME_SETTING.getKey(), homeDir.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            input, overrides, configDir, () -> "flowsentry-opensearch");
        Files.createDirectories(environment.logsFile());
        // As the distribution's bootstrap does: name the %node_name log pattern before configuring
        // logging (Node's constructor only does so when it makes the name up from the node id).
        if (Node.NODE_NAME_SETTING.exists(environment.settings())) {
            LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        }
        configureLogging(environment);

        // Extensions are only loaded for plugins installed as bundles, not for classpath plugins.
        // PainlessPlugin keeps its allowlists in a static map, so feeding the SPI extensions
        // (analysis-common's AnalysisPainlessExtension) through a throwaway instance is enough.
        loadPainlessExtensions();

        ClasspathNode node = new ClasspathNode(environment, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(node, stopped), "opensearch-launcher-stop"));

        node.start();
        applyDefaultReplicaCount(node, environment.settings());
        System.out.println("[launcher] OpenSearch started; plugins " + PLUGINS.stream().map(Class::getSimpleName).toList());
        System.out.flush();

        // OpenSearch's own threads are daemon threads: keep the JVM alive until stopped.
        Thread keepAlive = new Thread(() -> {
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "opensearch-launcher-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
    }

    /**
     * OpenSearch 2.19 reads {@code cluster.default_number_of_replicas} for new indices only from the
     * persistent/transient cluster settings and ignores it in opensearch.yml, so copy it there
     * (the default, 1, when opensearch.yml does not set it). The test service's readiness check
     * waits for this persistent setting, so clients never see the node before it is applied.
     */
    private static void applyDefaultReplicaCount(Node node, Settings nodeSettings) {
        Setting<Integer> setting = Metadata.DEFAULT_REPLICA_COUNT_SETTING;
        int replicas = setting.get(nodeSettings);
        node.client()
            .admin()
            .cluster()
            .prepareUpdateSettings()
            .setPersistentSettings(Settings.builder().put(setting.getKey(), replicas))
            .get(TimeValue.timeValueSeconds(30));
        System.out.println("[launcher] persistent cluster setting " + setting.getKey() + "=" + replicas);
    }

    private static Map<String, String> parseOverrides(String[] args) {
        Map<String, String> overrides = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i++) {
            String arg = args[i];
            String pair;
            if (arg.equals("-E") && i + 1 < args.length) {
                pair = args[++i];
            } else if (arg.startsWith("-E")) {
                pair = arg.substring(2);
            } else {
                throw new IllegalArgumentException("unexpected argument [" + arg + "], expected -E key=value");
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("setting [" + pair + "] must be key=value");
            overrides.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        return overrides;
    }

    private static void configureLogging(Environment environment) throws Exception {
        boolean hasConfig;
        try (Stream<Path> files = Files.list(environment.configFile())) {
            hasConfig = files.anyMatch(p -> p.getFileName().toString().matches("log4j2.*\\.properties"));
        }
        if (hasConfig) {
            LogConfigurator.configure(environment);
        } else {
            System.out.println("[launcher] no log4j2.properties in " + environment.configFile() + "; logging errors only");
            LogConfigurator.configureWithoutConfig(environment.settings());
        }
    }

    private static void loadPainlessExtensions() {
        ClassLoader loader = OpenSearchLauncher.class.getClassLoader();
        new PainlessPlugin().loadExtensions(new ExtensiblePlugin.ExtensionLoader() {
            @Override
            public <T> List<T> loadExtensions(Class<T> extensionPointType) {
                List<T> extensions = new ArrayList<>();
                ServiceLoader.load(extensionPointType, loader).forEach(extensions::add);
                return Collections.unmodifiableList(extensions);
            }
        });
    }

    private static void stop(Node node, CountDownLatch stopped) {
        int status = 0;
        try {
            System.out.println("[launcher] stopping OpenSearch");
            node.close();
            // The services manager sends SIGKILL after 20s.
            if (node.awaitClose(15, TimeUnit.SECONDS) == false) {
                System.err.println("[launcher] OpenSearch did not stop within 15s");
                status = 1;
            } else {
                System.out.println("[launcher] OpenSearch stopped");
            }
        } catch (Throwable t) {
            System.err.println("[launcher] error while stopping OpenSearch: " + t);
            t.printStackTrace();
            status = 1;
        } finally {
            stopped.countDown();
            // Log4j's own shutdown hook is disabled (-Dlog4j.shutdownHookEnabled=false) so that
            // the node can log while closing; flush and stop it last.
            Configurator.shutdown((LoggerContext) LogManager.getContext(false));
            System.out.flush();
            System.err.flush();
            // Exit with our own status instead of the JVM's 143 for a signalled exit.
            Runtime.getRuntime().halt(status);
        }
    }
}
