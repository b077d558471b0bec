"""Code laid out and run as Lambda runs it: ``/var/task``, ``/opt/python``, read-only, dated 1980, CPython 3.13.

SAM's zip dates every file 1980-01-01 and Lambda mounts the code read-only, so no bytecode can be
written at run time and a timestamp-based ``.pyc`` would not match its source. The runtime's own
packages (boto3 and its dependencies) keep their bytecode and dates, as the runtime image has them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAM_ZIP_DATE = 315_532_800  # 1980-01-01T00:00:00Z: what every file of a SAM-built zip says
MARK = "benchmark:"  # prefixes the one line a probe prints among the handler's log lines


@dataclass(frozen=True)
class Tree:
    """A container's code: PYTHONPATH as Lambda sets it, the function first, then the layer, then the runtime."""

    task: Path
    layer: Path
    runtime: Path

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(str(path) for path in (self.task, self.layer, self.runtime))


@contextmanager
def lambda_tree(
    base: Path, task: Path, layer: Path | None, runtime: Path, *, bytecode: bool, handler: Path | None = None
) -> Iterator[Tree]:
    """Copies of ``task`` (and ``handler``, a module beside it) and ``layer`` as Lambda has them.

    Without their bytecode unless ``bytecode``.
    """
    ignore = None if bytecode else shutil.ignore_patterns("__pycache__", "*.pyc")
    tree = Tree(base / "var" / "task", base / "opt" / "python", runtime)
    shutil.copytree(task, tree.task, ignore=ignore)
    if handler is not None:
        shutil.copy2(handler, tree.task / handler.name)
    if layer is None:
        tree.layer.mkdir(parents=True)
    else:
        shutil.copytree(layer, tree.layer, ignore=ignore)
    try:
        for root in (tree.task, tree.layer):
            _freeze(root)
        yield tree
    finally:
        for directory, _, _ in os.walk(base):
            os.chmod(directory, stat.S_IRWXU)  # so that the copies can go


def _freeze(root: Path) -> None:
    """Every file and folder dated 1980-01-01 and read-only, deepest first."""
    for directory, folders, files in os.walk(root, topdown=False):
        for name in [*files, *folders]:
            path = os.path.join(directory, name)
            os.utime(path, (SAM_ZIP_DATE, SAM_ZIP_DATE), follow_symlinks=False)
            os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    os.utime(root, (SAM_ZIP_DATE, SAM_ZIP_DATE))
    os.chmod(root, stat.S_IRUSR | stat.S_IXUSR)


def run_cold(python: str, tree: Tree, probe: str, environment: Mapping[str, str]) -> Any:
    """Run ``probe`` in a fresh interpreter on ``tree``, no bytecode written; what it printed after ``MARK``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "PYTHONPATH": tree.pythonpath,
        "PYTHONDONTWRITEBYTECODE": "1",
        **environment,
    }
    done = subprocess.run([python, "-s", "-c", probe], capture_output=True, text=True, env=env, check=False)
    marked = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not marked:
        raise RuntimeError(f"the probe failed ({done.returncode}): {(done.stdout + done.stderr)[-3000:]}")
    return json.loads(marked[-1].removeprefix(MARK))
