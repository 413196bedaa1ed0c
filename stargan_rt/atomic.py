"""Write files and folders so that no crash or kill, at any instant, leaves a half-written one in place.

Everything is written under a temporary name beside its destination, then renamed over it:

    .NAME.XXXXXXXX.tmp              a file (atomic_write_bytes) or a folder (atomic_directory) being written
    .STEM.XXXXXXXX.partial.SUFFIX   a file a library writes itself (atomic_path, videos): the suffix is kept

A folder that replaces an older one is swapped in with one atomic exchange (Linux renameat2 RENAME_EXCHANGE). Where
the file system has none, two renames (NAME -> .NAME.old, temporary -> NAME) under an exclusive lock on the parent
folder; a kill between them leaves .NAME.old, which the next run that looks renames back (`recover`).

Each temporary is flock-ed by the process writing it, so a later run tells a killed run's leftover (unlocked:
removed) from a concurrent run's work in progress (locked: left alone). Creating temporaries takes a shared lock on
the parent folder and cleaning takes an exclusive one, so a new temporary is never mistaken for a leftover.

An existing folder is replaced only when everything in it is something the command itself writes (`replaces`):
a user's own file is never deleted.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fnmatch
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import BadInput

try:
    import fcntl
except ImportError:  # not POSIX: no locks, so leftovers of killed runs are left for the user
    fcntl = None  # type: ignore[assignment]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: setting the umask is process-wide, so reading it later, while other threads (data
# loaders, stream stages) create files, would briefly give them a zero umask.
_UMASK = _read_umask()
_RANDOM = "[a-z0-9_]{8}"  # what tempfile puts between prefix and suffix

# Fault injection for tests: called as fault_hook(step, destination) at each step of a folder swap ("written",
# "exchanged", "moved_old", "swapped"), e.g. to SIGKILL the process right there.
fault_hook: Callable[[str, Path], None] | None = None
USE_EXCHANGE = True  # False: the two-rename swap (what file systems without RENAME_EXCHANGE get)
_live: set[str] = set()  # this process's temporary folders: nothing but us writes inside them, no lock needed


def _step(name: str, target: Path) -> None:
    if fault_hook is not None:
        fault_hook(name, target)


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


@contextlib.contextmanager
def _folder_lock(folder: Path, shared: bool) -> Iterator[None]:
    """flock on the folder itself: shared while creating a temporary in it, exclusive to clean or swap."""
    if fcntl is None or str(folder) in _live:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _unlocked(path: str) -> bool:
    """Whether no live process holds `path` (its writer was killed)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _recover_locked(target: Path) -> None:
    old = _old(target)
    if os.path.lexists(old):
        if os.path.lexists(target):
            _remove(old)  # the swap completed; only its clean-up was cut short
        else:
            os.rename(old, target)  # killed between the two renames: the previous version comes back


def recover(target: str | os.PathLike[str]) -> None:
    """Undo what killed runs left beside `target`: finish an interrupted swap, remove unlocked temporaries."""
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return
    leftover = re.compile(rf"\.{re.escape(target.name)}\.{_RANDOM}\.tmp"
                          rf"|\.{re.escape(target.stem)}\.{_RANDOM}\.partial{re.escape(target.suffix)}")
    with _folder_lock(parent, shared=False):
        _recover_locked(target)
        for entry in os.scandir(parent):
            if leftover.fullmatch(entry.name) and _unlocked(entry.path):
                _remove(Path(entry.path))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (renameat2 RENAME_EXCHANGE); False where the system or file system has none."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


class Temporary:
    """A temporary file or folder beside `target`, locked by this process until `commit` moves it over `target`
    or `discard` removes it. Leftovers of killed runs beside `target` are removed first."""

    def __init__(self, target: str | os.PathLike[str], folder: bool = False, keep_suffix: bool = False):
        self.target = Path(target)
        self.folder = folder
        parent = self.target.parent
        parent.mkdir(parents=True, exist_ok=True)
        recover(self.target)
        with _folder_lock(parent, shared=True):
            if folder:
                self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=parent))
                self.fd = os.open(self.path, os.O_RDONLY)
                os.chmod(self.path, 0o777 & ~_UMASK)
                _live.add(str(self.path))
            else:
                prefix, suffix = ((f".{self.target.stem}.", f".partial{self.target.suffix}") if keep_suffix
                                  else (f".{self.target.name}.", ".tmp"))
                self.fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=parent)
                self.path = Path(name)
                os.chmod(self.path, 0o666 & ~_UMASK)  # mkstemp makes it private; the result reads like any new file
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_EX)

    def _release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        _live.discard(str(self.path))

    def commit(self) -> None:
        try:
            if self.folder:
                _swap_in(self.path, self.target)
            else:
                os.replace(self.path, self.target)
        finally:
            self._release()

    def discard(self) -> None:
        self._release()
        _remove(self.path)


def _swap_in(tmp: Path, target: Path) -> None:
    """Put folder `tmp` at `target`; an existing `target` is replaced whole, never left missing."""
    _step("written", target)
    with _folder_lock(target.parent, shared=False):
        _recover_locked(target)
        if not os.path.lexists(target):
            os.rename(tmp, target)
            return
        if USE_EXCHANGE and _exchange(tmp, target):
            _step("exchanged", target)
            doomed = tmp  # it now holds the previous version
        else:
            doomed = _old(target)
            os.rename(target, doomed)
            _step("moved_old", target)
            os.rename(tmp, target)
            _step("swapped", target)
    _remove(doomed)


def check_replaceable(path: str | os.PathLike[str], replaces: Iterable[str] = ()) -> None:
    """BadInput unless `path` is absent, an empty folder, or a folder holding only entries matching `replaces`
    (glob patterns of what the command writes there): what a command replaces must be its own earlier output."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        raise BadInput(f"{path}: exists and is not a folder (it would be replaced): choose another output")
    patterns = tuple(replaces)
    foreign = sorted(e.name for e in os.scandir(path) if not any(fnmatch.fnmatchcase(e.name, p) for p in patterns))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise BadInput(f"{path} holds {foreign[0]!r}{more}, which this command did not write; it would be replaced, "
                       "and what it did not make is never deleted: move it away or choose another folder")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, then rename it over `path`."""
    tmp = Temporary(path)
    try:
        with os.fdopen(os.dup(tmp.fd), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.commit()
    except BaseException:
        tmp.discard()
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix) for a library to write; it becomes `path` on success."""
    tmp = Temporary(path, keep_suffix=True)
    try:
        yield tmp.path
        tmp.commit()
    except BaseException:
        tmp.discard()
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str], replaces: Iterable[str] = ()) -> Iterator[Path]:
    """Yield a temporary folder that replaces `path` only if the block completes.

    An existing `path` is kept until the new one is complete, then swapped out; it may hold only entries matching
    `replaces` (see check_replaceable), checked before the work and again before the swap.
    """
    path, patterns = Path(path), tuple(replaces)
    check_replaceable(path, patterns)
    tmp = Temporary(path, folder=True)
    try:
        yield tmp.path
        check_replaceable(path, patterns)
        tmp.commit()
    except BaseException:
        tmp.discard()
        raise
