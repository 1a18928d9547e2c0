"""A Streamlit session without a browser: speaks the app's own websocket protocol.

The browser and the server exchange protobufs that ship with the streamlit package:
the client sends `BackMsg`s, the server answers with `ForwardMsg`s. What a session does here is
what the frontend does (read from streamlit's starlette_websocket.py and app_session.py):

1. GET /_stcore/health, as the frontend does first. Through a load balancer this also picks the
   replica: HAProxy answers with its sticky cookie, which every later request carries.
2. Open ws://host/_stcore/stream with the subprotocol list ["streamlit", xsrf, session id].
   The second entry is only read for the auth cookie (unused here); the third asks the server to
   reconnect to an existing session (a replica that never saw it starts a fresh one).
3. Send BackMsg.rerun_script with ClientState(query_string, page_name, widget_states): the URL's
   path names the page (e.g. "text"); later reruns send the page_script_hash that the run's
   `navigation` message named.
4. Read ForwardMsgs until script_finished: new_session, deltas (elements, including the widgets
   with their ids), page_info_changed, ... A rerun after an input sends the whole widget state
   with the changed value, as the frontend does.

An interaction's latency runs from sending the rerun to its script_finished, the moment the
browser has every delta of that run. The browser then still draws (plotly); that part costs the
browser, not the server, and is why the chromium load test's numbers are a little higher.

Custom components (st.components.v2) run JavaScript in the browser; a load client does by hand
what that script does (tests/load/class_follow.py fetches the class's version file) and sends its
trigger with `trigger()`.

`cached_message_hashes` stays empty: every message arrives in full (the browser would get
references to the big messages it already holds, which saves bytes, not server compute).
"""

from __future__ import annotations

import http.client
import http.cookies
import json
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect

WIDGET_TYPES = ("text_area", "text_input", "selectbox", "button", "radio", "slider", "checkbox",
                "number_input")
FINISHED = {"FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"}


class ProtocolError(RuntimeError):
    """The server answered something a browser would show as a failure."""


@dataclass
class Widget:
    kind: str  # the element's proto field: text_area, selectbox, button, ...
    id: str
    label: str
    proto: object  # the element's own proto (options, default, ...)
    fragment_id: str = ""  # the st.fragment it was drawn in: pressing it reruns only that


@dataclass
class RunResult:
    seconds: float
    status: str
    deltas: list[bytes] = field(default_factory=list)  # every delta of the run, serialized
    elements: list[str] = field(default_factory=list)  # element types in arrival order
    texts: list[str] = field(default_factory=list)  # markdown, alerts, progress texts
    messages: Counter = field(default_factory=Counter)  # ForwardMsg type -> how many the run sent

    def contains(self, needle: str) -> bool:
        """True when `needle` is in any delta of the run (text, chart specs, widget values)."""
        b = needle.encode()
        return any(b in d for d in self.deltas)

    @property
    def charts(self) -> int:
        return self.elements.count("plotly_chart")

    @property
    def exceptions(self) -> int:
        return self.elements.count("exception")


