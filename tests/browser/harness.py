"""Start the app as `make run` does and drive it in Debian's chromium through playwright.

Every request to a host other than the app's is aborted and recorded, so a page that needs
the internet (a CDN script, a font) fails the tests instead of quietly working online.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deploy.serve import wait_healthy
from viz.ui.guard import UNEXPECTED

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
INSTALL_HINT = "Install Debian's chromium to run the browser tests: sudo apt-get install chromium"


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    pid: int
    log: Path  # everything the server printed

    def peak_rss_mb(self) -> float:
        """The server process's peak resident memory so far (Linux VmHWM), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def serve_app(port: int | None = None, timeout: float = 90.0, script: str | Path | None = None):
    """Run `streamlit run server.py` on 127.0.0.1 (the flags of `make run`); yield a Server. `script`:
    another app to serve the same way (a broken page that proves a check fails, test_checks_fail.py).
    An older checkout without server.py (a benchmark's baseline) serves its app.py.

    The server writes to a file in test-artifacts/, never to a pipe: a pipe nobody reads fills
    after 64 KB and then blocks whichever server thread logs next.
    """
    port = port or free_port()
    script = script or ("server.py" if (ROOT / "server.py").exists() else "app.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    streamlit = [str(Path(sys.executable).parent / "streamlit")]
    if not Path(streamlit[0]).exists():  # streamlit installed outside a venv (--target, --user)
        streamlit = [sys.executable, "-m", "streamlit"]
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"server-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*streamlit, "run", str(script), "--server.address=127.0.0.1", f"--server.port={port}",
             "--server.headless=true"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", proc.pid, log)
    try:
        wait_healthy(server.url, proc, timeout, "the app", log)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class PageLog:
    """What a page did that it should not: console errors, requests that failed or left the machine."""
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def _is_base_path_probe(url: str) -> bool:
    """Streamlit's frontend, opened on a page URL such as /scratch, first asks /scratch/_stcore/...
    to find the server's base path, gets 404, then uses /_stcore/. Those two 404s are expected."""
    return bool(re.search(r"/[^/]+/_stcore/(health|host-config)$", url))


def open_browser(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def new_page(browser, base_url: str, viewport=(1400, 1000)):
    """A fresh page whose off-machine requests are aborted; returns (page, log)."""
    log = PageLog()
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.add_init_script(RUN_WATCH_JS)
    page = context.new_page()

    def route(r):
        if r.request.url.startswith(base_url) or r.request.url.startswith(("data:", "blob:", "about:")):
            r.continue_()
        else:
            log.blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    def on_console(m):
        if m.type == "error" and not _is_base_path_probe(m.location.get("url", "")):
            log.console_errors.append(f"{m.text} ({m.location.get('url', '')})")

    def on_response(r):
        if r.status >= 400 and not _is_base_path_probe(r.url):
            log.failed.append(f"{r.url} HTTP {r.status}")

    page.on("console", on_console)
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url} {r.failure}"))
    page.on("response", on_response)

    def on_dialog(d):
        log.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return page, log


# Installed in every page before Streamlit loads: the time of the user's last input (any click,
# key or change, in the capture phase) and of the script state's last change (data-test-script-state
# on stApp: "running", "notRunning", ...). wait_for_app waits for a run that ended after the input,
# instead of sleeping a fixed 0.4 s after every action (450 times in a full run).
RUN_WATCH_JS = """
(() => {
  window.__lastInput = -1; window.__lastRunChange = -1; window.__runs = 0;
  for (const ev of ["pointerdown", "click", "keydown", "input", "change"])
    addEventListener(ev, () => { window.__lastInput = performance.now(); }, true);
  let seen = null;
  const look = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app && app.getAttribute("data-test-script-state");
    if (state !== seen) { seen = state; window.__lastRunChange = performance.now();
                          if (state === "running") window.__runs += 1; }
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, attributes: true,
                                                attributeFilter: ["data-test-script-state"]});
})();
"""
NO_RUN_MS = 700  # an input that starts no run (a click on text, a focus): settled after this long

_SETTLED = """(noRunMs) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSpinner"], [data-stale="true"]')) return false;
  if (window.__lastInput === undefined) return true;  // a page opened without new_page
  if (window.__lastInput < 0 && window.__runs < 1) return false;  // the page's first run has not started yet
  return window.__lastRunChange > window.__lastInput || performance.now() - window.__lastInput > noRunMs;
}"""


def wait_for_app(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has finished the run that follows the user's last input (or the page's
    first run): the script state is "notRunning" and changed after that input, no spinner or stale
    element is left. An input that starts no run counts as settled after NO_RUN_MS."""
    try:
        page.wait_for_selector("[data-testid='stMain'] [data-testid='stElementContainer'] >> visible=true",
                               timeout=timeout_ms)
        page.wait_for_function(_SETTLED, arg=NO_RUN_MS, timeout=timeout_ms, polling=50)
    except Exception as err:
        raise AssertionError(f"the app did not settle: {describe(page)}") from err


def describe(page) -> str:
    """What the page shows when a wait fails, and a screenshot in test-artifacts/ to look at."""
    try:
        state = page.evaluate(
            """() => ({url: location.href,
                       script: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
                       connection: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state'),
                       spinners: document.querySelectorAll('[data-testid="stSpinner"]').length,
                       stale: document.querySelectorAll('[data-stale="true"]').length,
                       status: document.querySelector('[data-testid="stStatusWidget"]')?.textContent})""")
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"unsettled-{time.strftime('%H%M%S')}-{os.getpid()}.png"
        page.screenshot(path=str(shot), full_page=True)
        return f"{state}; screenshot {shot}"
    except Exception as err:  # the page itself may be gone
        return f"(could not read the page: {err})"


def failed_on_page(page) -> bool:
    """A Streamlit exception on the page, or a message from the app's last guard (viz.ui.guard)."""
    return bool(page.locator("[data-testid='stException']").count()
                or page.locator("[data-testid='stAlert']").filter(has_text=UNEXPECTED).count())


def wait_for_text(page, text: str, timeout_ms: int = 30_000) -> bool:
    """True once `text` shows in the main area; False after the timeout."""
    try:
        page.wait_for_function(
            "t => document.querySelector('[data-testid=\"stMain\"]').textContent.includes(t)",
            arg=text, timeout=timeout_ms,
        )
        return True
    except Exception:
        return False


def wait_for_plots(page, n: int = 1, timeout_ms: int = 60_000) -> None:
    """Wait until at least n plotly charts have drawn their SVG (plotly adds .main-svg when done)
    and every chart has kept its size for two polls in a row (plotly's resize to the container's
    width comes a moment after the first draw)."""
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}", timeout=timeout_ms
    )
    page.wait_for_function("""() => {
      const sig = [...document.querySelectorAll('.js-plotly-plot .main-svg')]
        .map(e => { const r = e.getBoundingClientRect(); return `${r.width}x${r.height}`; }).join();
      const same = sig === window.__plotSig;
      window.__plotSig = sig;
      return same;
    }""", timeout=timeout_ms, polling=120)
