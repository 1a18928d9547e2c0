"""The app as it is served: `streamlit run server.py` (make run, make serve, the tests' servers).

app.py is the app. This adds one HTTP route to Streamlit's own server (st.App): the one that
students' pages wait on for the teacher's next move (viz/classroom/beacon.py). `streamlit run
app.py` still works; its students' pages then fetch a small file twice a second instead.
"""

import streamlit as st
from starlette.routing import Route

from viz.classroom.beacon import WAIT_ROUTE, wait_for_version

app = st.App("app.py", routes=[Route(WAIT_ROUTE, wait_for_version)])
