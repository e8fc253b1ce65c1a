"""edgesdk: human-motion models for wearables, from research to phones, watches and glasses."""

from edgesdk.errors import EdgeSDKError

__version__ = "0.1.0"
__all__ = ["EdgeSDKError", "__version__"]
