"""Reading FER2013 and other face datasets.

``emonet.data`` turns the formats users hold (``fer2013.csv``, the Kaggle image
folders, any ``<label>/<image>`` folder) into a :class:`Dataset` of 48x48 grayscale
faces with labels, FER2013 usage and ids.
"""

from emonet.data._dataset import DataError, Dataset, Skipped
from emonet.data._images import ImageError, read_face
from emonet.data._labels import LABEL_ALIASES, label_index
from emonet.data._load import decode_record, load_fer2013, load_image_folder
from emonet.data._records import Record, input_kind, iter_records

__all__ = [
    "LABEL_ALIASES",
    "DataError",
    "Dataset",
    "ImageError",
    "Record",
    "Skipped",
    "decode_record",
    "input_kind",
    "iter_records",
    "label_index",
    "load_fer2013",
    "load_image_folder",
    "read_face",
]
