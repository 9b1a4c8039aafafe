"""Official weights: lookup, download through huggingface_hub against a local fake Hub
(tests/fake_hub.py, real HTTP on 127.0.0.1), resume, offline errors, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants

from etam_plugin.cli import main
from etam_plugin.errors import CancelledError, CheckpointError, WeightsUnavailableError
from etam_plugin.model.checkpoint import infer_variants, read_checkpoint, save_checkpoint
from etam_plugin.weights import (
    REPO_ID,
    download_weights,
    find_weights,
    official_url,
    resolve_checkpoint,
    weights_dir,
)
from tests.fake_hub import COMMIT, FakeHub
from tests.scripts import console_script

TI_FILE = "efficienttam_ti_512x512.pt"
CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real official-format checkpoint (ViT-Tiny shapes for a few keys), ~3 MB."""
    gen = torch.Generator().manual_seed(7)
    sd = {
        "image_encoder.trunk.patch_embed.proj.weight": torch.randn(192, 3, 16, 16, generator=gen),
        "image_encoder.trunk.pos_embed": torch.randn(1, 197, 192, generator=gen),
        "maskmem_tpos_enc": torch.randn(7, 1, 1, 64, generator=gen),
        "no_mem_embed": torch.randn(1, 1, 256, generator=gen),
        "image_encoder.neck.convs.0.conv_3x3.weight": torch.randn(256, 256, 3, 3, generator=gen),
    }
    path = tmp_path_factory.mktemp("payload") / TI_FILE
    save_checkpoint(sd, path)
    return path.read_bytes()


