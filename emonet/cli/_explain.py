"""``emonet-predict --explain DIR``: each face's map over its photo and its regions' bars,
and the region values in the JSON and CSV output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from emonet.explain import METHODS, REGIONS, overlay_photo, plot_regions

#: The CSV columns ``--explain`` adds, after the result's own.
EXPLAIN_COLUMNS: tuple[str, ...] = (
    "explain_method",
    "explain_target",
    *(f"region_{name}" for name in REGIONS),
    "region_rest",
)
#: The method ``--explain`` runs unless ``--explain-method`` names another.
DEFAULT_METHOD = "regions"


def add_explain_options(group: argparse._ArgumentGroup) -> None:
    """The ``--explain DIR`` and ``--explain-method`` options."""
    group.add_argument(
        "--explain",
        metavar="DIR",
        help="explain each face of the photos: write into DIR the photo with the face's "
        "map overlaid (NAME.faceI.png) and a bar chart of its regions' contributions "
        "(NAME.faceI.regions.png), and add the region values to the JSON ('explanation' "
        "of each face) and CSV (region_* columns)",
    )
    group.add_argument(
        "--explain-method",
        choices=METHODS,
        default=DEFAULT_METHOD,
        help=f"how --explain explains (default {DEFAULT_METHOD}: exact Shapley values of "
        "the face's landmark regions; gradcam needs float .keras --models)",
    )


def explain_photo(
    recognizer: Any,
    image: Any,
    base: Path,
    rows: list[dict[str, Any]],
    method: str,
    overwrite: bool,
) -> list[dict[str, Any]]:
    """Explain the faces of one photo: write its pictures as ``base.faceI.png`` and
    ``base.faceI.regions.png``, add the region columns to its CSV ``rows`` (one per
    face, in order) and return each face's :meth:`Explanation.to_dict`."""
    from emonet.recognize import save_image

    (faces,) = recognizer.explain(image, method=method)
    records = []
    for i, (face, row) in enumerate(zip(faces, rows, strict=False)):
        record = face.to_dict()
        records.append(record)
        row["explain_method"] = method
        row["explain_target"] = record["target"]
        for name in REGIONS:
            row[f"region_{name}"] = record["regions"][name]
        row["region_rest"] = record.get("rest", "")
        overlay = base.with_name(f"{base.name}.face{i}.png")
        bars = base.with_name(f"{base.name}.face{i}.regions.png")
        for path in (overlay, bars):
            if path.exists() and not overwrite:
                print(
                    f"emonet-predict: warning: {path} exists, not replaced (pass --overwrite)",
                    file=sys.stderr,
                )
                break
        else:
            save_image(overlay_photo(image, [face]), overlay)
            plot_regions(face, bars)
    return records


def merge_explanations(document: dict[str, Any], explanations: list[list[dict]]) -> None:
    """Put each face's explanation record into the JSON document of the photos, as the
    face's ``"explanation"``."""
    for photo, records in zip(document["results"], explanations, strict=False):
        for face, record in zip(photo["faces"], records, strict=False):
            face["explanation"] = record
