"""chatopt: find and fix why AI chat backends lag."""

from chatopt.errors import ChatoptError

__version__ = "0.1.0"

__all__ = ["ChatoptError", "__version__"]
