"""`import viz` puts torch's large CPU allocations on transparent huge pages (viz/__init__.py)."""

import os
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import viz, torch, os
x = torch.empty(64 * 2**20 // 4).fill_(1.0)  # 64 MB, as big as a 512-token trace's arrays
huge = next(l for l in open("/proc/self/smaps_rollup") if l.startswith("AnonHugePages")).split()[1]
print(os.environ.get("THP_MEM_ALLOC_ENABLE"), int(huge) // 1024)
"""


def run(env_thp: str | None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if env_thp is not None:
        env["THP_MEM_ALLOC_ENABLE"] = env_thp
    out = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], check=True).stdout.split()
    return out[0], int(out[1])


def test_import_viz_turns_on_huge_pages_and_can_be_opted_out():
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    value, huge_mb = run(None)
    assert value == "1"
    off_value, off_mb = run("0")
    assert off_value == "0"  # the user's setting wins
    if "[madvise]" in mode:  # the kernel gives huge pages only to regions torch asks for
        assert huge_mb >= 32 and off_mb == 0
    elif "[always]" in mode:
        assert huge_mb >= 32
    else:  # "[never]": the kernel has none to give; the variable is still set for torch
        assert huge_mb == 0
