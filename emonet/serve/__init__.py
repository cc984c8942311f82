"""The HTTP API and web page of emonet (``emonet-serve``).

:func:`create_app` builds a FastAPI app around a :class:`emonet.Recognizer`: ``POST
/v1/predict`` (images), ``POST /v1/predict/video``, the ``/v1/stream`` WebSocket (webcam
frames), ``/healthz``, ``/readyz``, ``/v1/presets``, ``/v1/info``, and a page at ``/``
that tries it on a photo or a webcam. The faces of concurrent requests share network
batches (:class:`FaceBatcher`); what a request may send is bounded by :class:`Limits`.
Needs the ``serve`` extra: ``pip install emonet[serve]``.
"""

from emonet.serve._app import API_KEY_ENV, create_app
from emonet.serve._batching import FaceBatcher
from emonet.serve._errors import ServeError
from emonet.serve._images import IMAGE_FORMATS, VIDEO_FORMATS, sniff_image, sniff_video
from emonet.serve._limits import Limits
from emonet.serve._middleware import ACCESS_LOGGER

__all__ = [
    "ACCESS_LOGGER",
    "API_KEY_ENV",
    "IMAGE_FORMATS",
    "VIDEO_FORMATS",
    "FaceBatcher",
    "Limits",
    "ServeError",
    "create_app",
    "sniff_image",
    "sniff_video",
]
