"""Several Streamlit replicas behind HAProxy, on one machine: `make serve REPLICAS=3`.

    python -m deploy.serve --replicas 3 [--port 8500] [--address 127.0.0.1]

Starts N `streamlit run server.py` replicas on 127.0.0.1, ports port+1 .. port+N, then HAProxy on
address:port in the foreground (deploy/haproxy.cfg): sticky sessions by a SERVERID cookie, health
checks on /_stcore/health, websocket-friendly timeouts, and redispatch to another replica when
one is down. Ctrl+C stops everything.

The replicas share one cookie secret, so the XSRF cookie that one replica signed is valid on
every other (an upload works on any replica, and after a failover). It comes from
$ATTENTION_LENS_COOKIE_SECRET, else from deploy/.cookie-secret (gitignored), generated once.
Replica logs go to deploy/logs/. The replicas share one class store (a class's teacher and students
may land on different replicas): the SQLite file $ATTENTION_LENS_CLASS_DB, else deploy/class.db.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
SECRET_FILE = HERE / ".cookie-secret"
LOGS = HERE / "logs"
CLASS_DB = HERE / "class.db"  # the replicas' shared class store (gitignored); classes survive a restart
HAPROXY_HINT = ("haproxy not found. Install Debian's package: sudo apt-get install haproxy "
                "(HAProxy 2.x; deploy/haproxy.cfg is the configuration).")


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def cookie_secret() -> str:
    """One secret for every replica: the environment's, else the file's, else a new one."""
    env = os.environ.get("ATTENTION_LENS_COOKIE_SECRET")
    if env:
        return env
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    secret = secrets.token_hex(32)
    SECRET_FILE.touch(mode=0o600)
    SECRET_FILE.write_text(secret + "\n")
    return secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start on {url}\n{tail}")
        time.sleep(0.3)


@dataclass
class Replica:
    name: str  # r1, r2, ...: also its SERVERID cookie value
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    url: str  # HAProxy's front
    haproxy: subprocess.Popen
    replicas: list[Replica] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        """Every server process: replicas that still run, and HAProxy."""
        return [r.proc.pid for r in self.replicas if r.proc.poll() is None] + [self.haproxy.pid]

    def replica(self, name: str) -> Replica:
        return next(r for r in self.replicas if r.name == name)


def start_replica(name: str, port: int, secret: str, extra_args=(), class_db: str = "") -> Replica:
    LOGS.mkdir(exist_ok=True)
    log = LOGS / f"{name}-{port}.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "STREAMLIT_SERVER_COOKIE_SECRET": secret}  # not on the command line: ps shows that
    if class_db:  # every replica opens the same class store (viz/classroom)
        env["ATTENTION_LENS_CLASS_DB"] = class_db
    streamlit = Path(sys.executable).parent / "streamlit"
    with open(log, "wb") as out:  # a file, never a pipe nobody reads (it fills and blocks)
        proc = subprocess.Popen(
            [str(streamlit), "run", "server.py", "--server.address=127.0.0.1", f"--server.port={port}",
             "--server.headless=true", *extra_args],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Replica(name, port, proc, log)


def render_config(front: str, replicas: list[Replica]) -> str:
    servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} check cookie {r.name}" for r in replicas)
    return (HERE / "haproxy.cfg").read_text().replace("{front}", front).replace("{servers}", servers)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def cluster(n: int, port: int | None = None, address: str = "127.0.0.1", timeout: float = 120.0,
            replica_ports: list[int] | None = None, class_db: str | None = None):
    """Start n replicas and HAProxy in front; yield a Cluster; stop all of them on exit.
    The replicas share one class store: `class_db`, else $ATTENTION_LENS_CLASS_DB, else a file
    in a temporary folder that lives as long as the cluster."""
    hap = haproxy_path()
    if hap is None:
        raise RuntimeError(HAPROXY_HINT)
    port = port or free_port()
    ports = replica_ports or ([port + 1 + i for i in range(n)] if port_free(port + 1) else
                              [free_port() for _ in range(n)])
    secret = cookie_secret()
    with ExitStack() as stack:
        cfg_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="haproxy-")))
        class_db = class_db or os.environ.get("ATTENTION_LENS_CLASS_DB") or str(cfg_dir / "class.db")
        replicas = []
        for i, p in enumerate(ports, 1):
            r = start_replica(f"r{i}", p, secret, class_db=class_db)
            stack.callback(_stop, r.proc)
            replicas.append(r)
        for r in replicas:  # they load in parallel
            wait_healthy(r.url, r.proc, timeout, f"replica {r.name}", r.log)
        cfg = cfg_dir / "haproxy.cfg"
        cfg.write_text(render_config(f"{address}:{port}", replicas))
        check = subprocess.run([hap, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refused the configuration (exit {check.returncode}):\n"
                               f"{check.stdout}{check.stderr}{cfg.read_text()}")
        hap_log = LOGS / f"haproxy-{port}.log"
        with open(hap_log, "wb") as out:
            proxy = subprocess.Popen([hap, "-db", "-f", str(cfg)], stdout=out, stderr=subprocess.STDOUT)
        stack.callback(_stop, proxy)
        url = f"http://{address}:{port}"
        wait_healthy(url, proxy, 30, "haproxy", hap_log)
        yield Cluster(url, proxy, replicas)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--port", type=int, default=8500, help="HAProxy's port; replicas take the next ones")
    ap.add_argument("--address", default="127.0.0.1",
                    help="HAProxy's address (0.0.0.0 to serve a classroom's network)")
    args = ap.parse_args(argv)
    if haproxy_path() is None:
        print(HAPROXY_HINT, file=sys.stderr)
        return 2
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        with cluster(args.replicas, args.port, args.address,
                     replica_ports=[args.port + 1 + i for i in range(args.replicas)],
                     class_db=os.environ.get("ATTENTION_LENS_CLASS_DB") or str(CLASS_DB)) as c:
            for r in c.replicas:
                print(f"replica {r.name}: {r.url} (pid {r.proc.pid}, log {r.log.relative_to(ROOT)})")
            print(f"Open {c.url} (HAProxy, pid {c.haproxy.pid}). Ctrl+C stops everything.", flush=True)
            gone: set[str] = set()
            while not stop:
                if c.haproxy.poll() is not None:
                    print("haproxy exited; stopping the replicas", file=sys.stderr)
                    return 1
                for r in c.replicas:
                    if r.proc.poll() is not None and r.name not in gone:
                        gone.add(r.name)
                        print(f"replica {r.name} exited (code {r.proc.returncode}); HAProxy sends "
                              "its sessions to the others", file=sys.stderr, flush=True)
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
