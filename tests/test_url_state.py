"""viz.ui.url_state without a Streamlit run: parsing hostile URL values, and when a page reads its URL.

PageState takes any mapping as session state and any object with to_dict/from_dict as the query
parameters, so the rules are checked here on plain dicts; Streamlit's side (widget state dropped
when a page is left) is imitated by deleting the page's keys.
"""

import math

import pytest

from viz.ui import url_state
from viz.ui.url_state import MAX_RAW, Bool, Choice, Float, Int, IntList, PageState, Text, parse


@pytest.mark.parametrize("raw, want", [
    ("3", 3), (" 3 ", 3), ("0", 0), ("11", 11),
    ("12", None), ("99", None), ("-1", None), ("1.5", None), ("1e3", None), ("", None), ("three", None),
    ("0x1f", None), ("９", None), ("9" * 5000, None), ("3;drop", None),
])
def test_int_accepts_only_in_range_integers(raw, want):
    assert parse(Int(0, 11), raw) == want


@pytest.mark.parametrize("raw, want", [
    ("0.6", 0.6), ("1", 1.0), ("0", 0.0),
    ("1e309", None), ("-1e309", None), ("inf", None), ("nan", None), ("NaN", None), ("1.01", None),
    ("-0.1", None), ("", None), ("0." + "1" * 40, None), ("０.5", None), ("1_0", None), (".5", 0.5),
])
def test_float_accepts_only_finite_values_in_range(raw, want):
    assert parse(Float(0, 1), raw) == want


def test_choice_maps_url_names_to_widget_values_and_back():
    tabs = Choice({"attention": "Attention on your input", "train": "Train live"})
    assert parse(tabs, "train") == "Train live"
    assert parse(tabs, "Train live") is None and parse(tabs, "TRAIN") is None and parse(tabs, "") is None
    assert tabs.format("Train live") == "train"
    temps = Choice.of([0.05, 1.0, 10.0], "{:g}".format)
    assert parse(temps, "1") == 1.0 and parse(temps, "10") == 10.0
    assert parse(temps, "1e309") is None and parse(temps, "1.0") is None
    assert temps.format(0.05) == "0.05"
    assert temps.fits(1.0) and not temps.fits(2.0)


def test_text_over_its_cap_is_ignored_and_left_out_of_the_link():
    spec = Text(40)
    hostile = "</script><script>alert(1)</script>"
    assert parse(spec, hostile) == hostile  # kept as text: the page escapes what it shows
    assert parse(spec, "x" * 41) is None and parse(Text(10**6), "x" * 100_000) is None  # MAX_RAW
    assert parse(Text(MAX_RAW), "x" * MAX_RAW) == "x" * MAX_RAW
    assert spec.format("x" * 40) == "x" * 40 and spec.format("x" * 41) is None


def test_bool_and_int_list():
    assert (parse(Bool(), "1"), parse(Bool(), "false"), parse(Bool(), "maybe")) == (True, False, None)
    dims = IntList(0, 63)
    assert parse(dims, "0,1,16,62") == [0, 1, 16, 62]
    assert parse(dims, "3,3,1") == [3, 1]
    assert parse(dims, "") == []
    assert parse(dims, "1,64") is None and parse(dims, "1,-1") is None and parse(dims, "1,a") is None
    assert parse(dims, ",".join(["1"] * 65)) is None
    assert dims.format([0, 16]) == "0,16" and dims.fits([0, 63]) and not dims.fits([64])


def test_specs_never_raise_on_odd_strings():
    odd = ["", " ", "\x00", "%00", "\u202e", "🍕", "1" * MAX_RAW, "-", "--1", "1,", ",", "nan,inf", "[1]"]
    for spec in (Int(0, 5), Float(0, 1), Choice.of(["a"]), Text(5), Bool(), IntList(0, 5)):
        for raw in odd:
            value = parse(spec, raw)
            assert value is None or spec.fits(value), (spec, raw, value)
            if isinstance(value, float):
                assert math.isfinite(value)


class FakeParams:
    """st.query_params as PageState uses it: to_dict, and from_dict replacing everything."""

    def __init__(self, **params):
        self.params = dict(params)
        self.writes = 0

    def to_dict(self):
        return dict(self.params)

    def from_dict(self, params):
        self.params = dict(params)
        self.writes += 1


def draw(state, params, page="p", layer_max=5, held=()):
    """One run of a page with two widgets: layer (Int) and word (Text). held: the widget keys whose
    values this run's request carries (the browser holds them)."""
    url = PageState(page, state, params, from_browser=lambda key: key in held)
    url.bind(f"{page}_layer", "layer", Int(0, layer_max), layer_max)
    url.bind(f"{page}_word", "word", Text(40), "attention")
    return url


def test_first_run_restores_valid_values_and_ignores_the_rest():
    state, params = {}, FakeParams(layer="2", word="x" * 41, junk="1")
    draw(state, params).save()
    assert state["p_layer"] == 2 and state["p_word"] == "attention"  # too long: the default
    assert params.params == {"layer": "2"}  # only non-default values; junk dropped


