"""Server CPU per interaction, measured on the real app server driven by a browser (or its protocol).

    python -m benchmarks.interaction_cost                              # the app as it ships
    python -m benchmarks.interaction_cost --config before shipped      # before/after, one run
    python -m benchmarks.interaction_cost --config shipped --only text_input layer_head --repeats 9
    python -m benchmarks.interaction_cost --client protocol --config shipped no-gpu   # a GPU machine

Every config is its own `streamlit run server.py` (tests/browser/harness.serve_app, the flags of
`make run`) with its own headless chromium page, or with `--client protocol` its own session
speaking Streamlit's websocket protocol (tests/load/st_client.py, what the load test uses): no
browser, for a machine without chromium. The configs take turns: repeat 1 of config A,
repeat 1 of config B, repeat 2 of A, ..., so a busy neighbour on the machine hits both alike and
the ratio between them holds even when the absolute numbers do not.

For one interaction: wait until the server is idle (its CPU clock stops moving), read its CPU
seconds (utime + stime of every thread, /proc/<pid>/stat, plus any child process), act in the
browser, wait until the page has settled (without a browser: until the run's script_finished,
and the answer carries what the browser waits for), wait until the server is idle again (Streamlit's
after-run garbage collection runs after the page already shows the result), read again. The
difference is that interaction's server CPU. Wall time runs from the action to the settled page.

Prints a markdown table: median and p90 CPU ms per interaction, median wall ms, the machine and
its load average. A measurement, not a test: it asserts no speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.browser import harness
from tests.browser.harness import open_browser, serve_app, wait_for_app, wait_for_plots

# Server settings to compare. Each is environment for the server process: Streamlit reads
# STREAMLIT_<SECTION>_<OPTION> over .streamlit/config.toml; ATTENTION_LENS_* are the app's own.
CONFIGS: dict[str, dict[str, str]] = {
    "shipped": {},  # .streamlit/config.toml and the code as they are
    # as the app was before: Streamlit's full gc.collect after every run walking every object
    "before": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true", "ATTENTION_LENS_GC_FREEZE": "0",
               "ATTENTION_LENS_TORCH_THREADS": "0"},
    "nogc": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false", "ATTENTION_LENS_GC_FREEZE": "0"},
    "freeze": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true", "ATTENTION_LENS_GC_FREEZE": "1"},
    "freeze-nogc": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false", "ATTENTION_LENS_GC_FREEZE": "1"},
    # torch on one thread: its second intra-op thread waits by spinning, which is CPU time too
    "1thread": {"OMP_NUM_THREADS": "1"},
    # the app now, but torch with its default threads (one per core)
    "torch-default-threads": {"ATTENTION_LENS_TORCH_THREADS": "0"},
    # on a GPU machine: the same server with the GPU hidden, so it runs everything on the CPU
    "no-gpu": {"CUDA_VISIBLE_DEVICES": ""},
}
TICK = os.sysconf("SC_CLK_TCK")
ANIMALS = ("zebra horse camel whale shark eagle tiger rabbit parrot turtle monkey spider dolphin goose "
           "sheep otter").split()
ADJECTIVES = "quiet small happy brave young clever lazy proud gentle curious bright noisy tired calm".split()


def sentence(i: int) -> str:
    """A distinct 15-token sentence (MiniLM: 15 word pieces between [CLS] and [SEP])."""
    return (f"The {ANIMALS[i % len(ANIMALS)]} sat near the river bank at dawn while "
            f"the {ADJECTIVES[i % len(ADJECTIVES)]} birds sang.")


# --- the server's CPU clock -------------------------------------------------------------------

def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), its live descendants, and its reaped
    children (cutime + cstime): a training job in a worker process counts too."""
    f = _stat(pid)
    ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    for kid in _children(pid):
        try:
            ticks += round(cpu_seconds(kid) * TICK)
        except (OSError, IndexError):
            pass  # it ended meanwhile: its time is now in our cutime
    return ticks / TICK


def wait_idle(pid: int, quiet_s: float = 0.3, timeout_s: float = 20.0) -> None:
    """Until the server's CPU clock stands still (at most one tick) for `quiet_s`."""
    deadline = time.monotonic() + timeout_s
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - last <= 1.0 / TICK:
            return
        last = now


