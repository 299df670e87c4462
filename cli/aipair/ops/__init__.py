"""Use cases: one function per thing a user asks of aipair. A validated catalog and options in, a
typed result (aipair.results.Result) out. No printing, no Typer, no exit: questions and progress
reach the user through the callbacks the caller passes (ops.callbacks)."""
