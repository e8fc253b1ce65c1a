"""One exception type for bad input, so the CLI can print it as a single line."""

from __future__ import annotations


class EdgeSDKError(Exception):
    """Bad input or an unusable environment: the message names the file or value and the problem.

    The CLI prints ``edgesdk: error: <message>`` and exits with code 2, without a traceback.

    Example:
        >>> raise EdgeSDKError("walk.bvh: truncated MOTION block (120 frames, 80 read)")
        Traceback (most recent call last):
        ...
        edgesdk.errors.EdgeSDKError: walk.bvh: truncated MOTION block (120 frames, 80 read)
    """
