package aipair.kestra;

import io.kestra.core.runners.TestRunner;
import io.micronaut.context.ApplicationContext;
import io.micronaut.context.env.Environment;

/**
 * An in-process Kestra: the application context of io.kestra:tests' configuration (application.yml of
 * these test sources: memory queues and repositories, local storage) and, when asked, its TestRunner
 * with the executor, a worker, the scheduler and the indexer. This is what the {@code @KestraTest}
 * JUnit extension does (KestraTestExtension.beforeAll); it is done by hand so that the test classes
 * need no Micronaut annotation processing, which the Eclipse compiler (the fallback when only a Java
 * runtime can be obtained, see scripts/kestra-java.sh) does not run.
 */
public final class KestraEngine implements AutoCloseable {
    public final ApplicationContext context;

    private KestraEngine(boolean runner) {
        context = ApplicationContext.run(Environment.TEST);
        if (runner) {
            TestRunner testRunner = context.getBean(TestRunner.class);
            testRunner.setSchedulerEnabled(true);
            testRunner.setWorkerEnabled(true);
            testRunner.run();
        }
    }

    public static KestraEngine parserOnly() {
        return new KestraEngine(false);
    }

    public static KestraEngine withRunner() {
        return new KestraEngine(true);
    }

    public <T> T bean(Class<T> type) {
        return context.getBean(type);
    }

    public <T> T bean(Class<T> type, String name) {
        return context.getBean(type, io.micronaut.inject.qualifiers.Qualifiers.byName(name));
    }

    @Override
    public void close() {
        context.close();
    }
}
