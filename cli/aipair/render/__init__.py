"""Pure renderers: the validated catalog in, documents and file texts out. No I/O, no clock, no randomness."""
