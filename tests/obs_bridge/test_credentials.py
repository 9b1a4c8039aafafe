"""The OBS password: environment first, then a private config file; never shown."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

from etam_plugin.errors import ObsCredentialsError
from etam_plugin.obs_bridge.credentials import ENV_VAR, Secret, load_password

PASSWORD = "s3cr%t-Hunter2"


def write_config(path: Path, mode: int, text: str | None = None) -> Path:
    path.write_text(text if text is not None else f"[obs]\npassword = {PASSWORD}\n")
    path.chmod(mode)
    return path


def test_environment_wins(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "obs.ini", 0o600, "[obs]\npassword = from-file\n")
    secret = load_password(environ={ENV_VAR: PASSWORD}, config_path=cfg)
    assert secret is not None and secret.reveal() == PASSWORD


def test_private_config_file_is_read(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "obs.ini", 0o600)
    secret = load_password(environ={}, config_path=cfg)
    assert secret.reveal() == PASSWORD  # '%' kept literally (no interpolation)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_config_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    cfg = write_config(tmp_path / "obs.ini", mode)
    with pytest.raises(ObsCredentialsError) as info:
        load_password(environ={}, config_path=cfg)
    assert f"chmod 600 {cfg}" in str(info.value)
    assert info.value.path == cfg
    assert PASSWORD not in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ObsCredentialsError, match="does not exist"):
        load_password(environ={}, config_path=tmp_path / "absent.ini")
    bad = write_config(tmp_path / "bad.ini", 0o600, f"password = {PASSWORD}\n")  # no section
    with pytest.raises(ObsCredentialsError, match="not a valid config file") as info:
        load_password(environ={}, config_path=bad)
    assert PASSWORD not in str(info.value)
    empty = write_config(tmp_path / "empty.ini", 0o600, "[obs]\nhost = x\n")
    assert load_password(environ={}, config_path=empty) is None
    # no explicit file and no default file: no password (OBS may not need one)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing-here"))
    assert load_password(environ={}) is None


def test_secret_never_shows_itself(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(PASSWORD)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("etam_plugin.test").info("password %s %r", secret, secret)
    shown = f"{secret} {secret!r} {secret!s} {[secret]} {secret:>30}" + caplog.text
    assert PASSWORD not in shown and "********" in shown
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_a_latin1_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    """Saved by an editor as Latin-1 ("é" is byte 0xe9): guessing the encoding could
    change the password, so it is an error naming the byte, without the password."""
    cfg = tmp_path / "obs.ini"
    cfg.write_bytes("[obs]\npassword = caf\u00e9-s3cret\n".encode("latin-1"))
    cfg.chmod(0o600)
    with pytest.raises(ObsCredentialsError, match=r"not UTF-8 text.*0xe9") as info:
        load_password(environ={}, config_path=cfg)
    assert "s3cret" not in str(info.value)