# --- interactions ------------------------------------------------------------------------------

@dataclass
class Interaction:
    """`open` brings a fresh page to where the interaction starts (model loaded, one warm-up
    done); `act(page, i)` does the i-th distinct input, waits for its result and returns how
    many units it did (1, or the training steps: CPU is reported per unit)."""
    name: str
    what: str
    open: Callable
    act: Callable
    max_repeats: int = 100
    proto_open: Callable | None = None  # the same without a browser: open(url) -> StreamlitSession
    proto_act: Callable | None = None  # act(session, i) -> units


def _goto(page, url: str, plots: int = 1) -> None:
    page.goto(url)
    wait_for_app(page, timeout_ms=900_000)  # a first visit loads a model: minutes on a busy machine
    wait_for_plots(page, plots, timeout_ms=900_000)


def _pick(page, key: str, option: str) -> None:
    """Choose `option` in the selectbox with widget key `key`."""
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()


def _url_param_is(page, name: str, value: str) -> None:
    """The text page writes its view into the URL as its last step: wait for it, then settle."""
    page.wait_for_function("([n, v]) => new URLSearchParams(location.search).get(n) === v", arg=[name, value],
                           timeout=120_000)
    wait_for_app(page)


def _text_open(page, url):
    _goto(page, f"{url}/text")
    _text_act(page, 1000)  # warm-up: the first input after the model load


def _text_act(page, i):
    text = sentence(i)
    box = page.get_by_role("textbox", name="Your text")
    box.fill(text)
    box.press("Control+Enter")
    _url_param_is(page, "text", text)
    return 1


def _head_act(page, i):
    head = str((i + 1) % 12)
    _pick(page, "text_head", head)
    _url_param_is(page, "head", head)
    return 1


def _image_open(page, url):
    _goto(page, f"{url}/image", plots=2)  # the first sample is traced on the way


IMAGE_SAMPLES = ["Astronaut (Eileen Collins)", "A cup of coffee", "A rocket on its launch pad", "Hubble deep field"]


def _image_act(page, i):
    # every sample once: a repeat would come from the trace cache (viz/ui/image_cache.py)
    _pick(page, "image_sample", IMAGE_SAMPLES[i])
    wait_for_app(page, timeout_ms=120_000)
    wait_for_plots(page, 2)
    return 1


def _image_head_act(page, i):
    head = str(1 + i % 5)  # never the default head (0), which the URL leaves out
    _pick(page, "image_head", head)
    _url_param_is(page, "head", head)
    wait_for_plots(page, 2)
    return 1


def _scratch_open(page, url):
    _goto(page, f"{url}/scratch", plots=2)
    _scratch_act(page, 1000)


def _scratch_act(page, i):
    word = "".join("abcdefghijklmnopqrstuvwxyz"[(i * 7 + 3 * j) % 26] for j in range(10))
    box = page.get_by_role("textbox", name="Your input")
    box.fill(word)
    box.press("Enter")
    page.wait_for_function("w => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(w)",
                           arg=word[::-1], timeout=120_000)
    wait_for_app(page)
    return 1


def _softmax_open(page, url):
    _goto(page, f"{url}/softmax", plots=5)
    _softmax_act(page, 1000)


def _softmax_act(page, i):
    sel = ".st-key-softmax_temperature input[type=range]"  # Streamlit's slider: a react-aria range input
    before = page.locator(sel).input_value()
    page.locator(sel).press("ArrowRight" if i % 2 == 0 else "ArrowLeft")  # T = 1 -> 1.12 -> 1 -> ...
    page.wait_for_function("([s, b]) => document.querySelector(s).value !== b", arg=[sel, before], timeout=30_000)
    wait_for_app(page)
    return 1


def _positional_open(page, url):
    _goto(page, f"{url}/positional", plots=7)
    _positional_act(page, 1000)


def _positional_k(i: int) -> int:
    """offset k after act i: 3 (the default) -> 4 (the warm-up, i = 1000) -> 5 -> 4 -> 5 ..."""
    return 4 if i == 1000 or i % 2 else 5


