"""Compatibility with other formats: PyMilo 1.x documents (read always, write on request)."""
from .pymilo import (  # noqa: F401
    export_document, import_document, is_pymilo_document, supported_models, untrusted_names,
)

__all__ = ["import_document", "export_document", "untrusted_names", "is_pymilo_document", "supported_models"]
