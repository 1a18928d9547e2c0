"""Each page's view state in its URL, so a copied link opens the same figure in a fresh browser.

The only module that reads or writes st.query_params. A page makes one `PageState`, binds each
widget key to a URL parameter as it draws the widget, and calls `save()` at its end:

    url = url_state.page("scratch")
    layer = st.selectbox("Layer", range(L), key=url.bind("scratch_layer", "layer", Int(0, L - 1), L - 1))
    ...
    url.save()

`bind` puts the widget's default into st.session_state (so the widget call itself takes no
value= or index=) and, on the first run of a visit to the page, the URL's value when it parses.
`save` writes every bound value that differs from its default back into the URL and drops every
other parameter: those of widgets not drawn this run, and any left over from another page.

URL values are untrusted: each `Spec` below parses one strictly and returns None for anything
it does not accept (out of range, not finite, not an option, too long), and the widget then keeps
its default. The specs need no Streamlit and are tested on their own (tests/test_url_state.py).

When is the URL read? On a visit's first run only; afterwards the widgets hold the state and the
URL follows them. A run is a visit's first when none of the page's widgets was drawn in the
previous run (Streamlit drops a widget's state when it is not drawn): a fresh session opened from
a link, or the browser's Back button returning to the page. Streamlit 1.67's sidebar navigation
drops the query string, so a page opened from the sidebar starts from its defaults. Should a
version carry another page's parameters across (AppTest's switch_page does), they are exactly
what that page last wrote; those are recognised and ignored, never read into this page's widgets.

The lesson uses three more things: `session=True` for its step (a value the session keeps from
visit to visit, so the sidebar's round trip does not reset it to step 1), `read` for the link's
inputs and class code (set before the class's sync, which may put the teacher's over them), then
`stop_reading()`, and `save(extra)` for the student's class (join, sid), which no widget holds.
A value a spec refuses is listed in `ignored`, so a page can say which part of a link it did not use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import streamlit as st

MAX_RAW = 2000  # characters of one URL value considered at all; Text specs cap lower
_INT = re.compile(r"-?[0-9]{1,12}")  # ASCII only: int() would also take "９"
_FLOAT = re.compile(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]{1,3})?")  # no inf, nan, "1_0" or "１"
# session_state: {"keys": {page: set of widget keys}, "last": (page, params),
#                 "kept": {page: {widget key: value}} (values of keep=True widgets, see bind)}
_STATE = "_url_state"


# --- parsing and formatting one value: plain Python --------------------------------------------

class Spec(Protocol):
    def parse(self, raw: str) -> Any | None:
        """The value for a URL string, or None to ignore it."""

    def fits(self, value: Any) -> bool:
        """Whether a value already in the session is still allowed (options and ranges change)."""

    def format(self, value: Any) -> str | None:
        """The URL string for a value, or None to leave it out of the link."""


@dataclass(frozen=True)
class Int:
    lo: int
    hi: int

    def parse(self, raw: str) -> int | None:
        raw = raw.strip()
        if not _INT.fullmatch(raw):
            return None
        v = int(raw)
        return v if self.fits(v) else None

    def fits(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.lo <= value <= self.hi

    def format(self, value: Any) -> str | None:
        return str(int(value))


@dataclass(frozen=True)
class Float:
    lo: float
    hi: float

    def parse(self, raw: str) -> float | None:
        if len(raw) > 32 or not _FLOAT.fullmatch(raw):
            return None
        v = float(raw)
        return v if self.fits(v) else None

    def fits(self, value: Any) -> bool:
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and self.lo <= value <= self.hi)

    def format(self, value: Any) -> str | None:
        return f"{float(value):g}"


@dataclass(frozen=True)
class Choice:
    """One of a fixed set. `options` maps URL strings to widget values; a plain sequence uses str(option)
    (or `fmt(option)`) as the URL string."""
    options: Mapping[str, Any]

    @classmethod
    def of(cls, options: Sequence[Any], fmt=str) -> Choice:
        return cls({fmt(o): o for o in options})

    def parse(self, raw: str) -> Any | None:
        return self.options.get(raw)

    def fits(self, value: Any) -> bool:
        return any(value == v for v in self.options.values())

    def format(self, value: Any) -> str | None:
        return next((k for k, v in self.options.items() if v == value), None)


@dataclass(frozen=True)
class Text:
    max_len: int

    def parse(self, raw: str) -> str | None:
        return raw if len(raw) <= self.max_len else None

    def fits(self, value: Any) -> bool:
        return isinstance(value, str)

    def format(self, value: Any) -> str | None:
        return value if len(value) <= self.max_len else None  # a longer text stays out of the link


@dataclass(frozen=True)
class Bool:
    def parse(self, raw: str) -> bool | None:
        return {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False}.get(raw.lower())

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)

    def format(self, value: Any) -> str | None:
        return "1" if value else "0"


@dataclass(frozen=True)
class IntList:
    """A multiselect of ints: "0,1,16". Empty string: nothing selected."""
    lo: int
    hi: int
    max_items: int = 64

    def parse(self, raw: str) -> list[int] | None:
        parts = [p for p in raw.split(",") if p.strip()] if len(raw) <= 16 * self.max_items else None
        if parts is None or len(parts) > self.max_items:
            return None
        values = [Int(self.lo, self.hi).parse(p) for p in parts]
        if any(v is None for v in values):
            return None
        return list(dict.fromkeys(values))  # duplicates dropped: a multiselect holds each option once

    def fits(self, value: Any) -> bool:
        return isinstance(value, list) and all(Int(self.lo, self.hi).fits(v) for v in value)

    def format(self, value: Any) -> str | None:
        return ",".join(str(int(v)) for v in value)


def parse(spec: Spec, raw: str | None) -> Any | None:
    """A URL value through its spec; None (ignore) for a missing or absurdly long one."""
    if raw is None or len(raw) > MAX_RAW:
        return None
    return spec.parse(raw)


# --- binding widgets to the URL ----------------------------------------------------------------

class Params(Protocol):  # st.query_params, or a stand-in in tests
    def to_dict(self) -> dict[str, str]: ...
    def from_dict(self, params: Mapping[str, str]) -> None: ...


@dataclass
class _Binding:
    key: str
    name: str
    spec: Spec
    default: Any
    always: bool
    keep: bool = False


@dataclass
class PageState:
    """One page's bindings for one script run. Use `page(name)` to make one."""
    name: str
    state: MutableMapping[str, Any]
    params: Params
    bindings: list[_Binding] = field(default_factory=list)
    # key -> whether this run's request carries a value for that widget, i.e. the browser holds one.
    # Streamlit's frontend sends every widget value it holds with every run.
    from_browser: Callable[[str], bool] = lambda key: False

    def __post_init__(self) -> None:
        reg = self.state.setdefault(_STATE, {"keys": {}, "last": None})
        self._keys: set[str] = reg["keys"].setdefault(self.name, set())
        self._kept: dict[str, Any] = reg.setdefault("kept", {}).setdefault(self.name, {})
        url = self.params.to_dict()
        drawn_last_run = any(k in self.state for k in self._keys)
        last = reg["last"]
        foreign = bool(url) and last is not None and last[0] != self.name and last[1] == url
        self.entry = not drawn_last_run  # the first run of a visit to the page
        self.incoming: dict[str, str] = url if self.entry and not foreign else {}
        # (name, raw value) of the URL values this run refused, for the page to say so
        self.ignored: list[tuple[str, str]] = []
        self._bound: set[str] = set()
        if self.entry:
            self._kept.clear()  # a new visit starts from the URL and the defaults

    def read(self, name: str, spec: Spec) -> Any | None:
        """The URL's value of `name` on a visit's first run, parsed; None when there is none or
        the spec refuses it (then (name, raw) is added to `ignored`). Later runs read nothing."""
        raw = self.incoming.get(name)
        value = parse(spec, raw)
        if value is None and raw is not None and raw.strip():
            self.ignored.append((name, raw))
        return value

    def stop_reading(self) -> None:
        """Binds after this one read no URL value this run: for a page whose URL values belong to
        one part of it (the lesson's inputs are the URL's step's; a class may show another step)."""
        self.incoming = {}

    def bind(self, key: str, name: str, spec: Spec, default: Any, *, always: bool = False,
             widget: bool = True, keep: bool = False, session: bool = False) -> str:
        """Bind widget `key` to URL parameter `name`; returns the key for the widget's key=.

        always: write the value even when it is the default. widget=False: a plain session value
        (Streamlit keeps it when the page is left, so it cannot tell whether the page was drawn);
        it goes back to its default on a visit's first run, unless session=True: a value the session
        keeps from visit to visit (the lesson's step) unless the URL brings one.
        keep: a widget that some runs do not draw (it sits in a tab drawn only while open).
        Streamlit drops a widget's value when a run does not draw it; with keep, the value it had
        when last drawn comes back when it is drawn again during the same visit. Meanwhile it is
        not in the URL: a link holds what is on screen.
        A key bound a second time in one run keeps its first binding.
        """
        if key in self._bound:
            return key
        self._bound.add(key)
        if widget:
            self._keys.add(key)
        binding = _Binding(key, name, spec, default, always, keep)
        held = widget and self.from_browser(key)  # read once: it scans Streamlit's widget states
        if held and key not in self.state:
            # The browser holds this widget's value (it reconnected to a new session): neither the
            # URL nor the default may overwrite it, or the page would jump back to them.
            self.bindings.append(binding)
            return key
        if keep and key not in self.state and key in self._kept:
            self.state[key] = self._kept[key]  # checked below like any value in the session
        value = self.read(name, spec)
        if value is not None:
            self.state[key] = value
        elif (key not in self.state or not spec.fits(self.state[key])
              or (self.entry and not widget and not session)):
            self.state[key] = default
        elif widget and not held:
            # The browser holds no value for this widget: it has not drawn it yet (a click came
            # before the page's first run had drawn everything), or it dropped it (the last run did
            # not draw it, or ended in st.stop()). Streamlit 1.67 sends a widget's value only when
            # the key was assigned this run, and the browser then draws it from Streamlit's own
            # default ("" or the minimum) and sends that back: CI saw ?sentence=&d_model=0&h=0 after
            # a quick tab click. Assigning the value again makes Streamlit send it.
            self.state[key] = self.state[key]
        self.bindings.append(binding)
        return key

    def wanted(self) -> dict[str, str]:
        """The parameters the page's current values call for."""
        want: dict[str, str] = {}
        for b in self.bindings:
            value = self.state.get(b.key, b.default)
            if value == b.default and not b.always:
                continue
            text = b.spec.format(value)
            if text is not None:
                want[b.name] = text
        return want

    def save(self, extra: Mapping[str, str] | None = None) -> None:
        """Write the bound values, and `extra` (parameters no widget holds: a student's class),
        into the URL (one update, only when it changes) and drop the rest."""
        want = self.wanted() | dict(extra or {})
        if self.params.to_dict() != want:
            self.params.from_dict(want)
        self.state[_STATE]["last"] = (self.name, want)
        self._kept.update({b.key: self.state.get(b.key, b.default) for b in self.bindings if b.keep})


