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


def draw(state, params, page="p", layer_max=5):
    """One run of a page with two widgets: layer (Int) and word (Text)."""
    url = PageState(page, state, params)
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


def test_a_widget_not_drawn_last_run_is_sent_its_value_again():
    """A run that ends in st.stop() before some widgets (the image page waiting for an upload) drops
    no state, but the browser forgets those widgets: drawn again, they must be sent their values."""
    state, params = RecordingState(), FakeParams()
    draw(state, params).save()
    state["p_layer"] = 2  # the user's choice
    draw(state, params).save()
    state.assigned.clear()
    draw(state, params).save()
    assert "p_layer" not in state.assigned  # drawn every run: the browser holds it
    url = PageState("p", state, params)  # a run that stops before the layer widget
    url.bind("p_word", "word", Text(40), "attention")
    url.save()
    state.assigned.clear()
    draw(state, params).save()
    assert "p_layer" in state.assigned and state["p_layer"] == 2 and "p_word" not in state.assigned


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

    from viz.ui import url_state

    states = {"$$ID-0123abcd-scratch_text_reverse": object()}
    fake = SimpleNamespace(_state=SimpleNamespace(_new_widget_state=SimpleNamespace(states=states)))
    with mock.patch("streamlit.runtime.state.session_state_proxy.get_session_state", return_value=fake):
        assert url_state._sent_by_browser("scratch_text_reverse")
        assert not url_state._sent_by_browser("scratch_layer")
    assert not url_state._sent_by_browser("scratch_text_reverse")  # no session at all: False, no error


def test_after_a_run_that_never_saved_every_widget_is_sent_its_value_again():
    """A reconnecting websocket resumes its session and Streamlit stops the run in progress; the
    browser then drops the widgets that run had not drawn and draws them from Streamlit's own
    defaults ("" or the minimum). Two CI runs saw ?sentence=&d_model=0 after that. The next run
    must assign every widget its value, so the browser is sent it."""
    state, params = RecordingState(), FakeParams()
    draw(state, params).save()
    state["p_layer"], state["p_word"] = 2, "typed"
    draw(state, params).save()
    state.assigned.clear()
    draw(state, params)  # stopped before save()
    assert not state.assigned  # a run cannot know it will be stopped: nothing extra yet
    draw(state, params).save()
    assert {"p_layer", "p_word"} <= state.assigned
    assert (state["p_layer"], state["p_word"]) == (2, "typed")
    assert params.params == {"layer": "2", "word": "typed"}
    state.assigned.clear()
    draw(state, params).save()  # saved last time: the browser holds them, nothing is re-sent
    assert not state.assigned


def test_a_browser_entry_without_a_value_is_not_a_reconnect():
    """Streamlit's widget-state entries from a browser: only one carrying a value counts; an unset
    one would give the widget Streamlit's default, so the URL or the page's default is used."""
    from types import SimpleNamespace
    from unittest import mock

    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.runtime.state.session_state import Serialized, Value

    from viz.ui import url_state

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


def test_after_a_stopped_run_blank_values_the_browser_made_up_get_the_saved_ones_back():
    """A run stopped before save(); the browser dropped the widgets it had not drawn, drew them
    again from Streamlit's own defaults (the minimum, "") and sent those with the next click. The
    page's saved values come back; a user's real change in that click stays."""
    state, params = {}, FakeParams(layer="2", word="order")
    draw(state, params).save()
    PageState("p", state, params)  # a run that stopped before save()
    state["p_layer"], state["p_word"] = 0, ""  # what the browser sent: Int(0, 5)'s minimum and ""
    draw(state, params).save()
    assert state["p_layer"] == 2 and state["p_word"] == "order" and params.params == {"layer": "2", "word": "order"}
    PageState("p", state, params)  # stopped again
    state["p_layer"], state["p_word"] = 3, ""  # the user chose layer 3 in the click
    draw(state, params).save()
    assert state["p_layer"] == 3 and state["p_word"] == "order"
    state["p_word"] = ""  # after a run that reached save(), an empty box is the user's own
    draw(state, params).save()
    assert state["p_word"] == ""


def test_blank_is_streamlits_own_default_for_each_spec():
    from viz.ui.url_state import is_blank

    assert is_blank(Int(0, 9), 0) and not is_blank(Int(0, 9), 1) and is_blank(Float(0.5, 2.0), 0.5)
    assert is_blank(Text(5), "") and not is_blank(Text(5), " ") and is_blank(Bool(), False)
    assert is_blank(Choice.of(["a", "b"]), "a") and not is_blank(Choice.of(["a", "b"]), "b")
    assert is_blank(IntList(0, 9), []) and not is_blank(IntList(0, 9), [1])


def test_a_blank_the_browser_sends_is_caught_before_the_widget_registers():
    """Streamlit applies a browser's widget value when the widget registers: at bind time the
    session still shows the old value, so the value in this run's request is what is checked."""
    state, params = RecordingState(), FakeParams(layer="2")
    draw(state, params).save()
    PageState("p", state, params)  # a run that stopped before save()
    state.assigned.clear()
    sent = {"p_layer": 0}  # the request carries Streamlit's minimum; the session still says 2
    url = PageState("p", state, params, sent_value=lambda key: sent.get(key, url_state.NOTHING))
    url.bind("p_layer", "layer", Int(0, 5), 5)
    assert "p_layer" in state.assigned and state["p_layer"] == 2  # assigned: it wins over the request


def test_sent_value_reads_streamlits_serialized_widget_states():
    from types import SimpleNamespace
    from unittest import mock

    from streamlit.proto.WidgetStates_pb2 import WidgetState

    states = {"$$ID-0123abcd-dims_d_model": SimpleNamespace(value=WidgetState(int_value=0)),
              "$$ID-0123abcd-dims_sentence": SimpleNamespace(value=WidgetState(string_value="x")),
              "$$ID-0123abcd-dims_h": SimpleNamespace(value=WidgetState())}
    fake = SimpleNamespace(_state=SimpleNamespace(_new_widget_state=SimpleNamespace(states=states)))
    with mock.patch("streamlit.runtime.state.session_state_proxy.get_session_state", return_value=fake):
        assert url_state._sent_value("dims_d_model") == 0 and url_state._sent_value("dims_sentence") == "x"
        assert url_state._sent_value("dims_h") is url_state.NOTHING
        assert url_state._sent_value("dims_batch") is url_state.NOTHING


def test_a_reconnecting_browsers_blank_is_not_trusted_over_the_link():
    """After a reconnect to a fresh session the browser's value is kept, unless it is Streamlit's
    own default for the widget where the link (or the page's default) says otherwise."""
    state, params = {}, FakeParams(word="order")
    sent = {"p_layer": 0, "p_word": ""}  # both drawn again from Streamlit's defaults
    url = PageState("p", state, params, from_browser=lambda key: key in sent,
                    sent_value=lambda key: sent.get(key, url_state.NOTHING))
    url.bind("p_layer", "layer", Int(0, 5), 5)
    url.bind("p_word", "word", Text(40), "attention")
    assert state["p_layer"] == 5 and state["p_word"] == "order"  # the default and the link win
    state, sent = {}, {"p_layer": 3}  # a real value from the browser stays the browser's
    url = PageState("p", state, FakeParams(), from_browser=lambda key: key in sent,
                    sent_value=lambda key: sent.get(key, url_state.NOTHING))
    url.bind("p_layer", "layer", Int(0, 5), 5)
    assert "p_layer" not in state
