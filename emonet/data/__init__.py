"""Reading FER2013 and other face datasets.

``emonet.data`` turns the formats users hold (``fer2013.csv``, the Kaggle image
folders, any ``<label>/<image>`` folder of face crops) into a :class:`Dataset` of 48x48
grayscale faces with labels, FER2013 usage and ids. Finding faces in photos belongs to
``emonet.features`` (``crop_faces``, ``extract_to_file(..., detect_faces=True)``).
"""

from emonet._image import ImageError, read_face
from emonet.data._dataset import DataError, Dataset, Skipped, check_usages
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
    "check_usages",
    "decode_record",
    "input_kind",
    "iter_records",
    "label_index",
    "load_fer2013",
    "load_image_folder",
    "read_face",
]