def _positional_act(page, i):
    up = i == 1000 or _positional_k(i) == 5  # the warm-up goes 3 -> 4, then 4 -> 5 -> 4 ...
    page.locator(".st-key-pos_k input[type=range]").press("ArrowRight" if up else "ArrowLeft")
    _url_param_is(page, "k", str(_positional_k(i)))  # every section of the page is drawn again
    return 1


TRAIN_STEPS = 100


def _train_open(page, url):
    _goto(page, f"{url}/scratch", plots=2)
    page.get_by_role("tab", name="Train live").click()
    sel = ".st-key-train_steps input[type=range]"
    page.locator(sel).wait_for(state="attached", timeout=30_000)
    page.locator(sel).press("Home")  # the smallest number of steps
    page.wait_for_function("s => document.querySelector(s).value === document.querySelector(s).min", arg=sel,
                           timeout=30_000)
    wait_for_app(page)
    steps = page.locator(".st-key-train_steps").inner_text()
    if str(TRAIN_STEPS) not in steps:
        raise RuntimeError(f"the Steps slider shows {steps!r}, expected {TRAIN_STEPS}")


def _train_act(page, i):
    """One short training run on the Train live tab (a job in the server's training queue, trained
    in a child process whose CPU counts too); returns its steps. While the job is queued or
    running the tab shows its progress instead of the last result's "Done: ..." line."""
    shows = "t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)"
    gone = "t => !document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)"
    done = f"Done: {TRAIN_STEPS} steps in"
    page.get_by_role("button", name="Train a fresh model").click()
    page.wait_for_function(gone, arg=done, timeout=60_000)  # the job is queued or running
    page.wait_for_function(shows, arg=done, timeout=600_000)
    wait_for_app(page, timeout_ms=600_000)
    return TRAIN_STEPS


# --- the same interactions without a browser (--client protocol) ------------------------------
# tests/load/st_client.StreamlitSession speaks Streamlit's websocket protocol, as a browser's page
# does, and `open(url)` returns one; `act(session, i)` checks that the answer carries what the
# browser version waits for. For a machine without chromium (a GPU machine, say).

def _session(url: str, page: str):
    from tests.load.st_client import StreamlitSession  # websockets + streamlit's protobufs only

    s = StreamlitSession(url, page, timeout=900)  # a first visit loads a model
    s.open()
    return s


def _checked(result, what: str, needle: str | None = None, charts: int = 0) -> int:
    """1 (one unit of work) when the run's answer has `charts` charts or more and carries `needle`."""
    from tests.load.st_client import ProtocolError

    if result.charts < charts:
        raise ProtocolError(f"{what}: {result.charts} charts in the answer, not {charts}")
    if needle is not None and not result.contains(needle):
        raise ProtocolError(f"{what}: the answer does not carry {needle!r}")
    return 1


def _p_opener(page: str, warm_up: Callable | None = None) -> Callable:
    """open(url) for `page`: a session on it, with one warm-up act (input 1000) when given."""
    def open_(url):
        s = _session(url, page)
        if warm_up is not None:
            warm_up(s, 1000)
        return s
    return open_


def _p_text_act(s, i):
    r = s.submit("Your text", sentence(i))
    return _checked(r, "text_input", ANIMALS[i % len(ANIMALS)], charts=1)  # a token of this sentence's


def _p_head_act(s, i):
    layer = s.widget("Layer", "selectbox").proto.options[-1]  # stays put: the head changes
    head = str((i + 1) % 12)
    s.set_string("Layer", layer)
    s.set_string("Head", head)
    return _checked(s.run(), "layer_head", f"layer{layer}_head{head}")  # the chart's export name


def _p_image_act(s, i):
    r = s.submit("Sample image (scikit-image's bundled data)", IMAGE_SAMPLES[i])
    return _checked(r, "image_sample", charts=2)


def _p_image_head_act(s, i):
    head = str(1 + i % 5)
    return _checked(s.submit("Head", head), "image_head", f"head {head}", charts=2)  # the overlay's title


def _p_scratch_act(s, i):
    word = "".join("abcdefghijklmnopqrstuvwxyz"[(i * 7 + 3 * j) % 26] for j in range(10))
    return _checked(s.submit("Your input", word), "scratch_input", word[::-1])


SOFTMAX_SLIDER = "Temperature T (log scale)"


