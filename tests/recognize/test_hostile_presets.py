"""Hostile presets (issue 25): a preset.json loads only files inside its own folder.

A copy of the tiny real preset of ``tiny_models`` whose ``preset.json`` is edited to
name files elsewhere: ``../``, an absolute path, a link leading out. Each is refused in
one line naming the preset file and the entry, before any model loads.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from emonet import Recognizer
from emonet.recognize import load_preset_config


@pytest.fixture
def preset(tiny_models, tmp_path):
    """A copy of the tiny preset in ``tmp_path/preset``, its files also outside it."""
    folder = shutil.copytree(tiny_models["preset"], tmp_path / "preset")
    first = json.loads((folder / "preset.json").read_text())["members"][0]
    shutil.copyfile(folder / first, tmp_path / "outside.keras")
    shutil.copyfile(folder / "ensemble.json", tmp_path / "ensemble.json")
    return folder


def _edit(folder, **changes):
    path = folder / "preset.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))
    return config


def _refused(folder, entry, name):
    """Both the preset reader and the recognizer refuse, in one line naming both."""
    expected = (
        f"{folder / 'preset.json'}: {entry} {name!r} lies outside the preset folder {folder}"
    )
    for load in (load_preset_config, Recognizer):
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}") as caught:
            load(folder)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize("how", ["parent", "absolute", "through-a-sub-folder", "link"])
def test_a_member_outside_the_preset_folder_is_refused(preset, tmp_path, how):
    members = json.loads((preset / "preset.json").read_text())["members"]
    if how == "parent":
        name = "../outside.keras"
    elif how == "absolute":
        name = str(tmp_path / "outside.keras")
    elif how == "through-a-sub-folder":
        (preset / "sub").mkdir()
        name = "sub/../../outside.keras"
    else:  # a file of the folder that is a link to a file outside it
        (preset / "inside.keras").symlink_to(tmp_path / "outside.keras")
        name = "inside.keras"
    _edit(preset, members=[name, members[1]])
    _refused(preset, "member", name)


def test_an_ensemble_outside_the_preset_folder_is_refused(preset, tmp_path):
    _edit(preset, ensemble="../ensemble.json")
    _refused(preset, "ensemble", "../ensemble.json")
    _edit(preset, ensemble=str(tmp_path / "ensemble.json"))
    _refused(preset, "ensemble", str(tmp_path / "ensemble.json"))


@pytest.mark.parametrize("name", [5, None, "", ["a.keras"]], ids=["int", "null", "empty", "list"])
def test_a_member_that_is_not_a_file_name_is_refused(preset, name):
    members = json.loads((preset / "preset.json").read_text())["members"]
    _edit(preset, members=[members[0], name])
    with pytest.raises(ValueError, match=re.escape(f"member {name!r} is not a file name")):
        load_preset_config(preset)


def test_members_in_a_sub_folder_of_the_preset_still_load(preset):
    config = json.loads((preset / "preset.json").read_text())
    (preset / "models").mkdir()
    moved = []
    for name in config["members"]:
        (preset / name).rename(preset / "models" / name)
        moved.append(f"models/{name}")
    _edit(preset, members=moved, ensemble="./ensemble.json")
    loaded = load_preset_config(preset)
    assert loaded["members"] == moved and loaded["ensemble"] == "./ensemble.json"
    assert all((preset / name).is_file() for name in moved)
