package aipair.kestra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.serializers.JacksonMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

/**
 * The validate-candidate scenarios both Kestra versions must pass, written once: a good candidate, a bad one,
 * and an unreachable repository retried as rendered. Compiled in both profiles, so it uses only what 1.0.20
 * and 2.0.0 share; each version's test supplies how it runs an execution and reads its logs and files
 * (RenderedFlowsExecutionTest: 1.0's queues; v2.RenderedFlowsExecution2Test: 2.0's repositories).
 * The commands are the real aipair CLI, git, Docker engine and registry; the shell Commands task is the
 * stand-in, hence STAND_IN in every test name.
 */
public abstract class ValidateFlowScenarios {
    /** Run the validation flow for ``service`` at ``version`` to its end; the execution with its outputs. */
    protected abstract Execution validate(String service, String version) throws Exception;

    /** The log lines of a terminated execution. */
    protected abstract List<LogEntry> logsOf(Execution execution) throws Exception;

    /** The text of a file an execution stored (an output's URI). */
    protected abstract String read(Execution execution, Object uri) throws Exception;

    protected static Map<String, String> states(Execution execution) {
        Map<String, String> states = new LinkedHashMap<>();
        execution.getTaskRunList().forEach(t -> states.put(t.getTaskId(), t.getState().getCurrent().name()));
        return states;
    }

    protected static TaskRun run(Execution execution, String taskId) {
        return execution.getTaskRunList().stream().filter(t -> t.getTaskId().equals(taskId)).findFirst()
            .orElseThrow(() -> new AssertionError("no task run " + taskId + " in " + states(execution)));
    }

    protected static List<String> versionsNotified() throws Exception {
        return Engine.webhookCalls().stream().map(c -> c.get("service") + " " + c.get("version") + " " + c.get("result")).toList();
    }

    /** retry.maxAttempts of a top-level task of the rendered validation flow (1 without retry). */
    private static int renderedMaxAttempts(String taskId) throws Exception {
        Map<String, Object> flow = JacksonMapper.ofYaml().readValue(Files.readString(Engine.flowFile(Engine.VALIDATE)), new TypeReference<>() {});
        for (Object task : (List<?>) flow.get("tasks")) {
            Map<?, ?> t = (Map<?, ?>) task;
            if (taskId.equals(t.get("id"))) {
                return t.get("retry") instanceof Map<?, ?> retry ? ((Number) retry.get("maxAttempts")).intValue() : 1;
            }
        }
        throw new AssertionError("no task " + taskId);
    }

    @Test
    @Order(1)
    public void STAND_IN_commands_good_candidate_succeeds_with_report_and_pushed_proposal_branch() throws Exception {
        Execution execution = validate("web", "1.1.0");
        Engine.write("good", Engine.describe(execution, logsOf(execution)));

        assertEquals("SUCCESS", execution.getState().getCurrent().name(), states(execution).toString());
        assertEquals(List.of("validate", "decide", "propose"), execution.getTaskRunList().stream().map(TaskRun::getTaskId).toList());
        assertEquals("passed", execution.getOutputs().get("verdict"));
        Map<String, Object> report = JacksonMapper.ofJson().readValue(read(execution, execution.getOutputs().get("report")), new TypeReference<>() {});
        assertEquals(true, report.get("ok"), report.toString());
        assertEquals("web", report.get("service"));
        assertEquals("1.1.0", report.get("version"));
        String pinned = Engine.git("show", "aipair/upgrade-web-1.1.0:catalog.yaml");
        assertTrue(pinned.contains(report.get("image") + "@sha256:"), pinned);
        assertTrue(Engine.git("log", "-1", "--format=%s", "aipair/upgrade-web-1.1.0").contains("validated by Kestra execution " + execution.getId()));
        assertEquals(List.of(), versionsNotified());
    }

    @Test
    @Order(2)
    public void STAND_IN_commands_bad_candidate_fails_runs_the_errors_branch_and_calls_the_webhook() throws Exception {
        Execution execution = validate("web", "1.2.0");
        Engine.write("bad", Engine.describe(execution, logsOf(execution)));

        assertEquals("FAILED", execution.getState().getCurrent().name(), states(execution).toString());
        assertEquals(Map.of("validate", "SUCCESS", "decide", "FAILED", "reject", "FAILED", "log-failure", "SUCCESS", "notify-failure", "SUCCESS"),
            states(execution));
        assertEquals("failed", run(execution, "validate").getOutputs().get("vars") instanceof Map<?, ?> vars ? vars.get("verdict") : null);
        assertEquals(List.of("web 1.2.0 failed validation"), versionsNotified());
        assertFalse(Engine.git("branch", "--list").contains("aipair/upgrade-web-1.2.0"));
    }

    /**
     * The repository is unreachable: git clone exits 128, an infrastructure failure, retried as rendered.
     * The delays are recorded, not asserted here: 2.0 waits interval * 2^(attempt - 1) (30 s, 60 s) where
     * 1.0 waited 0 s then 60 s; tests/engine/test_kestra_engine.py compares the two.
     */
    @Test
    @Order(3)
    public void STAND_IN_commands_infrastructure_failure_is_retried_with_kestras_delays_then_fails() throws Exception {
        Path repository = Path.of(Engine.env("AIPAIR_KESTRA_REPOSITORY"));
        Path away = repository.resolveSibling(repository.getFileName() + ".unreachable");
        Files.move(repository, away);
        Execution execution;
        try {
            execution = validate("web", "1.1.0");
        } finally {
            Files.move(away, repository);
        }
        Map<String, Object> described = Engine.describe(execution, logsOf(execution));
        TaskRun validate = run(execution, "validate");
        described.put("retryDelaysSeconds", Engine.retryDelays(validate));
        Engine.write("retry", described);

        assertEquals("FAILED", execution.getState().getCurrent().name(), states(execution).toString());
        assertEquals("FAILED", validate.getState().getCurrent().name());
        assertEquals(renderedMaxAttempts("validate"), validate.getAttempts().size(), "attempts: " + validate.getAttempts());
        assertTrue(validate.getAttempts().stream().allMatch(a -> a.getState().getCurrent().name().equals("FAILED")));
        assertEquals("SUCCESS", states(execution).get("notify-failure"), states(execution).toString());
        assertEquals(List.of("web 1.2.0 failed validation", "web 1.1.0 failed validation"), versionsNotified());
    }
}