def _p_positional_act(s, i):
    k = _positional_k(i)
    s.set_number("offset k", k)
    return _checked(s.run(), "positional_slider", f"R_k for k = {k}", charts=7)


def _p_softmax_act(s, i):
    """One notch right of T = 1, then back (the browser's arrow keys)."""
    options = list(s.widget(SOFTMAX_SLIDER, "slider").proto.options)
    one = options.index("1.0")
    s.set_choice(SOFTMAX_SLIDER, options[one + 1 if i % 2 == 0 else one])
    return _checked(s.run(), "softmax_slider", charts=5)


def _p_train_open(url):
    s = _session(url, "scratch")
    s.set_number("Steps", TRAIN_STEPS)
    s.run()
    return s


def _p_train_act(s, i):
    done = f"Done: {TRAIN_STEPS} steps in"
    s.press("Train a fresh model")
    r = s.finish()
    if not r.contains(done) and s.follow(done, timeout=600) is None:
        from tests.load.st_client import ProtocolError

        raise ProtocolError("train_step: the training ended without its result")
    return TRAIN_STEPS


INTERACTIONS = [
    Interaction("text_input", "text page: a new 15-token sentence", _text_open, _text_act,
                proto_open=_p_opener("text", _p_text_act), proto_act=_p_text_act),
    Interaction("layer_head", "text page: another head", lambda p, u: _text_open(p, u), _head_act,
                proto_open=_p_opener("text", _p_text_act), proto_act=_p_head_act),
    Interaction("image_sample", "image page: another sample image", _image_open, _image_act, max_repeats=4,
                proto_open=_p_opener("image"), proto_act=_p_image_act),
    Interaction("image_head", "image page: another head", _image_open, _image_head_act,
                proto_open=_p_opener("image"), proto_act=_p_image_head_act),
    Interaction("scratch_input", "scratch page: a new word", _scratch_open, _scratch_act,
                proto_open=_p_opener("scratch", _p_scratch_act), proto_act=_p_scratch_act),
    Interaction("softmax_slider", "softmax page: temperature slider one notch", _softmax_open, _softmax_act,
                proto_open=_p_opener("softmax", _p_softmax_act), proto_act=_p_softmax_act),
    Interaction("positional_slider", "positional page: the offset k slider one step (the whole page)",
                _positional_open, _positional_act, proto_open=_p_opener("positional", _p_positional_act),
                proto_act=_p_positional_act),
    Interaction("train_step", f"scratch page: Train live, {TRAIN_STEPS} steps (per step)", _train_open, _train_act,
                max_repeats=3, proto_open=_p_train_open, proto_act=_p_train_act),
]


# --- running it --------------------------------------------------------------------------------

@dataclass
class Sample:
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)


