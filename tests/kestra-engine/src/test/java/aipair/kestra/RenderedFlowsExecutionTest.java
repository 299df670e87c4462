package aipair.kestra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.flows.GenericFlow;
import io.kestra.core.queues.QueueFactoryInterface;
import io.kestra.core.queues.QueueInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.runners.FlowInputOutput;
import io.kestra.core.runners.RunnerUtils;
import io.kestra.core.serializers.JacksonMapper;
import io.kestra.core.services.FlowService;
import io.kestra.core.storages.StorageInterface;
import io.kestra.core.utils.Await;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The rendered flows on Kestra's real executor, worker and scheduler (in-process, memory queues). The
 * commands inside them are the real aipair CLI, git, Docker engine and OCI registry that the Python side
 * set up. The one stand-in is the shell Commands task type (see io.kestra.plugin.scripts.shell.Commands in
 * these test sources), hence STAND_IN in every test name.
 */
@Tag("engine")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RenderedFlowsExecutionTest extends ValidateFlowScenarios {
    private static final Duration RUN = Duration.ofMinutes(4);
    private static KestraEngine engine;

    private FlowService flowService;
    private FlowRepositoryInterface flowRepository;
    private RunnerUtils runnerUtils;
    private FlowInputOutput flowIO;
    private StorageInterface storage;
    private QueueInterface<Execution> executionQueue;
    private QueueInterface<LogEntry> logQueue;

    @BeforeAll
    static void start() {
        engine = KestraEngine.withRunner();
    }

    @AfterAll
    static void stop() {
        if (engine != null) engine.close();
    }

    private final Map<String, Execution> executions = new ConcurrentHashMap<>();
    private final List<LogEntry> logs = new CopyOnWriteArrayList<>();
    private final List<Runnable> cancels = new ArrayList<>();

    @BeforeEach
    @SuppressWarnings("unchecked")
    void listen() throws Exception {
        flowService = engine.bean(FlowService.class);
        flowRepository = engine.bean(FlowRepositoryInterface.class);
        runnerUtils = engine.bean(RunnerUtils.class);
        flowIO = engine.bean(FlowInputOutput.class);
        storage = engine.bean(StorageInterface.class);
        executionQueue = engine.bean(QueueInterface.class, QueueFactoryInterface.EXECUTION_NAMED);
        logQueue = engine.bean(QueueInterface.class, QueueFactoryInterface.WORKERTASKLOG_NAMED);
        cancels.add(executionQueue.receive(null, e -> { if (e.isLeft()) executions.put(e.getLeft().getId(), e.getLeft()); }, false));
        cancels.add(logQueue.receive(null, e -> { if (e.isLeft()) logs.add(e.getLeft()); }, false));
        create(Engine.VALIDATE);
    }

    @AfterEach
    void stopListening() {
        cancels.forEach(Runnable::run);
        cancels.clear();
    }

    private FlowWithSource create(String id) throws Exception {
        String source = Files.readString(Engine.flowFile(id));
        Optional<Flow> existing = flowRepository.findById(Engine.TENANT, namespace(), id);
        if (existing.isPresent()) {
            return flowRepository.findByIdWithSource(Engine.TENANT, namespace(), id).orElseThrow();
        }
        // strict: an unknown property fails here, as it fails `aipair flows register` on a server
        return flowService.create(GenericFlow.fromYaml(Engine.TENANT, source), true);
    }

    private static String namespace() throws Exception {
        String source = Files.readString(Engine.flowFile(Engine.VALIDATE));
        return GenericFlow.fromYaml(Engine.TENANT, source).getNamespace();
    }

    @Override
    protected Execution validate(String service, String version) throws Exception {
        return runnerUtils.runOne(Engine.TENANT, namespace(), Engine.VALIDATE, null,
            (flow, execution) -> flowIO.readExecutionInputs(flow, execution, Map.of("service", service, "version", version)),
            RUN);
    }

    /** The logs of an execution, once the worker's log lines reached the queue. */
    @Override
    protected List<LogEntry> logsOf(Execution execution) throws Exception {
        Thread.sleep(500);
        return logs.stream().filter(l -> execution.getId().equals(l.getExecutionId())).toList();
    }

    @Override
    protected String read(Execution execution, Object uri) throws Exception {
        try (InputStream in = storage.get(Engine.TENANT, execution.getNamespace(), URI.create(String.valueOf(uri)))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The watch flow, rendered with an every-minute schedule, is started by the real scheduler: one
     * validation subflow per candidate, and the failing one does not stop the other.
     */
    @Test
    @Order(4)
    void STAND_IN_commands_scheduler_starts_watch_which_fans_out_one_subflow_per_candidate() throws Exception {
        Execution watch;
        try {
            watch = runnerUtils.awaitExecution(
                e -> Engine.WATCH.equals(e.getFlowId()) && e.getState().isTerminated(),
                () -> {
                    try {
                        create(Engine.WATCH);
                    } catch (Exception ex) {
                        throw new IllegalStateException(ex);
                    }
                },
                Duration.ofMinutes(6));
        } finally {
            flowRepository.findByIdWithSource(Engine.TENANT, namespace(), Engine.WATCH).ifPresent(flowRepository::delete);
        }
        List<Execution> children = new ArrayList<>();
        Await.until(() -> {
            children.clear();
            executions.values().stream()
                .filter(e -> Engine.VALIDATE.equals(e.getFlowId()) && e.getState().isTerminated() && e.getTrigger() != null
                    && watch.getId().equals(e.getTrigger().getVariables().get("executionId")))
                .forEach(children::add);
            return children.size() >= 2;
        }, Duration.ofMillis(200), Duration.ofSeconds(30));
        children.sort(java.util.Comparator.comparing(e -> String.valueOf(e.getInputs().get("service"))));
        Map<String, Object> described = Engine.describe(watch, logsOf(watch));
        List<Map<String, Object>> kids = new ArrayList<>();
        for (Execution child : children) kids.add(Engine.describe(child, logsOf(child)));
        described.put("children", kids);
        Engine.write("watch", described);

        assertNotNull(watch.getTrigger(), "the watch was not started by a trigger");
        assertEquals("io.kestra.plugin.core.trigger.Schedule", watch.getTrigger().getType());
        assertEquals("SUCCESS", watch.getState().getCurrent().name(), states(watch).toString());
        assertEquals(List.of("cache 1.1.0 SUCCESS", "web 1.2.0 FAILED"),
            children.stream().map(c -> c.getInputs().get("service") + " " + c.getInputs().get("version") + " " + c.getState().getCurrent()).toList());
        assertEquals(2, watch.getTaskRunList().stream().filter(t -> t.getTaskId().equals("validate")).count());
        assertTrue(Engine.git("branch", "--list").contains("aipair/upgrade-cache-1.1.0"));
        assertTrue(versionsNotified().contains("web 1.2.0 failed validation"));
    }
}
