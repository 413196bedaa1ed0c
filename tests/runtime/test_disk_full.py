"""A full disk ends in one error line and exit 2, and what was there before is kept byte for byte.

The video writer (OpenCV's, in C) is run on a real full file system: a 128 KiB tmpfs mounted in a user and mount
namespace (`unshare -rm`, no privileges needed where the kernel allows it); where it cannot be mounted, under a
file-size limit (RLIMIT_FSIZE), which makes the same writes fail (EFBIG). Python-level writes get an injected ENOSPC.
"""

from __future__ import annotations

import errno
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from stargan_rt.cli import main


def _noise_video(path: Path, frames: int, size: tuple[int, int] = (320, 240)) -> Path:
    """MJPG frames of noise: ~100 KiB each, so a few fill the small file system."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 25, size)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    writer.release()
    return path


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"], capture_output=True)
    return r.returncode == 0


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing


@pytest.mark.parametrize("how", ["tmpfs", "file_size_limit"])
def test_a_video_that_does_not_fit_is_an_error_and_the_earlier_one_is_kept(tiny_models, tmp_path, how):
    source = _noise_video(tmp_path / "in.avi", 24)
    earlier = _noise_video(tmp_path / "earlier.avi", 1, (64, 48))
    folder = tmp_path / "disk"
    folder.mkdir()
    video = [sys.executable, "-m", "stargan_rt.cli", "video", str(source), str(folder / "out.avi"), "-t", "Male",
             "-m", str(tiny_models["onnx"]), "-b", "ort-cpu"]
    if how == "tmpfs":
        if not _can_mount_tmpfs():
            pytest.skip("no tmpfs can be mounted here (unshare -rm not allowed); the file-size limit case runs")
        script = (f'mount -t tmpfs -o size=128k none "{folder}" && cp "{earlier}" "{folder}/out.avi" && '
                  f'"$@"; echo "rc=$?"; cmp -s "{earlier}" "{folder}/out.avi" && echo kept; ls -A "{folder}"')
        r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *video], capture_output=True, text=True,
                           timeout=300)
        report = r.stdout.strip().splitlines()
        rc, kept, left = report[-3], report[-2], report[-1:]
        assert (rc, kept, left) == ("rc=2", "kept", ["out.avi"]), r.stdout + r.stderr
    else:
        shutil.copyfile(earlier, folder / "out.avi")
        r = subprocess.run(video, capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
        assert r.returncode == 2, r.stdout + r.stderr
        assert (folder / "out.avi").read_bytes() == earlier.read_bytes()
        assert sorted(p.name for p in folder.iterdir()) == ["out.avi"]
    errors = [line for line in r.stderr.splitlines() if "error" in line.lower() or "warn" in line.lower()]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert errors[0].startswith("stargan-rt video: error: ") and "does not read back" in errors[0], errors[0]
    assert "earlier out.avi is kept" in errors[0]


def _no_space(*args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_image_that_does_not_fit_is_one_line_and_the_earlier_one_is_kept(tiny_models, tmp_path, capsys, monkeypatch):
    from stargan_rt import atomic

    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.full((218, 178, 3), 120, np.uint8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "face_Male.png").write_bytes(b"the earlier result")
    monkeypatch.setattr(atomic.os, "fsync", _no_space)
    rc = main(["translate", str(face), "-t", "Male", "-d", "none", "-m", str(tiny_models["onnx"]), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "Traceback" not in "\n".join(err)
    assert err[-1].startswith("stargan-rt translate: error: ") and "No space left on device" in err[-1]
    assert [line for line in err if "error" in line] == err[-1:]
    assert sorted(p.name for p in out.iterdir()) == ["face_Male.png"]
    assert (out / "face_Male.png").read_bytes() == b"the earlier result"


def test_an_export_that_does_not_fit_leaves_no_temporary_folder(tiny_models, tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnx")
    from stargan_rt import atomic

    monkeypatch.setattr(atomic.os, "fsync", _no_space)
    rc = main(["export", str(tiny_models["bundle"]), "-o", str(tmp_path / "export"), "--no-int8"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("stargan-rt export: error: ") and "No space left" in err[-1]
    assert "Traceback" not in "\n".join(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _limit_to(kib: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (kib * 1024, kib * 1024))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return limit


TINY_TRAIN = ["--image-size", "16", "--g-conv-dim", "4", "--d-conv-dim", "4", "--g-repeat-num", "1", "--d-repeat-num",
              "2", "--batch-size", "2", "--num-iters", "4", "--save-every", "2", "--sample-every", "0", "--workers", "0"]


@pytest.mark.parametrize("command", ["import-official", "synth", "train"])
def test_files_written_by_libraries_that_do_not_fit_are_one_line_and_leave_nothing(tmp_path, command):
    """safetensors (a bundle), OpenCV (dataset images) and torch.save (a checkpoint) report a full disk in their own
    ways (SafetensorError, False, RuntimeError): each must still end in the CLI's one line, exit 2."""
    torch = pytest.importorskip("torch")
    from stargan_rt.torch_model import Generator

    cli = [sys.executable, "-m", "stargan_rt.cli"]
    out = tmp_path / "out"
    if command == "import-official":
        torch.save(Generator(4, 5, 1).state_dict(), tmp_path / "official-G.ckpt")
        argv, kib = ["import-official", str(tmp_path / "official-G.ckpt"), "--image-size", "16", "-o", str(out)], 16
    elif command == "synth":
        argv, kib = ["synth", "celeba", "-n", "3", "-o", str(out), "-q"], 4
    else:
        assert subprocess.run([*cli, "synth", "celeba", "-n", "4", "--size", "32x32", "-o", str(tmp_path / "data"), "-q"],
                              capture_output=True, timeout=120).returncode == 0
        argv, kib = ["train", "--data", str(tmp_path / "data"), "--out", str(out), *TINY_TRAIN], 20
    r = subprocess.run([*cli, *argv], capture_output=True, text=True, timeout=300, preexec_fn=_limit_to(kib))
    errors = [line for line in r.stderr.splitlines() if "error" in line.lower()]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(errors) == 1 and errors[0].endswith("error: writing the output: File too large"), r.stderr
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == [] and not (out / "model.json").exists() and not (out / "checkpoint").exists(), left