def _point_hf_at(url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Aim huggingface_hub (already imported) at ``url`` with an isolated cache."""
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(home / "weights"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hf" / "hub"))
    monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(home / "hf" / "agents.json"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # Small chunks so that a 3 MB file arrives in many pieces (progress, resume, cancel).
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes):
    with FakeHub() as fake:
        fake.add(REPO_ID, TI_FILE, payload)
        _point_hf_at(fake.url, tmp_path, monkeypatch)
        yield fake
    huggingface_hub.close_session()  # drop pooled connections to this server


def _cache_leftovers(tmp_path: Path) -> list[str]:
    blobs = tmp_path / "hf" / "hub" / "models--yunyangx--efficient-track-anything" / "blobs"
    return sorted(p.name for p in blobs.glob("*")) if blobs.exists() else []


# ----------------------------------------------------------------------- download


def test_download_lands_in_the_cache_with_the_served_bytes(
    hub: FakeHub, payload: bytes, tmp_path: Path
) -> None:
    path = download_weights("ti_512x512", progress=False)
    assert path.is_relative_to(tmp_path / "hf" / "hub")
    assert path.name == TI_FILE and COMMIT in path.parts
    assert path.read_bytes() == payload
    assert _cache_leftovers(tmp_path) == [hashlib.sha256(payload).hexdigest()]
    # The Hub's HEAD redirected to storage; one plain GET fetched the file there.
    assert [(r.server, r.method) for r in hub.requests if "agent" not in r.path] == [
        ("hub", "HEAD"),
        ("storage", "GET"),
    ]
    assert hub.gets()[0].range is None
    sd = read_checkpoint(path)
    assert infer_variants(sd, filename=path) == ["ti_512x512"]


def test_direct_answers_without_redirect_work_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes
) -> None:
    with FakeHub(redirect=False) as fake:
        fake.add(REPO_ID, TI_FILE, payload)
        _point_hf_at(fake.url, tmp_path, monkeypatch)
        path = download_weights("ti_512x512", progress=False)
        gets = [r.server for r in fake.requests if r.method == "GET" and "agent" not in r.path]
        assert gets == ["hub"]  # no storage server involved
        assert path.read_bytes() == payload
    huggingface_hub.close_session()


def test_a_second_call_does_not_download_again(hub: FakeHub, payload: bytes) -> None:
    first = download_weights("ti_512x512", progress=False)
    count = len(hub.requests)
    assert download_weights("ti_512x512", progress=False) == first
    assert download_weights("mobile", progress=False) == first  # the same official file
    assert len(hub.requests) == count
    assert len(hub.gets()) == 1


def test_an_interrupted_download_resumes_with_a_range_request(
    hub: FakeHub, payload: bytes, tmp_path: Path
) -> None:
    hub.cut_downloads(after_bytes=1_000_000)
    path = download_weights("ti_512x512", progress=False)
    assert path.read_bytes() == payload
    first, second = hub.gets()
    assert first.range is None
    assert second.range is not None and second.range.startswith("bytes=")
    resumed_at = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 1_000_000 and resumed_at % CHUNK == 0
    assert _cache_leftovers(tmp_path) == [hashlib.sha256(payload).hexdigest()]


def test_progress_is_reported_in_bytes(hub: FakeHub, payload: bytes) -> None:
    seen: list[tuple[int, int | None]] = []
    download_weights("ti_512x512", progress=False, on_progress=lambda d, t: seen.append((d, t)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(seen) > 10
    assert seen[-1] == (len(payload), len(payload))


def test_cancel_stops_and_leaves_no_partial_file(
    hub: FakeHub, payload: bytes, tmp_path: Path
) -> None:
    hub.delay_s = 0.002  # a slow network, so the download is still running when cancelled
    seen: list[int] = []
    with pytest.raises(CancelledError):
        download_weights(
            "ti_512x512",
            progress=False,
            on_progress=lambda d, t: seen.append(d),
            should_cancel=lambda: bool(seen) and seen[-1] >= 4 * CHUNK,
        )
    assert 4 * CHUNK <= seen[-1] < len(payload)
    assert _cache_leftovers(tmp_path) == []
    assert find_weights("ti_512x512") is None
    hub.delay_s = 0.0
    assert download_weights("ti_512x512", progress=False).read_bytes() == payload


def test_offline_mode_says_what_to_download_and_where(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as info:
        download_weights("mobile", progress=False)
    err = info.value
    url = f"{hub.url}/{REPO_ID}/resolve/main/{TI_FILE}"
    target = tmp_path / "weights" / TI_FILE
    assert (err.variant, err.url, err.target) == ("mobile", url, target)
    message = str(err)
    assert "HF_HUB_OFFLINE" in message
    assert f"Download {url}\n" in message and f"save it as {target}\n" in message
    assert hub.requests == []  # offline means no request at all


def test_an_unreachable_hub_says_what_to_download_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeHub() as fake:
        dead = fake.url  # nothing listens there once the server has stopped
    _point_hf_at(dead, tmp_path, monkeypatch)
    waits: list[float] = []
    # huggingface_hub backs off 1+2+4+8+8 s before giving up; record instead of waiting.
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", waits.append)
    with pytest.raises(WeightsUnavailableError) as info:
        download_weights("s", progress=False)
    assert len(waits) == 5
    assert "could not be reached" in str(info.value) and "Connection refused" in str(info.value)
    assert f"Download {dead}/{REPO_ID}/resolve/main/efficienttam_s.pt" in str(info.value)
    huggingface_hub.close_session()


def test_a_network_that_keeps_failing_mid_file(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hub.cut_downloads(after_bytes=0, times=100)
    monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda s: None)
    with pytest.raises(WeightsUnavailableError) as info:
        download_weights("ti_512x512", progress=False)
    assert "connection failed" in str(info.value)
    assert len(hub.gets()) == 6  # the first try and huggingface_hub's five resumes
    assert _cache_leftovers(tmp_path) == []


def test_a_file_the_hub_does_not_have(hub: FakeHub) -> None:
    with pytest.raises(WeightsUnavailableError) as info:
        download_weights("s_2", progress=False)
    assert "HTTP 404" in str(info.value) and "efficienttam_s_2.pt" in str(info.value)


def test_official_url_on_the_real_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", "https://huggingface.co")
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        "https://huggingface.co/{repo_id}/resolve/{revision}/{filename}",
    )
    base = "https://huggingface.co/yunyangx/efficient-track-anything/resolve/main/"
    assert official_url("s_1") == base + "efficienttam_s_1.pt"
    assert official_url("mobile") == base + "efficienttam_ti_512x512.pt"


# ------------------------------------------------------------------------- lookup


def test_weights_dir_default_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ETAM_WEIGHTS_DIR", raising=False)
    default = weights_dir()
    assert default.parts[-2:] == ("etam-plugin", "weights")
    monkeypatch.setenv("ETAM_WEIGHTS_DIR", str(tmp_path / "mine"))
    assert weights_dir() == tmp_path / "mine"


def test_find_weights_finds_a_file_placed_by_hand(hub: FakeHub, tmp_path: Path) -> None:
    assert find_weights("s") is None
    placed = weights_dir() / "efficienttam_s.pt"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"weights")
    assert find_weights("s") == placed
    assert find_weights("s_1") is None
    assert download_weights("s", progress=False) == placed
    assert hub.requests == []  # found locally: no network at all


def test_a_placed_file_wins_over_the_cache(hub: FakeHub) -> None:
    cached = download_weights("ti_512x512", progress=False)
    assert find_weights("mobile") == cached
    placed = weights_dir() / TI_FILE
    placed.parent.mkdir(parents=True)
    shutil.copy(cached, placed)
    assert find_weights("mobile") == placed == find_weights("ti_512x512")


def test_the_cache_is_found_offline(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = download_weights("ti_512x512", progress=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert find_weights("ti_512x512") == cached
    assert resolve_checkpoint("mobile") == cached


# ------------------------------------------------------------------------ resolve


def test_resolve_uses_an_existing_path_as_is(tmp_path: Path, hub: FakeHub) -> None:
    path = tmp_path / "my weights.pt"
    path.write_bytes(b"x")
    assert resolve_checkpoint(path) == path
    assert resolve_checkpoint(str(path)) == path


def test_resolve_a_variant(hub: FakeHub, payload: bytes) -> None:
    with pytest.raises(WeightsUnavailableError) as info:
        resolve_checkpoint("ti_512x512")
    assert "not downloading" in str(info.value) and info.value.url.endswith(TI_FILE)
    assert hub.requests == []
    path = resolve_checkpoint("ti_512x512", download=True)
    assert path.read_bytes() == payload
    assert resolve_checkpoint("mobile") == path


def test_resolve_unknown_names_and_missing_paths(tmp_path: Path, hub: FakeHub) -> None:
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint("tiny")
    assert info.value.reason == "unknown-variant"
    assert "ti, ti_1, ti_2, ti_512x512, s, s_1, s_2, s_512x512, mobile" in str(info.value)
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(str(tmp_path / "gone.pt"))
    assert info.value.reason == "missing"
    with pytest.raises(CheckpointError) as info:
        resolve_checkpoint(tmp_path)
    assert info.value.reason == "directory"


# ---------------------------------------------------------------------------- CLI


def test_cli_end_to_end_in_process(
    hub: FakeHub, payload: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["weights", "path", "mobile"]) == 2
    err = capsys.readouterr().err
    assert f"Download {hub.url}/{REPO_ID}/resolve/main/{TI_FILE}" in err

    assert main(["weights", "download", "mobile"]) == 0
    downloaded = Path(capsys.readouterr().out.strip())
    assert downloaded.read_bytes() == payload

    assert main(["weights", "path", "ti_512x512"]) == 0
    assert capsys.readouterr().out.strip() == str(downloaded)

    assert main(["weights", "list"]) == 0
    table = capsys.readouterr().out
    rows = {line.split()[0]: line for line in table.splitlines()[1:10]}
    assert str(downloaded) in rows["ti_512x512"] and str(downloaded) in rows["mobile"]
    assert "not downloaded" in rows["s"]
    assert str(weights_dir()) in table

    assert main(["weights", "list", "--json"]) == 0
    listed = {r["variant"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["mobile"]["local_path"] == str(downloaded)
    assert listed["mobile"]["attention"] == "pooled-keys" and listed["s"]["image_size"] == 1024
    assert listed["s"]["local_path"] is None

    assert main(["weights", "download", "s_2"]) == 2  # not on the Hub: 404
    assert "HTTP 404" in capsys.readouterr().err


def test_cli_console_script(hub: FakeHub, payload: bytes, tmp_path: Path) -> None:
    exe = console_script("etam-plugin")
    assert exe, "the etam-plugin console script is not installed"
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,  # read by huggingface_hub at import, as users set it
        "HF_HOME": str(tmp_path / "hf"),
        "ETAM_WEIGHTS_DIR": str(tmp_path / "weights"),
        "TQDM_POSITION": "-1",  # huggingface_hub: show the bar although stderr is a pipe
    }
    env.pop("HF_HUB_OFFLINE", None)

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, "weights", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = cli("download", "mobile")
    assert out.returncode == 0, out.stderr
    path = Path(out.stdout.strip())
    assert path.read_bytes() == payload
    assert "100%" in out.stderr and TI_FILE in out.stderr  # huggingface_hub's progress bar

    out = cli("path", "ti_512x512", HF_HUB_OFFLINE="1")
    assert (out.returncode, out.stdout.strip()) == (0, str(path))

    out = cli("path", "s", HF_HUB_OFFLINE="1")
    assert out.returncode == 2 and out.stdout == ""
    assert f"Download {hub.url}/{REPO_ID}/resolve/main/efficienttam_s.pt" in out.stderr
    assert f"save it as {tmp_path / 'weights' / 'efficienttam_s.pt'}" in out.stderr

    out = cli("download", "s", HF_HUB_OFFLINE="1")
    assert out.returncode == 2 and "HF_HUB_OFFLINE=1" in out.stderr
