"""milo_fast: save scikit-learn models as transparent, non-executable JSON, load them back bit-identically."""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: F401
    DecodeError, EncodeError, ExportError, LoadError, MiloError, SignatureError, UntrustedTypeError,
    ValidationError,
)
from . import codec  # noqa: F401,E402
from .api import Export, Import, dump, dumps, get_untrusted_types, load, loads  # noqa: F401,E402
from .document import VersionWarning  # noqa: F401,E402
