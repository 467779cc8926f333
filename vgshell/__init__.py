"""vgshell: a command guard that parses, scores and routes every shell command."""

__version__ = "0.1.0"
