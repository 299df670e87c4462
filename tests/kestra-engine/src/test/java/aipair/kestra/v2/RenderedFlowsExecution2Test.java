package aipair.kestra.v2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import aipair.kestra.Engine;
import aipair.kestra.KestraEngine;
import aipair.kestra.ValidateFlowScenarios;
import com.fasterxml.jackson.core.type.TypeReference;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.flows.GenericFlow;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.repositories.LogDataStoreInterface;
import io.kestra.core.runners.FlowInputOutput;
import io.kestra.core.runners.TestRunnerUtils;
import io.kestra.core.serializers.JacksonMapper;
import io.kestra.core.services.ExecutionOutputService;
import io.kestra.core.services.FlowService;
import io.kestra.core.services.TaskOutputService;
import io.kestra.core.storages.StorageInterface;
import io.kestra.core.utils.Await;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.slf4j.event.Level;

/**
 * Kestra 2.0.0 (profile kestra-2; compiled only there): the flows rendered for a 2.x Kestra on its real
 * executor, worker, worker controller and scheduler, in-process. 2.0 has no memory queue any more: with
 * {@code kestra.queue.type/repository.type: memory} io.kestra:repository-memory points the JDBC queue and
 * repositories at an in-memory H2 database, so executions and logs are read from the repositories (the
 * 1.0 test listens to the queues, whose API changed). The commands are the real aipair CLI, git, Docker
 * engine and registry, as in the 1.0 test; the one stand-in is the shell Commands task type (STAND_IN).
 */
