package aipair.kestra;

import com.fasterxml.jackson.core.type.TypeReference;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.executions.TaskRunAttempt;
import io.kestra.core.serializers.JacksonMapper;
import io.kestra.core.tenant.TenantService;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What the Python side (tests/engine/test_kestra_engine.py) hands to the engine through the environment,
 * and what the engine hands back: one JSON file per observation in AIPAIR_KESTRA_OUT.
 */
public final class Engine {
    public static final String TENANT = TenantService.MAIN_TENANT;
    public static final String VALIDATE = "validate-candidate";
    public static final String WATCH = "watch-versions";

    private Engine() {}

    public static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException(
                name + " is not set: run this module through tests/engine/test_kestra_engine.py (scripts/kestra-engine.sh)");
        }
        return value;
    }

    /** The rendered flows (aipair flows render --runner process), in registration order. */
    public static List<Path> flowFiles() throws IOException {
        Path dir = Path.of(env("AIPAIR_KESTRA_FLOWS"));
        try (Stream<Path> files = Files.list(dir)) {
            List<Path> found = files.filter(p -> p.toString().endsWith(".yml") || p.toString().endsWith(".yaml"))
                .sorted(Comparator.comparing((Path p) -> p.getFileName().toString().startsWith(VALIDATE) ? 0 : 1)
                    .thenComparing(Path::toString))
                .toList();
            if (found.isEmpty()) {
                throw new IllegalStateException("no flow in " + dir);
            }
            return found;
        }
    }

    public static Path flowFile(String id) throws IOException {
        return flowFiles().stream().filter(p -> p.getFileName().toString().startsWith(id + "."))
            .findFirst().orElseThrow(() -> new IllegalStateException("no rendered flow " + id));
    }

    public static void write(String name, Object value) throws IOException {
        Path out = Path.of(env("AIPAIR_KESTRA_OUT"));
        Files.createDirectories(out);
        Path tmp = out.resolve(name + ".json.tmp");
        Files.writeString(tmp, JacksonMapper.ofJson().writerWithDefaultPrettyPrinter().writeValueAsString(value));
        Files.move(tmp, out.resolve(name + ".json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    /** An execution as the engine left it: states, attempts with their dates, outputs, logs with levels. */
    public static Map<String, Object> describe(Execution execution, List<LogEntry> logs) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", execution.getId());
        out.put("flowId", execution.getFlowId());
        out.put("state", execution.getState().getCurrent().name());
        out.put("inputs", execution.getInputs());
        out.put("outputs", execution.getOutputs());
        if (execution.getTrigger() != null) {
            Map<String, Object> trigger = new LinkedHashMap<>();
            trigger.put("id", execution.getTrigger().getId());
            trigger.put("type", execution.getTrigger().getType());
            trigger.put("variables", execution.getTrigger().getVariables());
            out.put("trigger", trigger);
        }
        List<Map<String, Object>> runs = new ArrayList<>();
        for (TaskRun run : execution.getTaskRunList() == null ? List.<TaskRun>of() : execution.getTaskRunList()) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("taskId", run.getTaskId());
            r.put("id", run.getId());
            r.put("parentTaskRunId", run.getParentTaskRunId());
            r.put("value", run.getValue());
            r.put("state", run.getState().getCurrent().name());
            List<Map<String, Object>> attempts = new ArrayList<>();
            for (TaskRunAttempt attempt : run.getAttempts() == null ? List.<TaskRunAttempt>of() : run.getAttempts()) {
                Map<String, Object> a = new LinkedHashMap<>();
                a.put("state", attempt.getState().getCurrent().name());
                a.put("startDate", String.valueOf(attempt.getState().getStartDate()));
                a.put("endDate", String.valueOf(attempt.getState().getEndDate().orElse(null)));
                attempts.add(a);
            }
            r.put("attempts", attempts);
            r.put("histories", run.getState().getHistories().stream()
                .map(h -> Map.of("state", h.getState().name(), "date", String.valueOf(h.getDate()))).toList());
            r.put("outputs", run.getOutputs());
            runs.add(r);
        }
        out.put("taskRuns", runs);
        out.put("logs", logs.stream().filter(l -> execution.getId().equals(l.getExecutionId())).map(l -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("taskId", l.getTaskId());
            m.put("level", l.getLevel().name());
            m.put("message", l.getMessage());
            return m;
        }).toList());
        return out;
    }

    /** Seconds between the start of each attempt and the end of the one before: Kestra's real retry delays. */
    public static List<Double> retryDelays(TaskRun run) {
        List<Double> delays = new ArrayList<>();
        List<TaskRunAttempt> attempts = run.getAttempts();
        for (int i = 1; i < attempts.size(); i++) {
            Instant end = attempts.get(i - 1).getState().getEndDate().orElseThrow();
            Instant start = attempts.get(i).getState().getStartDate();
            delays.add(Duration.between(end, start).toMillis() / 1000.0);
        }
        return delays;
    }

    /** The calls the webhook receiver of the Python side got so far (it answers GET with them). */
    public static List<Map<String, Object>> webhookCalls() throws IOException, InterruptedException {
        String url = new String(Base64.getDecoder().decode(env("SECRET_AIPAIR_NOTIFY_WEBHOOK")), StandardCharsets.UTF_8);
        HttpResponse<String> response = HttpClient.newHttpClient().send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).GET().build(),
            HttpResponse.BodyHandlers.ofString());
        return JacksonMapper.ofJson().readValue(response.body(), new TypeReference<>() {});
    }

    /** git's answer in the bare repository the flows clone and push to. */
    public static String git(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("git", "-C", env("AIPAIR_KESTRA_REPOSITORY")));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + ": " + output);
        }
        return output;
    }
}
