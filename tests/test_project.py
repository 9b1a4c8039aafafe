"""The project's shape: packages map as designed, the CLI starts, code is clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripts import console_script

REPO = Path(__file__).resolve().parents[1]


def test_subpackages_install_under_etam_plugin() -> None:
    import etam_plugin.gui
    import etam_plugin.model
    import etam_plugin.obs_bridge

    assert Path(etam_plugin.model.__file__).parent == REPO / "model"
    assert Path(etam_plugin.gui.__file__).parent == REPO / "gui"
    assert Path(etam_plugin.obs_bridge.__file__).parent == REPO / "obs_bridge"


def test_no_top_level_model_package_is_importable() -> None:
    code = (
        "import importlib.util as u; "
        "print(all(u.find_spec(n) is None for n in ('model', 'gui', 'obs_bridge')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_resources_ship_as_package_data() -> None:
    from importlib.resources import files

    assert files("etam_plugin.resources").is_dir()


def test_console_script_runs() -> None:
    exe = console_script("etam-plugin")
    assert exe, "the etam-plugin console script is not installed"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "COMMAND" in out.stdout


def test_ruff_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_import_contracts_hold(tmp_path: Path) -> None:
    """import-linter on a regular (non-editable) install, where the mapped packages sit
    inside etam_plugin/ as users get them (grimp cannot follow the editable mapping)."""
    exe = console_script("lint-imports")
    assert exe, "import-linter is not installed"
    target = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(  # not from REPO: lint-imports puts its working directory on sys.path
        [exe, "--config", str(REPO / "pyproject.toml")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_package_directory_is_listed_in_pyproject() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {name: REPO / path for name, path in config["package-dir"].items()}
    found = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root)
            found.add(".".join([name, *rel.parts]))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_cli_start_stays_light() -> None:
    """`etam-plugin --help` and argument parsing must not import torch, Qt or PyAV: heavy
    imports belong inside each subcommand's ``run`` (a CLI that takes seconds to print its
    help is broken for scripts)."""
    code = (
        "import sys\n"
        "from etam_plugin.cli import build_parser\n"
        "build_parser()\n"
        "names = ('torch', 'PySide6', 'av', 'cv2', 'onnxruntime')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at CLI start: {out.stdout.strip()}"