@contextmanager
def _server_with(env: dict[str, str], root: Path | None = None):
    """serve_app with extra environment for the server process (it copies os.environ), run from
    `root` (another checkout of the app, e.g. the code before a change) when given."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    saved_root = harness.ROOT
    harness.ROOT = root or saved_root  # serve_app runs `streamlit run app.py` in harness.ROOT
    try:
        with serve_app(timeout=180) as server:
            harness.ROOT = saved_root
            for k, v in saved.items():  # restore now: the next server gets its own
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            yield server
    finally:
        harness.ROOT = saved_root
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _plain_page(browser):
    """A page as a student's browser has it. Not the tests' new_page: its request routing turns off
    chromium's HTTP cache, and the browser then fetches /favicon.png again after every script
    run (Streamlit's frontend sets the icon each run), about 7 ms of server CPU each time that a
    real browser serves from its cache."""
    return browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()


def measure(servers: dict, browser, interactions, repeats: int, train_repeats: int) -> dict[tuple[str, str], Sample]:
    """Every interaction on every server, the configs taking turns. `browser`: a chromium to drive
    pages in, or None to speak Streamlit's protocol instead (proto_open / proto_act)."""
    results: dict[tuple[str, str], Sample] = {}
    for it in interactions:
        clients = {}
        for name, server in servers.items():
            if browser is None:
                clients[name] = it.proto_open(server.url)
            else:
                clients[name] = _plain_page(browser)
                it.open(clients[name], server.url)
        act = it.act if browser is not None else it.proto_act
        n = min(train_repeats if it.name == "train_step" else repeats, it.max_repeats)
        for i in range(n):
            for name, server in servers.items():  # the configs take turns
                client, s = clients[name], results.setdefault((it.name, name), Sample())
                wait_idle(server.pid)
                cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
                units = act(client, i)
                wall = time.perf_counter() - t0
                wait_idle(server.pid)
                s.cpu_ms.append(1000 * (cpu_seconds(server.pid) - cpu0) / units)
                s.wall_ms.append(1000 * wall / units)
        for client in clients.values():
            client.context.close() if browser is not None else client.close()
        print(f"  {it.name}: done ({n} each)", flush=True)
    return results


def p90(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]


def machine() -> str:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except Exception:
        gpu = "no GPU"
    return f"{os.cpu_count()} CPU cores ({model}), {gpu}, Python {platform.python_version()}"


def table(results, interactions, configs: list[str]) -> str:
    rows = ["| interaction | config | n | server CPU median (ms) | CPU mean (ms) | CPU p90 (ms) | wall median (ms) |"
            + (f" CPU vs {configs[0]} |" if len(configs) > 1 else ""),
            "|---|---|---|---|---|---|---|" + ("---|" if len(configs) > 1 else "")]
    for it in interactions:
        base = results.get((it.name, configs[0]))
        for c in configs:
            s = results.get((it.name, c))
            if not s:
                continue
            cpu = statistics.median(s.cpu_ms)
            ratio = ""
            if len(configs) > 1:
                b = statistics.median(base.cpu_ms)
                ratio = f" {cpu / b:.2f}x |" if b > 0 else " - |"
            rows.append(f"| {it.name} | {c} | {len(s.cpu_ms)} | {cpu:.0f} | {statistics.mean(s.cpu_ms):.0f} | {p90(s.cpu_ms):.0f} | "
                        f"{statistics.median(s.wall_ms):.0f} |{ratio}")
    return "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", nargs="+", default=["shipped"], choices=list(CONFIGS),
                    help="server configs to compare, measured in turns (first = the reference for ratios)")
    ap.add_argument("--only", nargs="+", choices=[it.name for it in INTERACTIONS], help="a subset of interactions")
    ap.add_argument("--repeats", type=int, default=7, help="distinct inputs per interaction and config")
    ap.add_argument("--train-repeats", type=int, default=3, help="training runs per config (each is slow)")
    ap.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                    help="also measure the app in this other checkout as config 'baseline' (first), e.g. the code "
                         "before a change: git worktree add /tmp/base main && ln -s $PWD/.venv /tmp/base/.venv")
    ap.add_argument("--client", choices=["browser", "protocol"], default="browser",
                    help="drive the pages in headless chromium (default), or speak Streamlit's websocket protocol "
                         "as the load test does (tests/load/st_client.py): for a machine without chromium")
    args = ap.parse_args(argv)
    configs = {c: (CONFIGS[c], None) for c in args.config}
    if args.baseline:
        if not (args.baseline / "app.py").exists():
            ap.error(f"{args.baseline} has no app.py")
        configs = {"baseline": ({}, args.baseline.resolve())} | configs
    interactions = [it for it in INTERACTIONS if not args.only or it.name in args.only]

    load_before = Path("/proc/loadavg").read_text().split()[:3]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with ExitStack() as stack:
        servers = {c: stack.enter_context(_server_with(env, root)) for c, (env, root) in configs.items()}
        browser = None
        if args.client == "browser":
            from playwright.sync_api import sync_playwright

            browser = open_browser(stack.enter_context(sync_playwright()))
            stack.callback(browser.close)
        results = measure(servers, browser, interactions, args.repeats, args.train_repeats)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    client = "a headless chromium page" if args.client == "browser" else "Streamlit's protocol (no browser)"
    print(f"\nServer CPU per interaction, {started}, {machine()}; driven by {client}.")
    print(f"Load average (1, 5, 15 min) before: {' '.join(load_before)}; after: {' '.join(load_after)}.")
    for c, (env, root) in configs.items():
        print(f"- {c}: " + (f"the app in {root}, as shipped there" if root else str(env or "as shipped")))
    print()
    print(table(results, interactions, list(configs)))


if __name__ == "__main__":
    main()
