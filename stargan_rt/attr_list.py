"""CelebA-format attribute lists (list_attr_celeba.txt): a count line, the attribute names, one row per image.

The trainer reads them as datasets; `stargan-rt translate --source-attrs LIST` reads them for what each image's face
is now. A damaged list (a wrong count, a missing value, a value other than 1 / -1 / 0, an image listed twice) is
refused whole, naming the line: half a list would label the wrong faces silently.
"""

from __future__ import annotations

from pathlib import Path

from .errors import BadInput


def is_attr_list(value: str | None) -> bool:
    """A --source-attrs / --source value names a per-image attribute list (a file) rather than the attributes."""
    return bool(value) and (value.lower().endswith(".txt") or Path(value).is_file())


def not_listed(path: Path | str) -> str:
    """Why an image the list does not name is left out (its source attributes are not guessed)."""
    return f"not in {path}, so what the face is now is unknown"


def is_label(text: str) -> bool:
    """1 (has it), -1 or 0 (has not): CelebA writes 1 / -1, CSVs often 1 / 0 (or 1.0 / 0.0)."""
    try:
        return float(text) in (-1.0, 0.0, 1.0)
    except ValueError:
        return False


def read_attr_list(path: Path) -> tuple[list[str], list[list[str]]]:
    """(the attribute names, the rows [file name, one value per attribute]) of a checked list, in file order."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror})") from None
    if len(lines) < 2:
        raise BadInput(f"{path}: not a CelebA attribute list (needs a count line and a names line)")
    names = lines[1].split()
    rows = [ln.split() for ln in lines[2:] if ln.strip()]
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise BadInput(f"{path}: the first line must be the number of images, got {lines[0].strip()[:40]!r}") from None
    if count != len(rows):
        raise BadInput(f"{path}: the first line says {count} images but {len(rows)} are listed (a cut or edited "
                       f"file); fix the count, or the list")
    first_seen: dict[str, int] = {}
    for line, r in enumerate(rows, start=3):
        if len(r) != len(names) + 1:
            raise BadInput(f"{path}:{line}: {len(r) - 1} values for {len(names)} attributes")
        bad = next((v for v in r[1:] if not is_label(v)), None)
        if bad is not None:
            raise BadInput(f"{path}:{line}: attribute value {bad!r} for {r[0]}; values are 1 (has it) or -1 (has not)")
        if r[0] in first_seen:
            raise BadInput(f"{path}:{line}: {r[0]} is listed again (first on line {first_seen[r[0]]}); list each "
                           "image once")
        first_seen[r[0]] = line
    return names, rows


def attrs_by_image(path: Path, known: list[str]) -> dict[str, dict[str, float]]:
    """{file name: {attribute: 1.0 or 0.0}} for the listed attributes among `known` (a model's); others ignored."""
    names, rows = read_attr_list(path)
    cols = [(i, name) for i, name in enumerate(names) if name in known]
    if not cols:
        raise BadInput(f"{path}: lists none of this model's attributes ({', '.join(known)})")
    return {r[0]: {name: float(float(r[1 + i]) > 0) for i, name in cols} for r in rows}
