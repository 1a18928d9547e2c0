"""The app as it is served: `streamlit run server.py` (make run, make serve, the tests' servers).

app.py is the app. This adds one HTTP route to Streamlit's own server (st.App): the one that
students' pages wait on for the teacher's next move, GET class-version/<token>?since=<v>[&wait=<s>]
(viz/classroom/beacon.py). `streamlit run app.py` still works; its students' pages then fetch a
small file twice a second instead.
"""

import streamlit as st
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from viz.classroom import beacon

MAX_WAITING = 1000  # requests waiting at once in this process; more get 503 and try again
_waiting = 0  # only the event loop's thread touches it


async def class_version(request: Request) -> JSONResponse:
    """{"v": version} when the class's version differs from ?since= (or after ?wait= seconds,
    25 at most); 404 for a token or number that is not one, 410 once the class has ended."""
    global _waiting
    headers = {"Cache-Control": "no-store"}
    if _waiting >= MAX_WAITING:
        return JSONResponse({"error": "busy"}, status_code=503, headers={**headers, "Retry-After": "1"})
    _waiting += 1
    try:
        since = request.query_params.get("since")
        version = await beacon.next_version(request.path_params["token"], None if since is None else int(since),
                                            float(request.query_params.get("wait", beacon.WAIT_MAX_S)))
    except ValueError:
        return JSONResponse({"error": "not a class version request"}, status_code=404, headers=headers)
    finally:
        _waiting -= 1
    if version is None:
        return JSONResponse({"gone": True}, status_code=410, headers=headers)
    return JSONResponse({"v": version}, headers=headers)


app = st.App("app.py", routes=[Route(beacon.WAIT_ROUTE, class_version)])
