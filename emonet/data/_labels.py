"""Label folder names in the spellings datasets use, mapped to FER2013 label indices."""

from __future__ import annotations

from emonet._constants import LABELS

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "angry": ("anger", "angry", "mad", "an", "ang"),
    "disgust": ("disgust", "disgusted", "disgusting", "di", "dis"),
    "fear": ("fear", "fearful", "afraid", "scared", "fe", "fea"),
    "happy": ("happy", "happiness", "happiest", "joy", "joyful", "smile", "ha", "hap"),
    "sad": ("sad", "sadness", "unhappy", "sa"),
    "surprise": ("surprise", "surprised", "surprising", "su", "sur"),
    "neutral": ("neutral", "neutrality", "ne", "neu", "none"),
}

LABEL_ALIASES: dict[str, int] = {
    alias: LABELS.index(label) for label, aliases in _SYNONYMS.items() for alias in aliases
}
LABEL_ALIASES.update({str(i): i for i in range(len(LABELS))})  # fer2013.csv's numbers


def label_index(folder_name: str) -> int | None:
    """FER2013 label index of a label folder name, or None if it names no FER2013 label.

    Case, surrounding spaces, ``-``/``_`` and a leading number with separator
    (``"3_happy"``, ``"03-happy"``) are ignored.
    """
    key = folder_name.strip().lower().replace("-", "_")
    if key in LABEL_ALIASES:
        return LABEL_ALIASES[key]
    head, _, tail = key.partition("_")
    if head.isdigit() and tail in LABEL_ALIASES:
        return LABEL_ALIASES[tail]
    return None