class StreamlitSession:
    """One Streamlit session (one browser tab) on `base_url`, opened on `page` (a URL path)."""

    def __init__(self, base_url: str, page: str = "", timeout: float = 120.0, cookie: str = ""):
        self.base_url = base_url.rstrip("/")
        self.page = page.strip("/")
        self.timeout = timeout
        self.cookie = cookie  # what the balancer set (SERVERID=...); sent with every request
        self.session_id = ""
        self.page_script_hash = ""
        self.query_string = ""
        self.widgets: dict[str, Widget] = {}  # by label, from the latest run
        self.states: dict[str, WidgetState] = {}  # by widget id: what the frontend would send
        self.reconnects = 0
        self._ws = None
        self._pending: list[ForwardMsg] = []
        self._auto_rerun: dict[str, float] = {}  # fragment id -> interval in s
        self.components: dict[str, dict] = {}  # custom component (v2) id -> the data it was given
        self._http: http.client.HTTPConnection | None = None  # for get()

    # --- connection -------------------------------------------------------------------------

    def _take_cookie(self, headers) -> None:
        for raw in headers.get_all("Set-Cookie") or []:
            c = http.cookies.SimpleCookie()
            c.load(raw)
            if "SERVERID" in c:
                self.cookie = f"SERVERID={c['SERVERID'].value}"

    @property
    def replica(self) -> str:
        """The replica HAProxy pinned this session to (its SERVERID cookie), "" without one."""
        return self.cookie.partition("=")[2]

    def xsrf_cookie(self) -> str:
        """GET /_stcore/health, as the frontend does before it connects: the server answers
        with its XSRF cookie (a token the frontend echoes in X-Xsrftoken on uploads)."""
        req = urllib.request.Request(f"{self.base_url}/_stcore/health")
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            self._take_cookie(r.headers)
            for raw in r.headers.get_all("Set-Cookie") or []:
                c = http.cookies.SimpleCookie()
                c.load(raw)
                if "_streamlit_xsrf" in c:
                    return c["_streamlit_xsrf"].value
        raise ProtocolError("the server set no _streamlit_xsrf cookie (is XSRF protection on?)")

    def upload(self, name: str, data: bytes, mime: str, xsrf: str, token: str | None = None) -> int:
        """Upload a file as st.file_uploader's frontend does; return the PUT's HTTP status.

        Asks the session for an upload URL (BackMsg.file_urls_request), then PUTs the file as
        multipart form data with the XSRF cookie and the X-Xsrftoken header (`token`, default:
        the cookie's own value, as the frontend sends it)."""
        msg = BackMsg()
        msg.file_urls_request.request_id = "upload-1"
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.append(name)
        self._ws.send(msg.SerializeToString())
        deadline = time.monotonic() + self.timeout
        while True:
            fm = self._recv(deadline)
            if fm.WhichOneof("type") == "file_urls_response":
                resp = fm.file_urls_response
                if resp.error_msg:
                    raise ProtocolError(f"no upload URL: {resp.error_msg}")
                upload_url = resp.file_urls[0].upload_url
                break
        boundary = "----attention-lens-load"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: {mime}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        parts = urlsplit(self.base_url)
        url = upload_url if upload_url.startswith("http") else f"{parts.scheme}://{parts.netloc}{upload_url}"
        req = urllib.request.Request(url, data=body, method="PUT")
        req.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        req.add_header("X-Xsrftoken", xsrf if token is None else token)
        req.add_header("Cookie", "; ".join(c for c in (self.cookie, f"_streamlit_xsrf={xsrf}") if c))
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status
        except urllib.error.HTTPError as err:
            return err.code

    def health(self) -> str:
        """GET /_stcore/health as the frontend does before it connects; returns the body."""
        req = urllib.request.Request(f"{self.base_url}/_stcore/health")
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            self._take_cookie(r.headers)
            return r.read().decode()

    def connect(self) -> None:
        self.health()
        parts = urlsplit(self.base_url)
        ws_url = f"ws://{parts.netloc}{parts.path}/_stcore/stream"
        # The frontend's subprotocol list: "streamlit", then the XSRF token (only used to read
        # an auth cookie; none here), then the session to resume after a reconnect.
        protocols = ["streamlit", "xsrf", self.session_id] if self.session_id else ["streamlit"]
        headers = {"Cookie": self.cookie} if self.cookie else {}
        self._ws = connect(ws_url, subprotocols=protocols, additional_headers=headers,
                           open_timeout=self.timeout, max_size=None, compression=None,
                           ping_interval=None).__enter__()  # browsers send no pings either
        resp = self._ws.response
        if resp is not None:
            self._take_cookie(resp.headers)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                pass
            self._ws = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- messages ---------------------------------------------------------------------------

    def _send_rerun(self, fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_script_hash
        cs.page_name = "" if self.page_script_hash else self.page
        cs.widget_states.widgets.extend(self.states.values())
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = auto
        self._ws.send(msg.SerializeToString())

    def _recv(self, deadline: float) -> ForwardMsg:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no script_finished within {self.timeout:.0f} s")
        raw = self._ws.recv(timeout=left)
        fm = ForwardMsg()
        fm.ParseFromString(raw)
        return fm

    def _absorb(self, fm: ForwardMsg, result: RunResult) -> None:
        kind = fm.WhichOneof("type")
        result.messages[kind] += 1
        if kind == "new_session":
            self.session_id = fm.new_session.initialize.session_id or self.session_id
        elif kind == "navigation":
            # st.navigation's message names the page that ran (new_session's hash is app.py's)
            self.page_script_hash = fm.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = fm.page_info_changed.query_string
        elif kind == "auto_rerun":
            self._auto_rerun[fm.auto_rerun.fragment_id] = fm.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for frag in fm.stop_auto_rerun.fragment_ids:
                self._auto_rerun.pop(frag, None)
        elif kind == "delta":
            result.deltas.append(fm.delta.SerializeToString())
            if fm.delta.WhichOneof("type") == "new_element":
                el = fm.delta.new_element
                etype = el.WhichOneof("type")
                result.elements.append(etype)
                if etype in WIDGET_TYPES:
                    w = getattr(el, etype)
                    self.widgets[w.label] = Widget(etype, w.id, w.label, w, fm.delta.fragment_id)
                elif etype == "markdown":
                    result.texts.append(el.markdown.body)
                elif etype == "heading":
                    result.texts.append(el.heading.body)
                elif etype == "html":
                    result.texts.append(el.html.body)
                elif etype == "alert":
                    result.texts.append(el.alert.body)
                elif etype == "progress":
                    result.texts.append(el.progress.text)
                elif etype == "bidi_component":
                    self.components[el.bidi_component.id] = json.loads(el.bidi_component.json or "null")
                elif etype == "exception":
                    result.texts.append(f"{el.exception.type}: {el.exception.message}")

    def send(self, fragment_id: str = "", auto: bool = False) -> None:
        """Start a rerun (what an input does in the browser); `finish` reads its answer."""
        if self._ws is None:
            self.connect()
        self._start = time.perf_counter()
        self._deadline = time.monotonic() + self.timeout
        if not fragment_id:
            # As the frontend does: a full run drops every fragment timer, and the run's auto_rerun
            # messages set the live ones again. A fragment whose position on the page moved gets a
            # new id; asking for the old one, the server answers nothing (AppSession.request_rerun).
            self._auto_rerun.clear()
        self._send_rerun(fragment_id, auto)

    def finish(self) -> RunResult:
        """Read until the started run's script_finished; return what the run sent."""
        result = RunResult(0.0, "")
        while True:
            fm = self._recv(self._deadline)
            self._absorb(fm, result)
            if fm.WhichOneof("type") == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fm.script_finished)
                if status == "FINISHED_EARLY_FOR_RERUN":
                    continue  # a newer run of ours replaced it; keep reading
                result.status = status
                break
        result.seconds = time.perf_counter() - self._start
        if result.status not in FINISHED:
            raise ProtocolError(f"script finished with {result.status}")
        if result.exceptions:
            raise ProtocolError("the page showed an exception: " + "; ".join(result.texts)[:300])
        return result

    def run(self, fragment_id: str = "", auto: bool = False) -> RunResult:
        """One rerun, start to script_finished."""
        self.send(fragment_id, auto)
        return self.finish()

    def open(self) -> RunResult:
        """The first run, as when a browser opens the page's URL."""
        return self.run()

    def widget(self, label: str, kind: str | None = None) -> Widget:
        w = self.widgets.get(label)
        if w is None or (kind and w.kind != kind):
            raise ProtocolError(f"no {kind or 'widget'} labelled {label!r} on the page "
                                f"(have: {sorted(self.widgets)})")
        return w

    def set_string(self, label: str, value: str) -> None:
        """Type into a text box or pick a selectbox option (its formatted string)."""
        w = self.widget(label)
        ws = WidgetState(id=w.id)
        ws.string_value = value
        self.states[w.id] = ws

    def submit(self, label: str, value: str) -> RunResult:
        self.set_string(label, value)
        return self.run()

    def set_number(self, label: str, value: float) -> None:
        """Move a single-value slider."""
        w = self.widget(label, "slider")
        ws = WidgetState(id=w.id)
        ws.double_array_value.data.append(float(value))
        self.states[w.id] = ws

    def set_int(self, label: str, value: int) -> None:
        """Type a whole number into a number box (st.number_input of ints)."""
        w = self.widget(label, "number_input")
        ws = WidgetState(id=w.id)
        ws.int_value = int(value)
        self.states[w.id] = ws

    def set_choice(self, label: str, option: str) -> None:
        """Move a select_slider to `option` (its formatted string, as the frontend sends it)."""
        w = self.widget(label, "slider")
        if option not in w.proto.options:
            raise ProtocolError(f"{label!r} has no option {option!r}")
        ws = WidgetState(id=w.id)
        ws.string_array_value.data.append(option)
        self.states[w.id] = ws

    def press(self, label: str) -> None:
        """Press a button and start the run (a trigger holds for this one run, as in the
        frontend); `finish` reads the run."""
        w = self.widget(label, "button")
        ws = WidgetState(id=w.id)
        ws.trigger_value = True
        self.states[w.id] = ws
        try:
            self.send(fragment_id=w.fragment_id)  # as the frontend does: a button in a fragment reruns it alone
        finally:
            self.states.pop(w.id, None)

    def trigger(self, component_id: str, event: str, value) -> None:
        """What a custom component's setTriggerValue(event, value) does: start a run with the
        trigger set (it holds for this one run); `finish` reads the run."""
        from streamlit.components.v2.bidi_component.main import _make_trigger_id

        wid = _make_trigger_id(component_id, "events")
        ws = WidgetState(id=wid)
        ws.json_trigger_value = json.dumps([{"event": event, "value": value}])
        self.states[wid] = ws
        try:
            self.send()
        finally:
            self.states.pop(wid, None)

    def get(self, path: str) -> bytes | None:
        """GET a path relative to the app (a static file, as a page's script would fetch it) on one
        kept-alive connection, as a browser does; None on an HTTP error."""
        parts = urlsplit(self.base_url)
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again once
            if self._http is None:
                self._http = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            try:
                self._http.request("GET", f"{parts.path.rstrip('/')}/{path.lstrip('/')}",
                                   headers={"Cookie": self.cookie} if self.cookie else {})
                r = self._http.getresponse()
                body = r.read()
                return body if r.status == 200 else None
            except (http.client.HTTPException, OSError):
                self._http.close()
                self._http = None
                if attempt == 2:
                    raise
        return None

    def follow(self, needle: str, timeout: float) -> RunResult | None:
        """After a run without `needle`, follow the auto-reruns of fragments (st.fragment with
        run_every, as a job's progress would use) until a run sends it; None without any."""
        deadline = time.monotonic() + timeout
        while self._auto_rerun:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{needle!r} did not come within {timeout:.0f} s")
            frag, interval = next(iter(self._auto_rerun.items()))
            time.sleep(interval)
            r = self.run(fragment_id=frag, auto=True)
            if r.contains(needle):
                return r
        return None
