"""The servers a load run measures, started here: one Streamlit server, or HAProxy with replicas."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def local_servers(replicas: int = 0):
    """Yield (front URL, server pids): `replicas` > 0 starts HAProxy and that many replicas
    (deploy/serve.py); 0 starts one server as `make run` does."""
    if replicas:
        from deploy.serve import cluster
        with cluster(replicas) as c:
            yield c.url, c.pids
    else:
        from tests.browser.harness import serve_app
        with serve_app() as s:
            yield s.url, [s.pid]
