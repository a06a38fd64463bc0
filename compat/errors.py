"""Errors that reach the user as one line, each with its exit code."""

from __future__ import annotations

from compat.exits import EXIT_BAD_INPUT, EXIT_NO_ENGINE, EXIT_UNAVAILABLE


class CompatError(Exception):
    """An expected failure: printed as one line, never as a traceback."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(CompatError):
    """matrix.yaml (or a command-line name) is not what the tool expects."""

    exit_code = EXIT_BAD_INPUT


class EngineUnavailable(CompatError):
    """No Docker engine answers."""

    exit_code = EXIT_NO_ENGINE


class ToolchainUnavailable(CompatError):
    """The toolchain image cannot be had here (a download or base image failed)."""

    exit_code = EXIT_UNAVAILABLE


class ImageBuildFailed(Exception):
    """docker build failed (e.g. apt could not install the suite's packages); the judge reads the log."""

    def __init__(self, message: str, log_text: str) -> None:
        super().__init__(message)
        self.log_text = log_text