def test_later_runs_follow_the_widgets_not_the_url():
    state, params = {}, FakeParams(layer="2")
    draw(state, params).save()
    state["p_layer"] = 4  # the user picks layer 4; the URL still says 2 when the next run starts
    draw(state, params).save()
    assert state["p_layer"] == 4 and params.params == {"layer": "4"}
    state["p_layer"] = 5  # back to the default: the parameter leaves the link
    draw(state, params).save()
    assert params.params == {}
    writes = params.writes
    draw(state, params).save()
    assert params.writes == writes  # nothing changed, nothing sent


def test_a_value_no_longer_allowed_falls_back_to_the_default():
    state, params = {}, FakeParams(layer="5")
    draw(state, params).save()
    draw(state, params, layer_max=3).save()  # a smaller model: layer 5 no longer exists
    assert state["p_layer"] == 3 and params.params == {}


def test_coming_back_to_a_page_reads_its_url_again():
    """Browser Back: the page's widget state is gone (Streamlit dropped it) and the URL is its own."""
    state, params = {}, FakeParams(layer="1")
    draw(state, params).save()
    for k in ("p_layer", "p_word"):
        del state[k]  # another page ran
    draw(state, params, page="q").save()
    params.params = {"layer": "1"}  # Back to p's URL
    draw(state, params).save()
    assert state["p_layer"] == 1


def test_another_pages_parameters_do_not_leak():
    """Parameters carried over from page q, exactly as q wrote them, are not read by page p."""
    state, params = {}, FakeParams(layer="1", word="order")
    draw(state, params, page="q").save()
    assert params.params == {"layer": "1", "word": "order"}
    del state["q_layer"], state["q_word"]
    draw(state, params, page="p").save()  # a version that keeps the query string on a page switch
    assert state["p_layer"] == 5 and state["p_word"] == "attention"
    assert params.params == {}


def test_always_and_non_widget_bindings():
    state, params = {}, FakeParams()
    url = PageState("p", state, params)
    url.bind("p_view", "view", Choice.of(["heatmap", "lines"]), "heatmap", always=True)
    url.bind("p_patch", "patch", Int(1, 256), 137, widget=False)
    url.save()
    assert params.params == {"view": "heatmap"}
    state["p_patch"] = 5
    PageState("p", state, params).bind("p_patch", "patch", Int(1, 256), 137, widget=False)
    assert state["p_patch"] == 5  # same visit: kept
    del state["p_view"]  # the page was left (its widgets dropped), then opened again from the sidebar
    url = PageState("p", state, params)
    url.bind("p_view", "view", Choice.of(["heatmap", "lines"]), "heatmap", always=True)
    url.bind("p_patch", "patch", Int(1, 256), 137, widget=False)
    assert state["p_patch"] == 137  # a new visit starts from the default, like the widgets


def test_a_session_value_outlives_a_visit_unless_the_url_brings_one():
    """The lesson's step: a visit from the sidebar (no query string) keeps it; a link sets it."""
    def visit(params):
        url = PageState("lesson", state, params)
        url.bind("present", "present", Bool(), False)
        url.bind("step", "step", Int(0, 12), 0, always=True, widget=False, session=True)
        url.save()
        return url

    state = {}
    visit(FakeParams(step="4"))
    assert state["step"] == 4
    state["step"] = 6  # ▶ ▶
    del state["present"]  # the page was left and opened again from the sidebar
    visit(FakeParams())
    assert state["step"] == 6
    del state["present"]
    url = visit(FakeParams(step="99"))  # a link with a step that does not exist
    assert state["step"] == 6 and url.ignored == [("step", "99")]


def test_read_reports_refused_values_and_stop_reading_ends_the_links_part():
    state, params = {}, FakeParams(word="x" * 41, layer="2", join="ABC", empty="")
    url = PageState("p", state, params)
    assert url.read("join", Text(10)) == "ABC" and url.read("missing", Text(10)) is None
    assert url.read("empty", Text(10)) == "" and url.read("empty", Int(0, 5)) is None
    url.bind("p_word", "word", Text(40), "attention")
    assert url.ignored == [("word", "x" * 41)]  # an empty value is no refusal worth a sentence
    url.stop_reading()
    url.bind("p_layer", "layer", Int(0, 5), 5)
    assert state["p_layer"] == 5  # bound after stop_reading: the URL's 2 is not read
    url.bind("p_layer", "other", Int(0, 5), 0, always=True)  # a second bind of a key is a no-op
    url.save({"join": "ABC"})
    assert params.params == {"join": "ABC"}  # the extra is written; p_layer is at its default


