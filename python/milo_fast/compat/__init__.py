"""Compatibility with other formats: PyMilo 1.x documents (read always, write on request)."""
from .pymilo import export_document, import_document, is_pymilo_document, supported_models  # noqa: F401

__all__ = ["import_document", "export_document", "is_pymilo_document", "supported_models"]
