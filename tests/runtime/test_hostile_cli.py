"""Every subcommand against hostile input: exit 0 or 2, never a traceback, exactly one plain error line, and nothing
changed outside the output location.

Two parts: a table of hostile command lines (bad files, models, numbers, paths, targets, data lists, checkpoints)
run through the real `main`, and a property over the parser itself: every numeric option of every subcommand
refuses nan, inf and garbage when parsed. New options and commands are covered by the second part without edits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from stargan_rt.cli import attach_dash_values, build_parser, main

ANSI = re.compile(r"\x1b\[")


@dataclass
class Case:
    argv: str  # {placeholders} are paths in the workspace; split on spaces
    code: int = 2
    says: str = ""  # a fragment the error line must contain
    writes: tuple[str, ...] = ()  # workspace paths the command may change, besides {out}
    expect: tuple[str, ...] = ()  # files that must exist afterwards (the good items of a batch)
    id: str = ""
    extra: dict = field(default_factory=dict)


def _c(argv: str, code: int = 2, says: str = "", **kw: object) -> Case:
    return Case(argv, code, says, **kw)  # type: ignore[arg-type]


CASES = [
    # --- translate -----------------------------------------------------------------------------------------------
    _c("translate {face} -t Male -d none -m {onnx} -o {out}", 0, expect=("{out}/face_Male.png",)),
    _c("translate {faces} --grid -d none -m {onnx} -o {out}", 0, expect=("{out}/grid.png",)),
    _c("translate", says="required"),
    _c("translate {ws}/nope.png -t Male -m {onnx} -o {out}", says="no such image file"),
    _c("translate {notimage} -t Male -m {onnx} -o {out}", says="not a readable image"),
    _c("translate {truncated} -t Male -d none -m {onnx} -o {out}", says="truncated JPEG"),
    _c("translate {truncated_png} -t Male -d none -m {onnx} -o {out}", says="truncated PNG"),
    _c("translate {empty_dir} -t Male -m {onnx} -o {out}", says="no images"),
    _c("translate {face} -t Male -d none -m {onnx} -o {afile}", says="not a folder"),
    _c("translate {face} -t Male -d none -m {onnx} -o {afile}/out", says="is a file"),
    _c("translate {face} -t Male -d none -m {onnx} -o {readonly}/out", says="cannot write"),
    _c("translate {face} --grid -d none -m {onnx} -o {out}.png", says="give a folder name"),
    _c("translate {same}/grid.png --grid -d none -m {onnx} -o {same}", says="also an input"),
    _c("translate {face} -t= -m {onnx} -o {out}", says="--target"),
    _c("translate {face} -t , -m {onnx} -o {out}", says="no target"),
    _c("translate {face} -t +Male,-Male -d none -m {onnx} -o {out}", says="asked for twice"),
    _c("translate {face} -t Male,Male -d none -m {onnx} -o {out}", says="asked for twice"),
    _c("translate {face} -t Black_Hair,Blond_Hair -d none -m {onnx} -o {out}", says="exclude each other"),
    _c("translate {face} -t Blonde_Hair -d none -m {onnx} -o {out}", says="did you mean Blond_Hair"),
    _c("translate {face} -t Male=2 -d none -m {onnx} -o {out}", says="between 0 and 1"),
    _c("translate {face} -t Male=nan -d none -m {onnx} -o {out}", says="cannot parse"),
    _c("translate {face} -t Male;rm -d none -m {onnx} -o {out}", says="cannot parse"),
    _c("translate {face} -t Male --source-attrs Foo -d none -m {onnx} -o {out}", says="unknown attribute 'Foo'"),
    _c("translate {face} -t Male --threads -3 -m {onnx} -o {out}", says="--threads"),
    _c("translate {face} -t Male --threads 0 -m {onnx} -o {out}", says="--threads"),
    _c("translate {face} -t Male --threads nan -m {onnx} -o {out}", says="--threads"),
    _c("translate {face} -t Male --threads 99999999999 -m {onnx} -o {out}", says="too large"),
    _c("translate {face} -t Male -b cuda -m {onnx} -o {out}", says="unknown backend"),
    _c("translate {face} -t Male -d none -b torch-cpu -m {onnx} -o {out}", says="cannot load"),
    _c("translate {face} -t Male -d martian -m {onnx} -o {out}", says="martian"),
    _c("translate {face} -t Male -m {ws}/none.onnx -o {out}", says="no such model"),
    _c("translate {face} -t Male -d none -m {notimage} -o {out}", says="no backend"),
    _c("translate {face} -t Male -d none -m {text_onnx} -o {out}", says="cannot load"),
    _c("translate {face} -t Male -d none -m {onnx_meta_256} -o {out}", says="does not belong to this graph"),
    _c("translate {face} -t Male -d none -m {onnx_no_meta} -o {out}", says="no 'stargan_rt' metadata"),
    _c("translate {face} -t Male -d none -m {nan_bundle} -b torch-cpu -o {out}", says="NaN or infinite"),
    _c("translate {face} -t Male -d none -m {nan_onnx} -o {out}", says="NaN or infinite"),
    _c("translate {face} -t Male -d none -m {truncated_bundle} -o {out}", says="corrupt or truncated weights"),
    _c("translate {face} -t Male -d none -m {bundle_bad_json} -o {out}", says="not valid JSON"),
    _c("translate {face} -t Male -d none -m {bundle_nested_json} -o {out}", says="not valid JSON"),
    _c("translate {face} -t Male -d none -m {bundle_repeat_huge} -o {out}", says="repeat_num"),
    _c("translate {bomb} -t Male -d none -m {onnx} -o {out}", says="more pixels than OpenCV decodes"),
    _c("translate {face} -t Male --source-attrs Black_Hair,Blond_Hair -d none -m {onnx} -o {out}",
       says="source attributes Black_Hair and Blond_Hair exclude each other"),
    # --source-attrs as a CelebA-format list of each image's attributes (translate only)
    _c("translate {faces} --grid -d none --source-attrs {attr_list} -m {onnx} -o {out}",
       says="1 of 2 images failed", expect=("{out}/grid.png",)),
    _c("translate {faces} -t Young -d none --source-attrs {attr_list} -m {onnx} -o {out}",
       says="1 of 2 images failed", expect=("{out}/f1_Young.png",)),
    _c("translate {faces} --grid -d none --source-attrs {ws}/nope.txt -m {onnx} -o {out}", says="cannot read"),
    _c("translate {faces} --grid -d none --source-attrs {attr_list_foreign} -m {onnx} -o {out}",
       says="lists none of this model's attributes"),
    _c("translate {faces} --grid -d none --source-attrs {attr_list_cut} -m {onnx} -o {out}",
       says="the first line says 3 images but 1 are listed"),
    _c("video {video} {out}.mp4 -t Male --source-attrs {attr_list} -m {onnx}", says="is for `stargan-rt translate`"),
    # an empty value (an unset shell variable) would mean the default model, the current folder, every interface
    _c("translate {face} -t Male -d none --model= -o {out}", says="--model/-m: an empty value"),
    _c("translate {face} -t Male -d none -m {onnx} --output=", says="an empty value"),
    # a batch with bad items: the good ones are written, each bad one named, exit 2 at the end
    _c("translate {face} {notimage} {truncated} -t Male -d none -m {onnx} -o {out}", says="2 of 3 images failed",
       expect=("{out}/face_Male.png",)),
    _c("translate {mixed_dir} -t Male -d none -m {onnx} -o {out}", says="1 of 3 images failed",
       expect=("{out}/a_Male.png", "{out}/c_Male.png")),
    _c("translate {mixed_dir} --grid -d none -m {onnx} -o {out}", says="1 of 3 images failed",
       expect=("{out}/grid.png",)),
    _c("translate {notimage} {truncated} -t Male -d none -m {onnx} -o {out}", says="nothing was written"),
    # --- video and webcam ----------------------------------------------------------------------------------------
    _c("video {video} {out}.avi -t Male -m {onnx} -b ort-cpu", 0, writes=("{out}.avi",), expect=("{out}.avi",)),
    _c("video {frames} {out}.avi -t Male -m {onnx} -b ort-cpu", 0, writes=("{out}.avi",), expect=("{out}.avi",)),
    _c("video {video} {video} -t Male -m {onnx}", says="also an input"),
    _c("video {frames} {frames} -t Male -m {onnx}", says="also an input"),
    _c("video {ws}/nope.mp4 {out}.mp4 -t Male -m {onnx}", says="no such video file"),
    _c("video {face} {out}.mp4 -t Male -m {onnx}", says="is an image"),
    _c("video {notvideo} {out}.mp4 -t Male -m {onnx}", says="cannot read video"),
    _c("video {video} {out}.xyz -t Male -m {onnx}", says="give a video file"),
    _c("video {video} {dir_mp4} -t Male -m {onnx}", says="is a folder"),
    _c("video {video} {afile}/out.mp4 -t Male -m {onnx}", says="is a file"),
    _c("video {video} {readonly}/out.mp4 -t Male -m {onnx}", says="cannot write"),
    _c("video {video} {out}.mp4 -t Male --max-frames 0 -m {onnx}", says="--max-frames"),
    _c("video {video} {out}.mp4 -t Male --max-frames -1 -m {onnx}", says="--max-frames"),
    _c("video {video} {out}.mp4 -t Male --detect-every 0 -m {onnx}", says="--detect-every"),
    _c("video {video} {out}.mp4 -t Male --detect-every nan -m {onnx}", says="--detect-every"),
    _c("video {video} {out}.mp4 -t +Male,-Male -m {onnx}", says="asked for twice"),
    _c("video {video} {out}.mp4 -t Brown_Hair,Black_Hair -m {onnx}", says="exclude each other"),
    _c("video {video} {out}.mp4 -t Male -m {onnx} --stats-json {empty_dir}", says="is a folder"),
    _c("video {video} {out}.mp4 -t Male -m {onnx} --stats-json {video}", says="also an input"),
    _c("video 99999999999 {out}.mp4 -t Male -m {onnx}", says="out of range"),
    _c("video {bad_frames} {out}.avi -t Male -m {onnx} -b ort-cpu", says="1 of 3 input frames were left out",
       writes=("{out}.avi",), expect=("{out}.avi",)),
    _c("video {bad_frames} {out} -t Male -m {onnx} -b ort-cpu", says="1 of 3 input frames were left out",
       expect=("{out}/000000.png", "{out}/000001.png")),
    _c("webcam --source {video} --no-window -o {out}.avi -t Male -m {onnx} -b ort-cpu", 0, writes=("{out}.avi",)),
    _c("webcam --source {video} --no-window -o {out}.mp4 -t Male --duration -5 -m {onnx}", says="--duration"),
    _c("webcam --source {video} --no-window -o {out}.mp4 -t Male --duration 0 -m {onnx}", says="--duration"),
    _c("webcam --source {video} --no-window -o {out}.mp4 -t Male --duration nan -m {onnx}", says="--duration"),
    _c("webcam --source {video} --no-window -t Male -m {onnx}", says="nowhere to send"),
    _c("webcam --source {video} --no-window -o {video} -t Male -m {onnx}", says="also an input"),
    _c("webcam --source {video} --no-window -o {out}.mp4 -t Male --duration 1e300 -m {onnx}", says="too large"),
    _c("webcam --source= --no-window -o {out}.mp4 -t Male -m {onnx}", says="--source/-s: an empty value"),
    _c("webcam --source 99 --no-window -o {out}.mp4 -t Male -m {onnx}", says="camera 99 cannot be opened"),
    _c("webcam --source 99999999999 --no-window -o {out}.mp4 -t Male -m {onnx}", says="out of range"),
    _c("webcam --source -1 --no-window -o {out}.mp4 -t Male -m {onnx}", says="out of range"),
    # --- train -----------------------------------------------------------------------------------------------------
    *[_c(f"train --data {{celeba}} --out {{out}} {flag}", says=flag.split()[0]) for flag in (
        "--g-lr nan", "--g-lr 0", "--g-lr -1", "--d-lr inf", "--lambda-gp nan", "--lambda-cls -1", "--beta1 1.5",
        "--beta2 nan", "--num-iters 0", "--num-iters -1", "--batch-size 0", "--image-size 0", "--image-size 30",
        "--workers -1", "--max-minutes 0", "--max-minutes nan", "--ema-decay 1", "--ema-decay nan", "--n-critic 0",
        "--g-conv-dim 0", "--num-iters 1e3", "--seed x", "--celeba-test-count -1")],
    _c("train --data {celeba} --out {out} --batch-size 2048", says="--batch-size must be at most 1024"),
    _c("train --data {celeba} --out {out} --g-conv-dim 100000", says="--g-conv-dim must be at most 1024"),
    _c("train --data {celeba_count} --out {out}", says="says 50 images but 5 are listed"),
    _c("train --data {celeba_value} --out {out}", says="attribute value '7'"),
    _c("train --data {celeba_dup} --out {out}", says="is listed again"),
    _c("train --data {celeba_nocount} --out {out}", says="number of images"),
    _c("train --data {csv_value} --out {out}", says="0/1 or -1/1"),
    _c("train --data {csv_dup} --out {out}", says="is listed again"),
    _c("train --data {ws}/nope --out {out}", says="no such dataset"),
    _c("train --data {celeba} {celeba} {celeba} --out {out}", says="at most two"),
    _c("train --data {celeba} --out {afile}", says="not a folder"),
    _c("train --data {celeba} --out {readonly}/run", says="cannot write"),
    _c("train --data {celeba} --out {run_foreign}", says="did not write"),
    _c("train --resume --out {ws}/norun", says="nothing to resume"),
    _c("train --resume --out {run_text_ckpt}", says="not a PyTorch checkpoint"),
    _c("train --resume --out {run_evil_ckpt}", says="refused"),
    # --- sample -----------------------------------------------------------------------------------------------------
    _c("sample {bundle} {face} -o {out}.png --device cpu", 0, writes=("{out}.png",), expect=("{out}.png",)),
    _c("sample {bundle} {face} -o {out}.xyz", says="cannot write an image"),
    _c("sample {bundle} {face} -o {empty_dir}", says="is a folder"),
    _c("sample {bundle} {face} -o {afile}/grid.png", says="is a file"),
    _c("sample {bundle} {face} -o {face}", says="also an input"),
    _c("sample {bundle} {face} -o {out}.png --max-images 0", says="--max-images"),
    _c("sample {bundle} {face} -o {out}.png --max-images -1", says="--max-images"),
    _c("sample {ws}/nobundle {face} -o {out}.png", says="not a model bundle"),
    _c("sample {nan_bundle} {face} -o {out}.png --device cpu", says="NaN or infinite"),
    _c("sample {bundle} {bomb} {face} -o {out}.png --device cpu", says="1 of 2 images failed", writes=("{out}.png",),
       expect=("{out}.png",)),
    _c("sample {bundle} {mixed_dir} -o {out}.png --device cpu", says="1 of 3 images failed", writes=("{out}.png",),
       expect=("{out}.png",)),
    # --- import-official --------------------------------------------------------------------------------------------
    _c("import-official {official} --attrs Black_Hair,Blond_Hair,Brown_Hair,Male,Young --image-size 16 -o {out}", 0,
       expect=("{out}/model.json",)),
    _c("import-official {notimage} -o {out}", says="not a PyTorch checkpoint"),
    _c("import-official {evil} -o {out}", says="refused"),
    _c("import-official {ws}/none.ckpt -o {out}", says="no such checkpoint"),
    _c("import-official {discriminator} --image-size 16 -o {out}", says="discriminator"),
    _c("import-official {official_nan} --image-size 16 -o {out}", says="NaN or infinite"),
    _c("import-official {official} --image-size 0 -o {out}", says="--image-size"),
    _c("import-official {official} --image-size 99 -o {out}", says="multiple of 4"),
    _c("import-official {official} --image-size -1 -o {out}", says="--image-size"),
    _c("import-official {official} --image-size nan -o {out}", says="--image-size"),
    _c("import-official {official} --attrs Foo,Bar,Baz,Qux,Quux -o {out}", says="not a CelebA attribute"),
    _c("import-official {official} --attrs Male,Male,Young,Black_Hair,Blond_Hair -o {out}", says="repeats"),
    _c("import-official {official} --attrs Male,Young -o {out}", says="label channels"),
    _c("import-official {official} -o {afile}", says="not a folder"),
    _c("import-official {official} -o {empty_with_file}", says="did not write"),
    # --- export and check ---------------------------------------------------------------------------------------------
    _c("export {bundle} -o {empty_with_file} --no-int8", says="did not write"),
    _c("export {bundle} -o {afile} --no-int8", says="not a folder"),
    _c("export {bundle} -o {bundle} --no-int8", says="cannot be the bundle"),
    _c("export {bundle} -o {out} --calib-count 0", says="--calib-count"),
    _c("export {bundle} -o {out} --calib-count nan", says="--calib-count"),
    _c("export {bundle} -o {out} --calib-count 2147483647", says="at most 10000"),
    _c("export {bundle} -o {out} --workspace-gib 0", says="--workspace-gib"),
    _c("export {bundle} -o {out} --batch 0", says="batch"),
    _c("export {bundle} -o {out} --batch 1:1:99999999999", says="MAX <= 1024"),
    _c("export {bundle} -o {out} --workspace-gib 1e300 --no-int8", says="too large"),
    _c("export {nan_bundle} -o {out} --no-int8", says="NaN or infinite"),
    _c("export {bundle_size_0} -o {out} --no-int8", says="image_size"),
    _c("export {ws}/nobundle -o {out}", says="not a model bundle"),
    _c("check {bundle} {onnx}", 0),
    _c("check {bundle} {onnx} --atol nan", says="--atol"),
    _c("check {bundle} {onnx} --atol -1", says="--atol"),
    _c("check {bundle} {onnx} --atol inf", says="--atol"),
    _c("check {bundle} {onnx} --min-psnr nan", says="--min-psnr"),
    _c("check {bundle} {onnx} --batch 0", says="--batch"),
    _c("check {bundle} {onnx} --batch 2147483647", says="at most 1024"),
    _c("check {bundle} {ws}/none.onnx", says="no such model"),
    _c("check {bundle} {onnx_meta_256}", says="does not belong to this graph"),
    # --- bench ------------------------------------------------------------------------------------------------------
    *[_c(f"bench -o {{out}} {flag}", says=flag.split()[0]) for flag in (
        "--seconds -1", "--seconds 0", "--seconds nan", "--frames 0", "--threads -3", "--batches 0", "--batches x",
        "--sizes -128", "--phases foo", "--time-limit -1", "--train-size 100", "--frame-size 10x10", "--modes foo",
        "--video /nonexistent.mp4", "--max-call-seconds 0", "--conv-dim 0", "--seed -1", "--train-seconds nan",
        "--train-batch-scales x")],
    _c("bench -o {out} --video {face}", says="is an image"),
    _c("bench -o {out} --video {notvideo}", says="cannot read video"),
    # --- synth and eval ---------------------------------------------------------------------------------------------
    _c("synth preview -n 1 -o {out}.png -q", 0, writes=("{out}.png",), expect=("{out}.png",)),
    *[_c(f"synth {flag} -q", says=flag.split()[1] if flag.split()[1].startswith("-") else "") for flag in (
        "celeba -n 0 -o {out}", "celeba -n -5 -o {out}", "celeba --workers -1 -o {out}", "video --seconds -5 -o {out}.mp4",
        "video --seconds nan -o {out}.mp4", "video --fps 0 -o {out}.mp4", "video --faces 9 -o {out}.mp4",
        "celeba --size 3x3 -o {out}", "celeba --seed -1 -o {out}")],
    _c("synth video -o {out}.xyz -q", says="unknown extension"),
    _c("synth preview -o {out}.xyz -q", says="cannot write an image"),
    _c("synth celeba -n 2 -o {afile} -q", says="not a folder"),
    _c("synth celeba -n 2 -o {empty_with_file} -q", says="not a SynthFaces dataset"),
    *[_c(f"eval {{onnx}} -o {{out}} {flag}", says=flag.split()[0]) for flag in (
        "-n 0", "--batch-size 0", "--grid-rows -1", "--phases foo", "--workers -1", "--seed -1")],
    _c("eval {onnx} -o {afile}", says="not a folder"),
    _c("eval {onnx} -o {out} --detector martian", says="unknown face detector"),  # before minutes of classifier work
    _c("eval {ws}/none.onnx -o {out}", says="no such model"),
    # --- serve (refused before anything listens) ---------------------------------------------------------------------
    _c("serve --port 70000", says="--port: must be at most 65535"),
    _c("serve --port -1", says="--port"),
    _c("serve --max-streams 0", says="--max-streams"),
    _c("serve --host=", says="--host: an empty value"),
    _c("serve --gpus-per-replica -1 --ray", says="--gpus-per-replica"),
]


def _write(path: Path, img: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return path


def _celeba_list(path: Path, rows: list[str], count: str | None = None) -> Path:
    path.mkdir(parents=True)
    names = "Black_Hair Blond_Hair Brown_Hair Male Young"
    (path / "list_attr_celeba.txt").write_text("\n".join([count or str(len(rows)), names, *rows]) + "\n")
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _meta_variant(bundle: Path, dest: Path, **arch: object) -> Path:
    shutil.copytree(bundle, dest)
    d = json.loads((dest / "model.json").read_text())
    d["architecture"].update(arch)
    (dest / "model.json").write_text(json.dumps(d))
    return dest


@pytest.fixture(scope="module")
def ws(tmp_path_factory, tiny_models):
    """The inputs every case draws on, in one folder whose every file is checked before and after each case."""
    import onnx
    import torch
    from safetensors.numpy import load_file, save_file

    from stargan_rt.torch_model import Discriminator, Generator

    root = tmp_path_factory.mktemp("hostile")
    w = root / "ws"
    w.mkdir()
    p: dict[str, Path] = {"ws": w}
    p["onnx"] = Path(shutil.copy(tiny_models["onnx"], w / "generator.onnx"))
    p["bundle"] = Path(shutil.copytree(tiny_models["bundle"], w / "bundle"))
    rng = np.random.default_rng(0)
    p["face"] = _write(w / "face.png", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
    p["faces"] = w / "faces"
    for name in ("f1", "f2"):
        _write(p["faces"] / f"{name}.png", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
    (w / "notimage.png").write_text("this is not an image")
    p["notimage"] = w / "notimage.png"
    p["attr_list"] = w / "list_attr.txt"  # lists f1 only (not f2): CelebA format, one model attribute, one other
    p["attr_list"].write_text("1\nMale Smiling\nf1.png 1 -1\n")
    p["attr_list_foreign"] = w / "list_attr_foreign.txt"  # none of the model's attributes
    p["attr_list_foreign"].write_text("1\nSmiling Bangs\nf1.png 1 -1\n")
    p["attr_list_cut"] = w / "list_attr_cut.txt"
    p["attr_list_cut"].write_text("3\nMale Smiling\nf1.png 1 -1\n")
    jpg = cv2.imencode(".jpg", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))[1].tobytes()
    (w / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    p["truncated"] = w / "truncated.jpg"
    png = cv2.imencode(".png", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))[1].tobytes()
    (w / "truncated.png").write_bytes(png[: len(png) // 2])
    p["truncated_png"] = w / "truncated.png"
    p["empty_dir"] = w / "empty"
    p["empty_dir"].mkdir()
    p["afile"] = w / "afile.txt"
    p["afile"].write_text("a user's file")
    p["same"] = w / "same"
    _write(p["same"] / "grid.png", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
    p["mixed_dir"] = w / "mixed"
    for name in ("a", "c"):
        _write(p["mixed_dir"] / f"{name}.png", rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
    (p["mixed_dir"] / "b.jpg").write_bytes(jpg[:1000])
    from .test_stream import _write_video

    p["video"] = _write_video(w / "clip.avi", n=4)
    p["frames"] = w / "frames"
    for i in range(3):
        _write(p["frames"] / f"{i:03d}.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    p["bad_frames"] = w / "bad_frames"
    for i in (0, 2):
        _write(p["bad_frames"] / f"{i:03d}.png", rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    (p["bad_frames"] / "001.png").write_bytes(b"broken frame")
    (w / "notvideo.mp4").write_text("not a video")
    p["notvideo"] = w / "notvideo.mp4"
    p["dir_mp4"] = w / "dir.mp4"
    p["dir_mp4"].mkdir()
    p["readonly"] = Path("/sys")  # a place nobody may write, root included
    # models that do not fit their metadata, or hold NaN
    p["text_onnx"] = w / "text.onnx"
    p["text_onnx"].write_text("not onnx")
    model = onnx.load(str(tiny_models["onnx"]))
    meta = next(e for e in model.metadata_props if e.key == "stargan_rt")
    d = json.loads(meta.value)
    d["architecture"]["image_size"] = 256
    meta.value = json.dumps(d)
    onnx.save(model, str(w / "meta256.onnx"))
    p["onnx_meta_256"] = w / "meta256.onnx"
    model = onnx.load(str(tiny_models["onnx"]))
    del model.metadata_props[:]
    onnx.save(model, str(w / "nometa.onnx"))
    p["onnx_no_meta"] = w / "nometa.onnx"
    model = onnx.load(str(tiny_models["onnx"]))
    init = next(i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) == 4)
    arr = onnx.numpy_helper.to_array(init).copy()
    arr.flat[0] = np.nan
    init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    onnx.save(model, str(w / "nan.onnx"))
    p["nan_onnx"] = w / "nan.onnx"
    p["nan_bundle"] = Path(shutil.copytree(tiny_models["bundle"], w / "nan_bundle"))
    weights = load_file(str(p["nan_bundle"] / "generator.safetensors"))
    key = next(k for k in weights if weights[k].dtype.kind == "f")
    weights[key].flat[0] = np.nan
    save_file(weights, str(p["nan_bundle"] / "generator.safetensors"))
    p["truncated_bundle"] = Path(shutil.copytree(tiny_models["bundle"], w / "truncated_bundle"))
    f = p["truncated_bundle"] / "generator.safetensors"
    f.write_bytes(f.read_bytes()[:200])
    p["bundle_nested_json"] = Path(shutil.copytree(tiny_models["bundle"], w / "nested_json"))
    (p["bundle_nested_json"] / "model.json").write_text("[" * 100_000 + "]" * 100_000)  # past the parser's depth
    p["bundle_repeat_huge"] = _meta_variant(tiny_models["bundle"], w / "repeat_huge", repeat_num=10**6)
    p["bomb"] = w / "bomb.png"  # a PNG header claiming 60000x60000 pixels
    p["bomb"].write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                          + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b""))
    p["bundle_bad_json"] = Path(shutil.copytree(tiny_models["bundle"], w / "bad_json"))
    (p["bundle_bad_json"] / "model.json").write_text("{not json")
    p["bundle_size_0"] = _meta_variant(tiny_models["bundle"], w / "size0", image_size=0)
    for name, value in (("neg", -4), ("str", "128"), ("six", 6), ("huge", 10**9), ("bool", True)):
        p[f"bundle_size_{name}"] = _meta_variant(tiny_models["bundle"], w / f"size_{name}", image_size=value)
    # data lists
    row = "{} -1 1 -1 1 -1"
    p["celeba"] = _celeba_list(w / "celeba", [row.format(f"{i:06d}.jpg") for i in range(5)])
    p["celeba_count"] = _celeba_list(w / "celeba_count", [row.format(f"{i:06d}.jpg") for i in range(5)], count="50")
    p["celeba_value"] = _celeba_list(w / "celeba_value", [row.format("1.jpg"), "2.jpg -1 7 -1 1 -1"])
    p["celeba_dup"] = _celeba_list(w / "celeba_dup", [row.format("1.jpg"), row.format("2.jpg"), row.format("1.jpg")])
    p["celeba_nocount"] = _celeba_list(w / "celeba_nocount", [row.format("1.jpg")], count="many")
    for name, rows in (("csv_value", ["a.png,1,7"]), ("csv_dup", ["a.png,1,0", "a.png,0,1"])):
        (w / name).mkdir()
        (w / name / "labels.csv").write_text("filename,Square,Red\n" + "\n".join(rows) + "\n")
        p[name] = w / name / "labels.csv"
    # runs and checkpoints
    from trainer.config import TrainConfig

    config = {"iteration": 1, "config": TrainConfig(data=(str(p["celeba"]),)).to_dict()}
    for name, state in (("run_text_ckpt", b"plain text, not a checkpoint"), ("run_evil_ckpt", None)):
        ckpt = w / name / "checkpoint"
        ckpt.mkdir(parents=True)
        p[name] = w / name
        (ckpt / "config.json").write_text(json.dumps(config))
        if state is None:
            torch.save({"iteration": 1, "payload": _Payload(w / "pwned")}, ckpt / "state.pt")
        else:
            (ckpt / "state.pt").write_bytes(state)
    p["run_foreign"] = w / "run_foreign"
    (p["run_foreign"] / "bundle").mkdir(parents=True)
    (p["run_foreign"] / "bundle" / "thesis.docx").write_text("a user's")
    torch.save({"x": _Payload(w / "pwned")}, w / "evil.ckpt")
    p["evil"] = w / "evil.ckpt"
    torch.manual_seed(0)
    torch.save(Generator(4, 5, 1).state_dict(), w / "official-G.ckpt")
    p["official"] = w / "official-G.ckpt"
    torch.save({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                for k, v in Generator(4, 5, 1).state_dict().items()},
               w / "official-nan-G.ckpt")
    p["official_nan"] = w / "official-nan-G.ckpt"
    torch.save(Discriminator(16, 4, 5, 2).state_dict(), w / "official-D.ckpt")
    p["discriminator"] = w / "official-D.ckpt"
    p["empty_with_file"] = w / "users_folder"
    p["empty_with_file"].mkdir()
    (p["empty_with_file"] / "holiday.jpg").write_bytes(b"a user's photo")
    (root / "cwd").mkdir()
    return p


class _Payload:
    """Pickles as a call to os.system: loading it with unpickling would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def _outside(snapshot: dict[str, str], ws: Path, allowed: list[Path]) -> dict[str, str]:
    rel = [str(a.relative_to(ws)) for a in allowed if a.is_relative_to(ws)]
    return {k: v for k, v in snapshot.items() if not any(k == r or k.startswith(r + "/") for r in rel)}


