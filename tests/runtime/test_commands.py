"""The runtime commands as a user types them: translate finds faces in photos, keeps face crops working,
takes '-t -Young', and names every output apart."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.cli import main
from stargan_rt.images import read_image, write_image
from stargan_rt.synth import Attributes, identity_seed, render

from .conftest import SIZE


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    data = pytest.importorskip("skimage.data", reason="scikit-image provides the real test photo")
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    write_image(path, np.ascontiguousarray(data.astronaut()[..., ::-1]))
    return path


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    path = tmp_path_factory.mktemp("crops") / "face.png"
    write_image(path, render(identity_seed("heldout", 9, 1), Attributes(hair="Brown_Hair")))  # CelebA-aligned 178x218
    return path


def test_a_photo_gets_its_faces_found_and_keeps_its_size(photo, tiny_models, tmp_path, capsys):
    assert main(["translate", str(photo), "-t", "Blond_Hair", "-m", str(tiny_models["onnx"]), "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 face found" in out
    result = read_image(tmp_path / "astronaut_Blond_Hair.png")
    assert result.shape == read_image(photo).shape


def test_a_face_crop_is_recognised_and_none_gives_the_models_own_output(crop, tiny_models, tmp_path, capsys):
    model = str(tiny_models["onnx"])
    assert main(["translate", str(crop), "-t", "Male", "-m", model, "-o", str(tmp_path / "auto")]) == 0
    assert "face crop in the training framing" in capsys.readouterr().out
    assert read_image(tmp_path / "auto" / "face_Male.png").shape == (218, 178, 3)
    assert main(["translate", str(crop), "-t", "Male", "-d", "none", "-m", model, "-o", str(tmp_path / "none")]) == 0
    assert read_image(tmp_path / "none" / "face_Male.png").shape == (SIZE, SIZE, 3)


@pytest.mark.parametrize("flags", [["-t", "-Young"], ["--target", "-Young,+Male"], ["-t=-Young"],
                                   ["--source-attrs", "Young", "-t", "-Young"]])
def test_clearing_an_attribute_takes_the_documented_syntax(flags, crop, tiny_models, tmp_path, capsys):
    assert main(["translate", str(crop), *flags, "-d", "none", "-m", str(tiny_models["onnx"]), "-o", str(tmp_path)]) == 0
    assert "error" not in capsys.readouterr().err


def test_inputs_with_the_same_name_in_different_folders_get_different_outputs(crop, tiny_models, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for d, hair in ((a, "Brown_Hair"), (b, "Black_Hair")):
        write_image(d / "face.png", render(identity_seed("heldout", 9, 2), Attributes(hair=hair)))
    out = tmp_path / "out"
    assert main(["translate", str(a / "face.png"), str(b / "face.png"), "-t", "Male", "-d", "none",
                 "-m", str(tiny_models["onnx"]), "-o", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a_face_Male.png", "b_face_Male.png"]
    assert not np.array_equal(read_image(out / written[0]), read_image(out / written[1]))


def test_usage_mistakes_are_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["translate"])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and err.count("\n") == 0 and "required" in err and "usage" not in err
