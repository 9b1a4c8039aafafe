"""The obs-websocket password: from the environment or a private config file, never argv.

A password on the command line is visible to every user (``ps``) and lands in shell
history; one in a world-readable file is no secret either. So the bridge reads
``ETAM_OBS_PASSWORD``, or else a config file that only its owner can read (like ssh does
with private keys), and keeps it in a :class:`Secret` that does not print itself.

Config file (INI, default ``<user config dir>/etam-plugin/obs.ini``)::

    [obs]
    password = ...
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from etam_plugin.errors import ObsCredentialsError

ENV_VAR = "ETAM_OBS_PASSWORD"
CONFIG_NAME = "obs.ini"


class Secret:
    """A string that shows as ``'********'`` in repr, str, f-strings and logs.

    Only :meth:`reveal` gives the value, at the one place that needs it (the
    obs-websocket handshake). It refuses to be pickled, so it cannot travel to a
    process or a file by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple:
        raise TypeError("a Secret cannot be pickled")


def default_config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("etam-plugin") / CONFIG_NAME


def check_private(path: Path) -> None:
    """Refuse a file that group or others can read or write (POSIX only)."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ObsCredentialsError(
            f"{path} holds the OBS password but other users can access it "
            f"(mode {mode:04o}); run: chmod 600 {path}",
            path=path,
        )


def read_password_file(path: Path) -> Secret | None:
    """The ``password`` in section ``[obs]`` of ``path`` (None when the key is absent)."""
    try:
        check_private(path)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ObsCredentialsError(f"cannot read {path}: {exc.strerror or exc}", path=path) from None
    except UnicodeDecodeError as exc:  # e.g. saved as Latin-1: guessing would change the password
        raise ObsCredentialsError(
            f"{path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}): save it as UTF-8",
            path=path,
        ) from None
    parser = configparser.RawConfigParser()  # raw: '%' in a password is just a character
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        # configparser quotes offending lines, which may hold the password: say where only.
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise ObsCredentialsError(
            f"{path} is not a valid config file{where}: expected '[obs]' then 'password = ...'",
            path=path,
        ) from None
    if not parser.has_option("obs", "password"):
        return None
    return Secret(parser.get("obs", "password"))


def load_password(
    *,
    environ: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
) -> Secret | None:
    """The OBS password: ``$ETAM_OBS_PASSWORD`` first, then the config file, else None.

    A config file given explicitly must exist; the default one may be absent. Raises
    :class:`ObsCredentialsError` for a file others can read or one that cannot be parsed.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR)
    if value:
        return Secret(value)
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ObsCredentialsError(f"OBS config file {path} does not exist", path=path)
    else:
        path = default_config_path()
        if not path.is_file():
            return None
    return read_password_file(path)
