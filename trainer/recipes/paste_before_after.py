"""Whole-frame eval of the embedded model, 100 held-out people: the old square paste vs the new paste-back."""
import json, sys
import cv2, numpy as np
from stargan_rt.default_model import default_model_path
from stargan_rt.translator import Translator
from stargan_rt.faces import PasteBack, Region

from trainer.evaluate import heldout_people
from trainer.evaluate_frames import render_frames, evaluate_frames, write_frames_report
from trainer.classifier import get_classifier


def square_paste(frame, region, face, feather=0.12):
    """The paste of commit 4e1d249 (stargan_rt/faces/crops.py): the upscaled face over the whole square, feathered."""
    h, w = frame.shape[:2]
    x0, y0 = max(0, region.x), max(0, region.y)
    x1, y1 = min(w, region.x + region.w), min(h, region.y + region.h)
    if x1 <= x0 or y1 <= y0:
        return
    interp = cv2.INTER_AREA if face.shape[0] > region.h else cv2.INTER_LINEAR
    big = cv2.resize(face, (region.w, region.h), interpolation=interp)
    ramp = max(1.0, feather * min(region.w, region.h))
    dx = np.minimum(np.arange(region.w) + 0.5, region.w - np.arange(region.w) - 0.5)
    dy = np.minimum(np.arange(region.h) + 0.5, region.h - np.arange(region.h) - 0.5)
    m = np.clip(np.minimum(dy[:, None], dx[None, :]) / ramp, 0.0, 1.0)
    m = (m * m * (3 - 2 * m)).astype(np.float32)
    sub = (slice(y0 - region.y, y1 - region.y), slice(x0 - region.x, x1 - region.x))
    frame[y0:y1, x0:x1] = cv2.blendLinear(np.ascontiguousarray(big[sub]), np.ascontiguousarray(frame[y0:y1, x0:x1]),
                                          np.ascontiguousarray(m[sub]), np.ascontiguousarray(1 - m[sub]))


class Square:
    reference = "input"
    def __call__(self, frame, region, reference, face, key=-1):
        square_paste(frame, region, face)
    def forget(self, keep=None):
        pass
    def __repr__(self):
        return "square (the paste of 4e1d249)"


def main():
    out = sys.argv[1]
    tr = Translator(default_model_path(), detector="haar")
    people = heldout_people(tr.meta, 100, 0)
    fs = render_frames(tr.meta, people, 0, workers=2)
    clf = get_classifier(progress=False)
    rows = {}
    for name, pb in (("square (before)", Square()), ("model reference (default)", PasteBack()),
                     ("input reference", PasteBack(reference="input"))):
        tr.paste_back = pb
        rep, strips = evaluate_frames(tr, clf, fs, progress=False, model_name="embedded default")
        write_frames_report(rep, strips, f"{out}/{name.split()[0]}")
        rows[name] = rep
        s = rep["summary"]
        print(f"{name:28s} gain {s['gain']:+.2f} spill {s['spill']:.2f} seam {s['seam']:+.2f} acc {s['accuracy']:.3f} "
              f"ms/frame {rep['seconds']['ms_per_frame']}", flush=True)
    json.dump({k: {"summary": v["summary"], "columns": v["columns"], "backend": v["backend"]} for k, v in rows.items()},
              open(f"{out}/before_after.json", "w"), indent=1)


if __name__ == "__main__":
    main()
