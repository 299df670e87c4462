package io.kestra.plugin.scripts.shell;

import io.kestra.core.exceptions.IllegalVariableEvaluationException;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.DockerOptions;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import jakarta.validation.constraints.NotNull;
import java.util.List;

/**
 * STAND-IN for the shell {@code Commands} task of Kestra's plugin-scripts repository, whose artifacts
 * Maven Central does not serve. It has exactly that type name and the same two properties
 * ({@code containerImage}, {@code commands}); everything else (env, outputFiles, retries, timeout, the
 * Process task runner, the {@code ::{"outputs":...}::} protocol, failFast's {@code set -e}, stderr
 * logging) is io.kestra:script's own {@link AbstractExecScript} and its commands wrapper, the same base
 * classes the real task extends. Its {@code run} is the real task's {@code run}, line for line
 * (plugin-scripts, plugin-script-shell/.../shell/Commands.java), without Lombok and documentation.
 * Every test that runs it says STAND-IN in its name.
 */
public class Commands extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    private static final String DEFAULT_IMAGE = "ubuntu";

    protected Property<String> containerImage = Property.ofValue(DEFAULT_IMAGE);

    @NotNull
    protected Property<List<String>> commands;

    public Commands() {
        super();
    }

    @Override
    public Property<String> getContainerImage() {
        return containerImage;
    }

    public Property<List<String>> getCommands() {
        return commands;
    }

    @Override
    protected DockerOptions injectDefaults(RunContext runContext, DockerOptions original)
        throws IllegalVariableEvaluationException {
        var builder = original.toBuilder();
        if (original.getImage() == null) {
            builder.image(runContext.render(this.getContainerImage()).as(String.class).orElse(null));
        }
        return builder.build();
    }

    @Override
    public ScriptOutput run(RunContext runContext) throws Exception {
        TargetOS os = runContext.render(this.targetOS).as(TargetOS.class).orElse(null);

        return this.commands(runContext)
            .withInterpreter(this.interpreter)
            .withBeforeCommands(beforeCommands)
            .withBeforeCommandsWithOptions(true)
            .withCommands(commands)
            .withTargetOS(os)
            .run();
    }
}
