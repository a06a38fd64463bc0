"""Pure analysis over captured text: failure causes, test results, toolchain facts."""
