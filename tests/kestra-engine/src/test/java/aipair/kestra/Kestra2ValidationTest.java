package aipair.kestra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.kestra.core.models.flows.FlowSource;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.validations.ValidateConstraintViolation;
import io.kestra.core.services.FlowParsingService;
import io.kestra.core.services.FlowService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Kestra 2.0.0 (profile kestra-2; compiled only there, its API differs from 1.0's): the flows rendered
 * for a 2.x Kestra load with its strict parser and pass FlowService.validate. In 2.0 the webserver splits
 * the body into FlowSource documents before calling the service; that split is not published, so the
 * body is split here on "---" lines as 1.0's service did.
 */
@Tag("validation")
class Kestra2ValidationTest {
    private static KestraEngine engine;

    @BeforeAll
    static void start() {
        engine = KestraEngine.parserOnly();
    }

    @AfterAll
    static void stop() {
        if (engine != null) engine.close();
    }

    @Test
    void everyRenderedFlowLoadsWithKestrasStrictParser() throws Exception {
        FlowParsingService parser = engine.bean(FlowParsingService.class);
        for (Path file : Engine.flowFiles()) {
            FlowWithSource flow = parser.parse(Engine.TENANT, Files.readString(file), true);
            assertEquals(file.getFileName().toString().replaceFirst("\\.ya?ml$", ""), flow.getId(), file.toString());
        }
    }

    @Test
    void renderedFlowsValidateWithNoConstraintWarningOrDeprecation() throws Exception {
        FlowService flowService = engine.bean(FlowService.class);
        Path dir = Path.of(Engine.env("AIPAIR_KESTRA_VALIDATE"));
        Map<String, List<ValidateConstraintViolation>> answers = new LinkedHashMap<>();
        List<Path> bodies;
        try (Stream<Path> files = Files.list(dir)) {
            bodies = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
        }
        for (Path body : bodies) {
            List<FlowSource> sources = Stream.of(Files.readString(body).split("\\n+---\\n*?"))
                .map(source -> new FlowSource(null, source)).toList();
            answers.put(body.getFileName().toString().replaceFirst("\\.yaml$", ""), flowService.validate(Engine.TENANT, sources));
        }
        Engine.write("validation", answers);

        assertTrue(answers.containsKey("rendered"), "no rendered.yaml in " + dir);
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
