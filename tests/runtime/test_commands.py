"""The runtime commands as a user types them: translate finds faces in photos, keeps face crops working,
takes '-t -Young', and names every output apart."""

from __future__ import annotations

import numpy as np
import pytest

from stargan_rt.cli import main
from stargan_rt.images import read_image, write_image
from stargan_rt.synth import Attributes, identity_seed, render
from stargan_rt.translator import Translator

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


def test_a_grid_takes_each_faces_attributes_from_a_celeba_attribute_list(tiny_models, tmp_path):
    """As the official test: each row flips gender and age from what that face is, as list_attr_celeba.txt says."""
    faces = tmp_path / "faces"
    for name, hair in (("a.png", "Black_Hair"), ("b.png", "Brown_Hair")):
        write_image(faces / name, render(identity_seed("heldout", 9, 3), Attributes(hair=hair)))
    listing = faces / "list_attr_celeba.txt"  # CelebA's 40 columns in practice; the model's are picked by name
    listing.write_text("2\nBlack_Hair Brown_Hair Male Smiling\na.png 1 -1 1 -1\nb.png -1 1 -1 1\n")
    model, out = str(tiny_models["onnx"]), tmp_path / "out"
    assert main(["translate", str(faces / "a.png"), str(faces / "b.png"), "--grid", "-d", "none", "-b", "ort-cpu",
                 "--source-attrs", str(listing), "-m", model, "-o", str(out)]) == 0
    with Translator(model, backend="ort-cpu") as tr:
        photos = [read_image(faces / "a.png"), read_image(faces / "b.png")]
        expected, titles = tr.grid(photos, sources=["Black_Hair,Male", "Brown_Hair"])
        unlisted, _ = tr.grid(photos)
    assert "+/-Male" in titles
    np.testing.assert_array_equal(read_image(out / "grid.png"), expected)
    assert not np.array_equal(expected, unlisted)  # the list changed what was asked of the faces


def test_an_image_the_list_does_not_name_is_reported_not_guessed(crop, tiny_models, tmp_path, capsys):
    listing = tmp_path / "list_attr_celeba.txt"
    listing.write_text("1\nMale\nother.png 1\n")
    argv = ["translate", str(crop), "-t", "Young", "-d", "none", "--source-attrs", str(listing),
            "-m", str(tiny_models["onnx"]), "-o", str(tmp_path / "out")]
    assert main(argv) == 2
    assert f"{crop}: not in {listing}, so what the face is now is unknown" in capsys.readouterr().err
    assert not (tmp_path / "out" / "face_Young.png").exists()


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
