"""The service's limits, in one place (:class:`Limits`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["Limits"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one request may send, and how much work the service takes on at once.

    Every limit answers with a 4xx error that names it (413 for sizes, 422 for counts and
    lengths); past ``max_pending`` the service answers 503 with ``Retry-After``.

    Parameters
    ----------
    max_upload_bytes : int, default=10 MiB
        Largest image, and largest raw request body of ``POST /v1/predict``.
    max_request_bytes : int, default=32 MiB
        Largest multipart request of ``POST /v1/predict`` (all its files together).
    max_pixels : int, default=40,000,000
        Most pixels of an image, read from its header before it is decoded (a small
        file that decodes to gigabytes, a "decompression bomb", costs nothing).
    max_images : int, default=8
        Most images in one request.
    max_video_bytes : int, default=50 MiB
        Largest video of ``POST /v1/predict/video``.
    max_video_seconds : float, default=60.0
        Longest video, from its frame count and frame rate.
    max_video_frames : int, default=900
        Most frames read from one video (after ``every``).
    max_pending : int, default=32
        Requests (and WebSocket frames) in the works at once; one more is answered 503.
    batch_wait_ms : float, default=5.0
        How long the batching queue waits for other requests' faces before it runs a
        network batch (only while other requests are on their way to it).
    max_batch_faces : int, default=64
        Most faces in one network batch.
    retry_after_s : int, default=1
        The ``Retry-After`` of a 503.

    Examples
    --------
    >>> from emonet.serve import Limits
    >>> Limits().max_upload_bytes
    10485760
    >>> Limits(max_images=2).max_images
    2
    """

    max_upload_bytes: int = 10 * _MB
    max_request_bytes: int = 32 * _MB
    max_pixels: int = 40_000_000
    max_images: int = 8
    max_video_bytes: int = 50 * _MB
    max_video_seconds: float = 60.0
    max_video_frames: int = 900
    max_pending: int = 32
    batch_wait_ms: float = 5.0
    max_batch_faces: int = 64
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"Limits: {item.name} must be a number >= 0, got {value!r}")
            if item.name != "batch_wait_ms" and value == 0:
                raise ValueError(f"Limits: {item.name} must be > 0, got {value!r}")

    def to_dict(self) -> dict[str, float]:
        """The limits as a JSON-compatible dict (``GET /v1/info`` shows them)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}
