"""Settings that keep a classroom server safe, checked so a later change cannot drop them."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def config() -> dict:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_xsrf_protection_stays_on_and_uploads_are_limited():
    server = config()["server"]
    assert server["enableXsrfProtection"] is True
    assert 0 < server["maxUploadSize"] <= 20  # MB


def test_tracebacks_are_never_shown_to_users():
    assert config()["client"]["showErrorDetails"] == "none"


def test_no_file_watcher_on_the_repository():
    # The default watcher spun a core forever once the text page had imported transformers from
    # .venv (inotify overflow, rescan, overflow ...), and its log lines filled a test pipe.
    assert config()["server"]["fileWatcherType"] == "none"


def test_remote_code_is_never_trusted():
    offenders = []
    for path in list((ROOT / "viz").rglob("*.py")) + list((ROOT / "app_pages").rglob("*.py")):
        if re.search(r"trust_remote_code\s*=\s*True", path.read_text()):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
