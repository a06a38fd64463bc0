"""One module per command (or close group of commands), each a short list of named stages; cli.py parses
the arguments and dispatches here, and every command's exit code comes from compat.exits."""
