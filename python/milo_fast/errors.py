"""The exception hierarchy. Every error milo_fast raises is a MiloError; errors on load are also ValueErrors."""
from __future__ import annotations


class MiloError(Exception):
    """Root of every error raised by milo_fast."""


class EncodeError(MiloError, TypeError):
    """A value cannot be written (unsupported type, non-str dict key, ...). Names the JSON path."""


class ExportError(EncodeError):
    """A model holds something that cannot be represented safely (a lambda, a user-defined class...)."""


class LoadError(MiloError, ValueError):
    """Base class of every error raised while loading."""


class DecodeError(LoadError):
    """Malformed document: the message gives the byte offset and the JSON path."""

    def __init__(self, message: str, *, offset: int | None = None, path: str | None = None):
        super().__init__(message)
        self.offset = offset
        self.path = path


class UntrustedTypeError(LoadError):
    """The document names types or functions outside the allow-list."""

    def __init__(self, message: str, *, names=()):
        super().__init__(message)
        self.names = list(names)


class ValidationError(LoadError):
    """The document is well-formed but its content is inconsistent (e.g. a corrupt tree node table)."""


class SignatureError(LoadError):
    """A signature is missing, malformed or does not match."""


class DeferredArrayEscaped(MiloError):
    """Internal, never raised to callers: a placeholder of a deferred decode was still referenced after the build
    (a document whose arrays sit where no node's fill reaches them, such as an array as the whole model); load
    and loads then redo the load from the whole decode."""


__all__ = [
    "MiloError", "EncodeError", "ExportError", "LoadError", "DecodeError",
    "UntrustedTypeError", "ValidationError", "SignatureError",
]
