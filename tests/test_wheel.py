"""The package as a user installs it: a wheel built from this checkout, installed with its
dependencies into a fresh virtual environment (no project checkout on the path), starts,
answers --help, imports without a display, and carries its resources and the Blender
add-on."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The venv's bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--wheel-dir", str(root / "dist"), str(REPO)])  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("etam_plugin-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("etam_plugin/hosts/blender/etam_vse/__init__.py",
                   "etam_plugin/hosts/blender/etam_vse/ui.py",
                   "etam_plugin/model/__init__.py", "etam_plugin/gui/_qt/__init__.py",
                   "etam_plugin/obs_bridge/__init__.py"):  # fmt: skip
        assert needed in names, needed
    assert any(n.startswith("etam_plugin/resources/") and n.endswith(".svg") for n in names)
    venv = root / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    # the CPU build of torch, as the README's user install says (an unpinned torch would
    # bring several GB of CUDA packages)
    done = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                "torch==2.13.0", str(wheel)])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def clean_env() -> dict[str, str]:
    """No display, no project checkout on the path."""
    drop = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}


def test_the_commands_answer_from_a_fresh_install(installed: Path, tmp_path: Path) -> None:
    for args in (["--help"], ["panel", "--help"], ["track", "--help"], ["live", "--help"],
                 ["blender", "install", "--help"]):  # fmt: skip
        done = run([str(installed / "etam-plugin"), *args], cwd=tmp_path, env=clean_env())
        assert done.returncode == 0 and "usage:" in done.stdout, (args, done.stderr)


def test_it_imports_without_a_display_and_finds_its_files(installed: Path, tmp_path) -> None:
    code = (
        "import etam_plugin, etam_plugin.model, etam_plugin.gui.app, etam_plugin.obs_bridge\n"
        "from etam_plugin.hosts.blender import ADDON_SOURCE\n"
        "from importlib.resources import files\n"
        "assert (ADDON_SOURCE / 'ui.py').is_file(), ADDON_SOURCE\n"
        "assert 'site-packages' in etam_plugin.__file__, etam_plugin.__file__\n"
        "assert any(files('etam_plugin.resources').iterdir())\n"
        "print('ok')\n"
    )
    done = run([str(installed / "python"), "-c", code], cwd=tmp_path, env=clean_env())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
