"""``python -m emonet.demo`` (what ``make demo`` runs): the astronaut, her expression, two PNGs."""

from __future__ import annotations

import cv2

from emonet.demo import main


def test_the_demo_finds_one_happy_face_and_writes_its_pictures(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--preset", "fast"]) == 0
    out = capsys.readouterr().out
    assert "face 0: box" in out and "face 1" not in out
    assert "expression: happy" in out
    for name in ("astronaut_expression.png", "astronaut_features.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and min(image.shape[:2]) > 200
