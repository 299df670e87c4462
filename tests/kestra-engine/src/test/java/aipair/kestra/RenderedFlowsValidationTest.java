package aipair.kestra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.validations.ModelValidator;
import io.kestra.core.models.validations.ValidateConstraintViolation;
import io.kestra.core.services.FlowService;
import io.kestra.core.services.PluginDefaultService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Kestra's own parser and validation on the flows aipair renders: FlowService.validate is what the
 * webserver's POST /flows/validate calls (FlowController), so its answer is the REST answer's content.
 * Runs on every Kestra version of the pom's profiles (1.0.x and 2.0.0).
 */
@Tag("validation")
class RenderedFlowsValidationTest {
    private static KestraEngine engine;
    private FlowService flowService;
    private PluginDefaultService pluginDefaultService;
    private ModelValidator modelValidator;

    @BeforeAll
    static void start() {
        engine = KestraEngine.parserOnly();
    }

    @AfterAll
    static void stop() {
        if (engine != null) engine.close();
    }

    @BeforeEach
    void beans() {
        flowService = engine.bean(FlowService.class);
        pluginDefaultService = engine.bean(PluginDefaultService.class);
        modelValidator = engine.bean(ModelValidator.class);
    }

    /** Each rendered flow parses strictly (unknown properties refused) and passes the model's constraints. */
    @Test
    void everyRenderedFlowLoadsWithKestrasStrictParser() throws Exception {
        for (Path file : Engine.flowFiles()) {
            String source = Files.readString(file);
            FlowWithSource flow = pluginDefaultService.parseFlowWithVersionDefaults(Engine.TENANT, source, true);
            modelValidator.validate(pluginDefaultService.injectAllDefaults(flow, false));
            assertEquals(file.getFileName().toString().replaceFirst("\\.ya?ml$", ""), flow.getId(), file.toString());
        }
    }

    /**
     * The bodies the Python side wrote to AIPAIR_KESTRA_VALIDATE (what aipair's client would POST), each
     * validated as the REST endpoint does; the answers go to validation.json. Every body but the probes
     * ("probe-*.yaml", whose answers are only recorded for the comparison with the imitation) must have
     * no constraint, warning, deprecation, relocation or outdated revision: "rendered.yaml" (the flows
     * rendered for the test) at least, "committed.yaml" (kestra-flows/ as committed) when present.
     */
    @Test
    void renderedFlowsValidateWithNoConstraintWarningOrDeprecation() throws Exception {
        Path dir = Path.of(Engine.env("AIPAIR_KESTRA_VALIDATE"));
        Map<String, List<ValidateConstraintViolation>> answers = new LinkedHashMap<>();
        List<Path> bodies;
        try (Stream<Path> files = Files.list(dir)) {
            bodies = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        for (Path body : bodies) {
            answers.put(body.getFileName().toString().replaceFirst("\\.yaml$", ""),
                flowService.validate(Engine.TENANT, Files.readString(body)));
        }
        Engine.write("validation", answers);

        assertTrue(answers.containsKey("rendered"), "no rendered.yaml in " + dir);
        assertEquals(Engine.flowFiles().size(), answers.get("rendered").size());
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, List<ValidateConstraintViolation>> body : answers.entrySet()) {
            if (body.getKey().startsWith("probe-")) continue;
            for (ValidateConstraintViolation answer : body.getValue()) {
                String who = body.getKey() + ": " + answer.getNamespace() + "." + answer.getFlow() + " (index " + answer.getIndex() + ")";
                if (answer.getFlow() == null) problems.add(who + " not parsed");
                if (answer.getConstraints() != null) problems.add(who + " constraints: " + answer.getConstraints());
                if (answer.getWarnings() != null && !answer.getWarnings().isEmpty()) problems.add(who + " warnings: " + answer.getWarnings());
                if (answer.getDeprecationPaths() != null && !answer.getDeprecationPaths().isEmpty()) problems.add(who + " deprecated: " + answer.getDeprecationPaths());
                if (answer.getInfos() != null && !answer.getInfos().isEmpty()) problems.add(who + " infos: " + answer.getInfos());
                if (answer.isOutdated()) problems.add(who + " outdated");
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }
}
