"""Attention Lens: models, traces and figures; the Streamlit pages live in app_pages/.

Large tensors here are short-lived and big (a 512-token trace allocates two 75 MB arrays), and
on Linux each new 4 KiB page costs a fault: 28 ms per 75 MB on the dev machine, as much as the
arithmetic. torch's CPU allocator puts allocations of 2 MB and more on transparent huge pages
when THP_MEM_ALLOC_ENABLE is set; it reads the variable at its first allocation, so this must run
before any tensor exists (importing torch allocates none). Set it to 0 to opt out.
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
