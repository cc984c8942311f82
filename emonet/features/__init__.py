"""The EmoNet feature vector: 68 dlib landmarks and a sliding-window HOG.

For a 48x48 face: 136 landmark coordinates + 2,592 HOG values = 2,728 features. The
face geometry that training and test-time augmentation share (faces warped, mirrored and
zoomed with their landmarks moved and their HOG computed again) lives here too. This
subpackage never imports TensorFlow, so extraction starts fast.
"""

from emonet.features._descriptors import DESCRIPTOR_SIZE, face_descriptors
from emonet.features._extractor import FeatureExtractor
from emonet.features._faces import (
    DETECTORS,
    Detector,
    align_faces,
    check_detection,
    crop_faces,
    detect_faces,
)
from emonet.features._geometry import (
    FLIP_PERMUTATION,
    mirror_batch,
    scale_batch,
    transform_landmarks,
    warp_faces,
    warp_features,
)
from emonet.features._hog import BLOCK_NORMS, sliding_hog, sliding_hog_reference
from emonet.features._landmarks import LANDMARK_PARTS, extract_landmarks
from emonet.features._pipeline import ExtractionReport, extract_to_file
from emonet.features._store import FeatureSet, load_features, save_features
from emonet.features._template import (
    FaceTemplate,
    box_transform,
    face_template,
    make_face_template,
    template_transform,
    warp_face,
)

__all__ = [
    "BLOCK_NORMS",
    "DESCRIPTOR_SIZE",
    "DETECTORS",
    "FLIP_PERMUTATION",
    "Detector",
    "ExtractionReport",
    "FaceTemplate",
    "LANDMARK_PARTS",
    "FeatureExtractor",
    "FeatureSet",
    "align_faces",
    "box_transform",
    "check_detection",
    "crop_faces",
    "detect_faces",
    "extract_landmarks",
    "extract_to_file",
    "face_descriptors",
    "face_template",
    "load_features",
    "make_face_template",
    "mirror_batch",
    "save_features",
    "scale_batch",
    "sliding_hog",
    "sliding_hog_reference",
    "template_transform",
    "transform_landmarks",
    "warp_face",
    "warp_faces",
    "warp_features",
]