def _fill(text: str, ws: dict[str, Path], out: Path) -> str:
    return text.format(**{k: str(v) for k, v in ws.items()}, out=str(out))


def _case_id(case: Case) -> str:
    return re.sub(r"[{}]", "", case.argv)[:70]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_hostile_input(case, ws, monkeypatch, capsys):
    if case.argv.count("{readonly}") and os.access("/sys", os.W_OK) and _sys_writable():
        pytest.skip("/sys is writable here")
    w = ws["ws"]
    out = w.parent / "out" / re.sub(r"\W+", "_", _case_id(case))[:60]
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(exist_ok=True)
    monkeypatch.chdir(w.parent / "cwd")  # default outputs (./translated, runs/...) land outside the workspace
    monkeypatch.setenv("STARGAN_RT_AUTO_PROBE", "0")  # `auto` by the static order: no timing of every broken model
    before = _snapshot(w)
    argv = _fill(case.argv, ws, out).split(" ")
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse usage errors
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if "error" in line.lower()]
    assert "Traceback" not in captured.err, captured.err
    assert code == case.code, (code, captured.err[-2000:])
    if case.code == 0:
        assert errors == [], captured.err
    else:
        assert len(errors) == 1, captured.err
        line = errors[0]
        assert line.startswith(f"stargan-rt {argv[0]}: error: "), line
        assert case.says in line, line
        assert not ANSI.search(line) and line.count("(") == line.count(")") and line.count("[") == line.count("]"), line
    allowed = [Path(_fill(x, ws, out)) for x in case.writes]
    assert _outside(_snapshot(w), w, allowed) == _outside(before, w, allowed)
    for expected in case.expect:
        assert Path(_fill(expected, ws, out)).is_file(), expected
    assert not (w / "pwned").exists()


