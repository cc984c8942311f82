"""Recognition beyond one machine: photos and videos by the million on a Ray cluster.

The stage above recognize and serve. :func:`predict` runs the same recognition as
:class:`emonet.recognize.Recognizer` with Ray Data's batch inference: a pool of actors
that each hold the model, tasks streamed through them (groups of photos, segments of
videos), and each finished task written at once into a Parquet folder, one row per face
with the columns of ``emonet-predict --csv``; :func:`read_output` reads it back, with the
table of the inputs that could not be read. A run that stops resumes where it was.

Ray is an optional dependency (``pip install 'emonet[ray]'``): this package imports
without it, and :func:`predict` says what to install.
"""

from emonet.distributed._output import SKIPPED_COLUMNS, read_output
from emonet.distributed._ray import RAY_MISSING
from emonet.distributed._run import RunSummary, predict

__all__ = ["RAY_MISSING", "SKIPPED_COLUMNS", "RunSummary", "predict", "read_output"]