@Tag("engine")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RenderedFlowsExecution2Test extends ValidateFlowScenarios {
    private static final Duration RUN = Duration.ofMinutes(4);
    private static KestraEngine engine;

    @BeforeAll
    static void start() throws Exception {
        engine = KestraEngine.withRunner();
        create(Engine.VALIDATE);
    }

    @AfterAll
    static void stop() {
        if (engine != null) engine.close();
    }

    private static void create(String id) throws Exception {
        String source = Files.readString(Engine.flowFile(id));
        if (engine.bean(FlowRepositoryInterface.class).findById(Engine.TENANT, namespace(), id).isEmpty()) {
            // validates strictly (unknown properties fail), as `aipair flows register` on a server
            engine.bean(FlowService.class).create(GenericFlow.fromYaml(Engine.TENANT, source));
        }
    }

    private static String namespace() throws Exception {
        return GenericFlow.fromYaml(Engine.TENANT, Files.readString(Engine.flowFile(Engine.VALIDATE))).getNamespace();
    }

    @Override
    protected Execution validate(String service, String version) throws Exception {
        FlowInputOutput flowIO = engine.bean(FlowInputOutput.class);
        return withOutputs(engine.bean(TestRunnerUtils.class).runOne(Engine.TENANT, namespace(), Engine.VALIDATE, null,
            (flow, execution) -> flowIO.readExecutionInputs(flow, execution, Map.of("service", service, "version", version)),
            RUN));
    }

    /**
     * 2.0 keeps the outputs of executions and task runs apart (ExecutionOutputService, TaskOutputService,
     * their own repositories): the execution with them put back, as 1.0 returns it.
     */
    private static Execution withOutputs(Execution execution) throws Exception {
        TaskOutputService taskOutputs = engine.bean(TaskOutputService.class);
        List<TaskRun> runs = new ArrayList<>();
        for (TaskRun run : execution.getTaskRunList()) {
            Map<String, Object> outputs = taskOutputs.getOutputs(run);
            runs.add(outputs == null || outputs.isEmpty() ? run : run.toBuilder().outputs(outputs).build());
        }
        Map<String, Object> outputs = engine.bean(ExecutionOutputService.class).getOutputs(execution);
        return execution.toBuilder().taskRunList(runs).outputs(outputs == null || outputs.isEmpty() ? execution.getOutputs() : outputs).build();
    }

    /** The logs of a terminated execution, once the indexer stored them. */
    @Override
    protected List<LogEntry> logsOf(Execution execution) throws Exception {
        LogDataStoreInterface store = engine.bean(LogDataStoreInterface.class);
        List<LogEntry> found = new ArrayList<>();
        try {
            Await.until(() -> {
                found.clear();
                found.addAll(store.findByExecutionIdWithoutAcl(Engine.TENANT, execution.getId(), Level.TRACE));
                return !found.isEmpty();
            }, Duration.ofMillis(200), Duration.ofSeconds(10));
        } catch (java.util.concurrent.TimeoutException e) {
            // none: describe() records an empty list, the assertions say what was expected
        }
        return found;
    }

    @Override
    protected String read(Execution execution, Object uri) throws Exception {
        try (InputStream in = engine.bean(StorageInterface.class).get(Engine.TENANT, execution.getNamespace(), URI.create(String.valueOf(uri)))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The watch flow (Loop over the candidates from 2.0), rendered with an every-minute schedule, started
     * by the real scheduler: one validation subflow per candidate, the failing one does not stop the other.
     */
    @Test
    @Order(4)
    void STAND_IN_commands_scheduler_starts_watch_which_loops_one_subflow_per_candidate() throws Exception {
        FlowRepositoryInterface flows = engine.bean(FlowRepositoryInterface.class);
        ExecutionRepositoryInterface executions = engine.bean(ExecutionRepositoryInterface.class);
        Execution found;
        try {
            create(Engine.WATCH);
            found = engine.bean(TestRunnerUtils.class).awaitFlowExecution(
                // not a Loop iteration: each one is an execution of the watch flow too, of kind LOOP
                e -> e.getState().isTerminated() && e.getKind() != io.kestra.core.models.executions.ExecutionKind.LOOP, Engine.TENANT, namespace(), Engine.WATCH, Duration.ofMinutes(6));
            found = withOutputs(found);
        } finally {
            flows.findByIdWithSource(Engine.TENANT, namespace(), Engine.WATCH, java.util.Optional.empty())
                .ifPresent(f -> engine.bean(FlowService.class).delete(f));
        }
        Execution watch = found;
        // 2.0's Loop runs each iteration as its own execution (kind LOOP): a Subflow started in an iteration
        // names that iteration in trigger.variables.executionId, and the Loop's task run of the watch in
        // trigger.variables.loopTaskRunId.
        List<Execution> children = new ArrayList<>();
        String ns = namespace();
        java.util.Set<String> watchRuns = new java.util.HashSet<>();
        watch.getTaskRunList().forEach(t -> watchRuns.add(t.getId()));
        try {
          Await.until(() -> {
            children.clear();
            executions.findByFlowId(Engine.TENANT, ns, Engine.VALIDATE, io.micronaut.data.model.Pageable.UNPAGED).stream()
                .filter(e -> e.getState().isTerminated() && e.getTrigger() != null && e.getTrigger().getVariables() != null
                    && (watch.getId().equals(e.getTrigger().getVariables().get("executionId"))
                        || watchRuns.contains(String.valueOf(e.getTrigger().getVariables().get("loopTaskRunId")))))
                .forEach(children::add);
            return children.size() >= 2;
          }, Duration.ofMillis(200), Duration.ofSeconds(30));
        } catch (java.util.concurrent.TimeoutException e) {
            // recorded below (every validation's trigger), asserted at the end
        }
        for (int i = 0; i < children.size(); i++) children.set(i, withOutputs(children.get(i)));
        children.sort(Comparator.comparing(e -> String.valueOf(e.getInputs().get("service"))));
        Map<String, Object> described = Engine.describe(watch, logsOf(watch));
        List<Map<String, Object>> kids = new ArrayList<>();
        for (Execution child : children) kids.add(Engine.describe(child, logsOf(child)));
        described.put("children", kids);
        described.put("childTriggers", children.stream().map(c -> c.getTrigger().getVariables()).toList());
        described.put("everyValidationTrigger", executions.findByFlowId(Engine.TENANT, ns, Engine.VALIDATE, io.micronaut.data.model.Pageable.UNPAGED)
            .stream().map(e -> e.getTrigger() == null ? Map.of() : e.getTrigger().getVariables()).toList());
        Engine.write("watch", described);

        assertNotNull(watch.getTrigger(), "the watch was not started by a trigger");
        assertEquals("io.kestra.plugin.core.trigger.Schedule", watch.getTrigger().getType());
        assertEquals("SUCCESS", watch.getState().getCurrent().name(), states(watch).toString());
        assertEquals(List.of("cache 1.1.0 SUCCESS", "web 1.2.0 FAILED"),
            children.stream().map(c -> c.getInputs().get("service") + " " + c.getInputs().get("version") + " " + c.getState().getCurrent()).toList());
        assertTrue(Engine.git("branch", "--list").contains("aipair/upgrade-cache-1.1.0"));
        assertTrue(versionsNotified().contains("web 1.2.0 failed validation"));
    }
}
