"""The native binding: how the C++/CUDA extension is built (``build``), loaded (``loader``), and
reached (``ops``: the one way in, with the op wrappers), and the Python registrations of its ops
(``fakes``, ``autograd``). Imports nothing from the rest of the package. docs/architecture.md."""
