"""The training engine: the reference path, argument checks, backends, the single-model and
many-model training loops, errors, Ctrl-C handling. Imports only ``sinernn._native``.
docs/architecture.md."""