class Unbound:
    """`bind` without a URL: the default goes into the session, nothing is read or written.
    For the shared widgets (viz.ui.teaching) on a page that keeps no URL state."""

    def bind(self, key: str, name: str, spec: Spec, default: Any, **_: Any) -> str:
        if key not in st.session_state or not spec.fits(st.session_state[key]):
            st.session_state[key] = default
        return key


def _browser_entries(key: str) -> list:
    """This run's widget-state entries for widget `key`: Streamlit keeps a browser's widget states
    under their element ids (which end in "-<key>") until the widgets register. Private Streamlit
    state, read defensively: [] for another Streamlit version or no session."""
    try:
        from streamlit.runtime.state.session_state_proxy import get_session_state

        states = get_session_state()._state._new_widget_state.states
    except Exception:
        return []
    suffix = f"-{key}"
    return [w for wid, w in states.items() if wid.endswith(suffix)]


def _sent_by_browser(key: str) -> bool:
    """Whether this run's widget states hold a value for widget `key`: the browser holds one."""
    return any(_holds_value(w) for w in _browser_entries(key))


def _holds_value(entry: Any) -> bool:
    """Whether one of Streamlit's widget-state entries carries a value: a browser's serialized
    state whose value is set, or a deserialized value that is not None. An entry without one would
    give the widget Streamlit's own default ("" or the minimum), not the browser's value."""
    value = getattr(entry, "value", entry)
    which = getattr(value, "WhichOneof", None)
    if which is not None:
        try:
            return which("value") is not None
        except Exception:  # another protobuf layout: trust the entry as before
            return True
    return value is not None


def page(name: str) -> PageState:
    """The URL state of page `name` for this run (call once, at the top of the page)."""
    return PageState(name, st.session_state, st.query_params, from_browser=_sent_by_browser)