def test_a_kept_widget_gets_its_value_back_when_its_tab_opens_again():
    """A widget in a tab drawn only while open (keep=True): Streamlit drops its value in the runs
    that do not draw it; it comes back when the tab opens again, and is out of the link meanwhile.
    A new visit starts from the URL and the defaults, not from what was kept."""
    fusion = ("p_fusion", "fusion", Choice.of(["mean", "max"]), "mean")
    state, params = {}, FakeParams()
    url = draw(state, params)
    url.bind(*fusion, keep=True)
    url.save()
    state["p_fusion"] = "max"  # the user picks max in the tab
    url = draw(state, params)
    url.bind(*fusion, keep=True)
    url.save()
    assert params.params == {"fusion": "max"}
    del state["p_fusion"]  # another tab opened: the widget is not drawn and Streamlit drops it
    draw(state, params).save()
    assert params.params == {}  # the link holds what is on screen
    url = draw(state, params)  # the tab opens again
    url.bind(*fusion, keep=True)
    url.save()
    assert state["p_fusion"] == "max" and params.params == {"fusion": "max"}
    del state["p_fusion"]
    draw(state, params).save()
    url = draw(state, params)
    url.bind(*fusion)  # without keep: the default, as before
    assert state["p_fusion"] == "mean"
    state["p_fusion"] = "max"
    url = draw(state, params)
    url.bind(*fusion, keep=True)
    url.save()
    for k in ("p_layer", "p_word", "p_fusion"):
        del state[k]  # the page was left, then opened again from the sidebar
    draw(state, params, page="q").save()
    params.params = {}
    draw(state, params).save()
    url = draw(state, params)
    url.bind(*fusion, keep=True)
    assert state["p_fusion"] == "mean"


class RecordingState(dict):
    """A session state that records which keys the page assigned (Streamlit sends a widget the
    value assigned to its key in the run; other values the browser is trusted to hold)."""

    def __init__(self):
        super().__init__()
        self.assigned = set()

    def __setitem__(self, key, value):
        self.assigned.add(key)
        super().__setitem__(key, value)


def test_a_widget_the_browser_does_not_hold_is_sent_its_value():
    """Streamlit 1.67 sends a widget its value only when the key was assigned in the run; a widget
    the browser holds no value for (not drawn yet when a quick click came, or dropped because the
    last run did not draw it) is drawn from Streamlit's own default ("" or the minimum) and that
    goes back with the next click. So bind assigns every value the request does not carry."""
    state, params = RecordingState(), FakeParams()
    both = {"p_layer", "p_word"}
    draw(state, params).save()
    assert state.assigned == both  # the first run: defaults, assigned
    state["p_layer"] = 2  # the user's choice
    state.assigned.clear()
    draw(state, params, held=both).save()
    assert not state.assigned  # the browser holds both: nothing is re-sent
    draw(state, params, held={"p_word"}).save()  # the click came before the layer box was drawn
    assert state.assigned == {"p_layer"} and state["p_layer"] == 2 and params.params == {"layer": "2"}


def test_a_reconnecting_browsers_widget_values_are_not_overwritten():
    """After a server restart (or a failover to another replica) the browser reconnects to a fresh
    session and sends its widgets' values; Streamlit holds them under element ids until the widgets
    register. Neither the URL nor the default may overwrite them (the typed text jumped back)."""
    state, params = {}, FakeParams(layer="2", word="old")
    sent = {"p_word"}  # the browser holds the word box's value
    url = PageState("p", state, params, from_browser=lambda key: key in sent)
    url.bind("p_layer", "layer", Int(0, 5), 5)
    url.bind("p_word", "word", Text(40), "attention")
    assert state["p_layer"] == 2  # nothing from the browser: the URL is read as on any first run
    assert "p_word" not in state  # left for the widget to take from the browser


def test_reconnect_detection_reads_streamlits_widget_states():
    """_sent_by_browser looks for an element id ending in -<key> in this run's widget states."""
    from types import SimpleNamespace
    from unittest import mock


    states = {"$$ID-0123abcd-scratch_text_reverse": object()}
    fake = SimpleNamespace(_state=SimpleNamespace(_new_widget_state=SimpleNamespace(states=states)))
    with mock.patch("streamlit.runtime.state.session_state_proxy.get_session_state", return_value=fake):
        assert url_state._sent_by_browser("scratch_text_reverse")
        assert not url_state._sent_by_browser("scratch_layer")
    assert not url_state._sent_by_browser("scratch_text_reverse")  # no session at all: False, no error


def test_a_browser_entry_without_a_value_is_not_a_reconnect():
    """Streamlit's widget-state entries from a browser: only one carrying a value counts; an unset
    one would give the widget Streamlit's default, so the URL or the page's default is used."""
    from types import SimpleNamespace
    from unittest import mock

    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.runtime.state.session_state import Serialized, Value


    unset = WidgetState(id="$$ID-1-dims_sentence")
    typed = WidgetState(id="$$ID-2-dims_d_model", int_value=10)
    states = {unset.id: Serialized(unset), typed.id: Serialized(typed),
              "$$ID-3-dims_h": Value(None), "$$ID-4-dims_batch": Value(0)}
    fake = SimpleNamespace(_state=SimpleNamespace(_new_widget_state=SimpleNamespace(states=states)))
    with mock.patch("streamlit.runtime.state.session_state_proxy.get_session_state", return_value=fake):
        assert not url_state._sent_by_browser("dims_sentence")
        assert url_state._sent_by_browser("dims_d_model")
        assert not url_state._sent_by_browser("dims_h")
        assert url_state._sent_by_browser("dims_batch")