def _sys_writable() -> bool:
    try:
        with open("/sys/.stargan-rt-probe", "w"):
            pass
    except OSError:
        return False
    os.unlink("/sys/.stargan-rt-probe")
    return True


@pytest.mark.parametrize("name", ["size0", "size_neg", "size_str", "size_six", "size_huge", "size_bool"])
def test_model_descriptions_outside_the_schema_are_one_line(name, ws, capsys, tmp_path):
    rc = main(["translate", str(ws["face"]), "-t", "Male", "-d", "none", "-m", str(ws["ws"] / name), "-o", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("stargan-rt translate: error: ") and "architecture.image_size" in err[-1], err[-1]
    assert list(tmp_path.iterdir()) == []


# --- every numeric option of every subcommand, when parsed -------------------------------------------------------

HOSTILE_NUMBERS = ["nan", "NaN", "inf", "-inf", "1e999", "1e300", "abc", ""]  # 1e300: finite, but overflows time_t
TOO_LARGE = "99999999999999999999"  # for whole numbers: more than a C int holds


def _numeric_options():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for command, p in sorted(sub.choices.items()):
        for action in p._actions:
            if not action.option_strings or action.type is None or action.nargs not in (None, 1):
                continue
            try:
                sample = action.type("1")
            except Exception:
                continue
            values = sample if isinstance(sample, tuple) else (sample,)
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                yield command, p, action, isinstance(values[0], int)


def _minimal_argv(p, action, value: str) -> list[str]:
    """The command's required arguments (any value) and `action` given `value`."""
    argv = []
    for a in p._actions:
        if a is action or (a.option_strings and not a.required) or a.nargs == "?" or a.help == "==SUPPRESS==":
            continue
        value_of_a = sorted(a.choices)[0] if a.choices else "x"
        argv += [value_of_a] if not a.option_strings else [a.option_strings[0], value_of_a]
    return argv + [f"{action.option_strings[-1]}={value}"]


@pytest.mark.parametrize("command, option, whole", [(c, a.option_strings[-1], w) for c, _, a, w in _numeric_options()])
def test_every_numeric_option_refuses_nan_inf_and_garbage_when_parsed(command, option, whole, capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    p = sub.choices[command]
    action = next(a for a in p._actions if option in a.option_strings)
    for value in HOSTILE_NUMBERS + ([TOO_LARGE] if whole else []):
        argv = [command, *_minimal_argv(p, action, value)]
        try:
            parser.parse_args(attach_dash_values(parser, argv))
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and option in err[0] and "Traceback" not in err[0], (value, err)
