"""Written datasets: the real CelebA and RaFD on-disk formats, loadable by the trainer, with identity metadata."""

import json

import numpy as np
import pytest

from stargan_rt.cli import main
from stargan_rt.errors import BadInput
from stargan_rt.images import read_image
from stargan_rt.synth import CELEBA_ATTRIBUTES, EXPRESSIONS, render
from stargan_rt.synth.datasets import read_records, write_celeba, write_rafd


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "celeba"
    write_celeba(out, 12, seed=3, ext="png", workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def rafd(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "rafd"
    write_rafd(out, 16, seed=3, size=(64, 64), workers=2, progress=False)
    return out


def test_celeba_format(celeba):
    lines = (celeba / "list_attr_celeba.txt").read_text().splitlines()
    assert lines[0] == "12" and tuple(lines[1].split()) == CELEBA_ATTRIBUTES
    info, records = read_records(celeba)
    assert info["kind"] == "celeba" and len(records) == 12
    for line, rec in zip(lines[2:], records):
        name, *values = line.split()
        assert name == rec.file.name and (celeba / "images" / name).is_file()
        row = dict(zip(CELEBA_ATTRIBUTES, map(int, values)))
        assert set(row.values()) <= {1, -1}
        hair = [h for h in ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair") if row[h] == 1]
        assert hair == [rec.attrs.hair]
        for a in ("Male", "Young", "Pale_Skin", "Eyeglasses", "Smiling"):
            assert (row[a] == 1) == rec.attrs.get(a)
        assert row["Wearing_Hat"] == -1, "attributes the renderer never draws are -1"


def test_the_images_are_the_renders_of_the_recorded_people(celeba):
    _, records = read_records(celeba)
    for rec in records[:3]:
        assert np.array_equal(read_image(rec.file), render(rec.identity, rec.attrs)), "PNG is lossless"


def test_celeba_loads_through_the_trainer(celeba):
    from trainer.config import TrainConfig
    from trainer.data import load_dataset

    cfg = TrainConfig(celeba_test_count=2, image_size=32, d_repeat_num=5)
    ds = load_dataset(str(celeba), cfg)
    _, records = read_records(celeba)
    by_name = {r.file.name: r for r in records}
    assert len(ds) == 10 and ds.domains.domains == ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    for path, label in zip(ds.paths, ds.labels):
        a = by_name[path.name].attrs
        assert list(label) == [float(a.get(d)) for d in ds.domains.domains]
    x, c, skipped = ds[(0, False)]
    assert tuple(x.shape) == (3, 32, 32) and not skipped


def test_rafd_format_and_trainer_loader(rafd):
    from trainer.config import TrainConfig
    from trainer.data import load_dataset

    info, records = read_records(rafd)
    assert sorted(p.name for p in rafd.iterdir() if p.is_dir()) == list(EXPRESSIONS)
    assert len({r.identity for r in records}) == 2, "16 images: two people, each in all 8 expressions"
    for r in records:
        assert r.file.parent.name == r.attrs.expression and r.file.is_file()
    ds = load_dataset(str(rafd), TrainConfig(image_size=32, d_repeat_num=5))
    assert ds.domains.kind == "one_hot" and ds.domains.domains == EXPRESSIONS
    for path, label in zip(ds.paths, ds.labels):
        assert EXPRESSIONS[int(label.argmax())] == path.parent.name


def test_celeba_and_rafd_people_never_overlap(celeba, rafd):
    a = {r.identity for r in read_records(celeba)[1]}
    b = {r.identity for r in read_records(rafd)[1]}
    assert a and b and not a & b


def test_any_number_of_workers_writes_the_same_dataset(tmp_path):
    write_celeba(tmp_path / "one", 6, seed=5, ext="png", workers=1, progress=False)
    write_celeba(tmp_path / "two", 6, seed=5, ext="png", workers=2, progress=False)
    for name in ("list_attr_celeba.txt", "synthfaces.json", "images/000006.png"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_never_replaces_a_folder_it_did_not_write(tmp_path):
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "me.jpg").write_bytes(b"not synthetic")
    with pytest.raises(BadInput, match="not a SynthFaces dataset"):
        write_celeba(precious, 2, progress=False, workers=1)
    assert (precious / "me.jpg").read_bytes() == b"not synthetic"
    write_celeba(tmp_path / "ds", 2, progress=False, workers=1)
    with pytest.raises(BadInput, match="--overwrite"):
        write_celeba(tmp_path / "ds", 3, progress=False, workers=1)
    write_celeba(tmp_path / "ds", 3, progress=False, workers=1, overwrite=True)
    assert json.loads((tmp_path / "ds" / "synthfaces.json").read_text())["count"] == 3


def test_cli(tmp_path, capsys):
    assert main(["synth", "celeba", "-n", "3", "-o", str(tmp_path / "c"), "-q", "--workers", "1"]) == 0
    assert len(list((tmp_path / "c" / "images").iterdir())) == 3
    assert main(["synth", "preview", "-n", "1", "-o", str(tmp_path / "p.png"), "--size", "64x78"]) == 0
    assert read_image(tmp_path / "p.png").shape[1] > 64 * 17
    capsys.readouterr()
    assert main(["synth", "celeba", "-n", "3", "-o", str(tmp_path / "d"), "--size", "big"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--size" in err
