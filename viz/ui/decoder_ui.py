"""Streamlit pieces of the Decoder (GPT) page: the model and sequence boxes, the attention, the heads
and their circuit, the next token with its step button, and training live.

The math is in viz.scratch.gpt / viz.scratch.induction / viz.pretrained.decoder / viz.sampling and
the figures in viz.figures.decoder; this module only caches, draws widgets and places figures.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from viz.figures import attention_heatmap, heads_grid, snapshots_grid
from viz.figures.decoder import (
    circuit_figure,
    detector_grid,
    next_token_figure,
    phase_change_figure,
)
from viz.jobs import CANCELLED, DONE, FAILED, QUEUED, JobRefused, JobView
from viz.pretrained.decoder import (
    BUNDLED_NAME,
    Decoder,
    DecoderLoadError,
    HeadReport,
    head_report,
    load_decoder,
)
from viz.sampling import MAX_TEMPERATURE, next_token_probs, sample
from viz.scratch import induction
from viz.scratch.gpt import DecoderInputError
from viz.ui import url_state as url
from viz.ui.cache import shared
from viz.ui.figure_alt import plotly_chart
from viz.ui.scratch_ui import cancel_job, live_panel, session_owner, train_queue

MODELS = {"": BUNDLED_NAME, "induction_1layer": "induction_1layer (bundled control, 1 layer)", "hub": "a Hub id or folder"}
KIND = "induction"  # this page's jobs in the server's training queue
REPEAT_N = 20


@st.cache_resource(show_spinner="Loading the decoder ...", max_entries=4)
def decoder_model(name: str, device: str) -> Decoder:
    return load_decoder(name, device)


@st.cache_resource(show_spinner="Measuring every head on repeated random sequences ...", max_entries=4)
def decoder_report(name: str, device: str) -> HeadReport:
    return head_report(decoder_model(name, device))


def decoder_next(name: str, device: str, ids: tuple[int, ...]):
    """(V,) logits of the token after `ids`, computed once per sequence (a slider move reruns the page)."""
    return shared(("decoder_next", name, device, ids), lambda: decoder_model(name, device).next_logits(list(ids)))


def decoder_trace(name: str, device: str, ids: tuple[int, ...]):
    return shared(("decoder_trace", name, device, ids), lambda: decoder_model(name, device).trace(list(ids)))


# --- the model and the sequence --------------------------------------------------------------------

def model_ui(state: url.PageState, device: str) -> tuple[str, Decoder] | None:
    """The chosen decoder (bundled by default), or None with the reason shown."""
    choice = st.radio("Model", list(MODELS), format_func=MODELS.get, horizontal=True,
                      key=state.bind("dec_model", "model", url.Choice.of(MODELS), ""))
    name = choice
    if choice == "hub":
        name = st.text_input("Hub id or local folder of a GPT-2-family model (gpt2, distilgpt2)", max_chars=200,
                             key=state.bind("dec_hub", "hub", url.Text(200), "")).strip()
        if not name:
            st.info("Type a Hub id such as distilgpt2, or the folder of a saved GPT-2 model. Without a network "
                    "only folders on this server load; the bundled model works offline.")
            return None
    try:
        return name, decoder_model(name, device)
    except DecoderLoadError as err:
        st.error(str(err))
        return None


def _repeat(name: str, device: str) -> None:
    """The "Repeat it" button: a random sequence of REPEAT_N tokens and its copy, into the text box."""
    dec = decoder_model(name, device)
    rng = np.random.default_rng()
    ids = dec.random_repeat(rng, REPEAT_N)
    st.session_state["dec_text"] = _text_of(dec, ids[dec.first_repeat():])
    st.session_state.pop("dec_last", None)


def _text_of(dec: Decoder, ids: list[int]) -> str:
    if dec.kind == "bundled":
        return "".join(dec.vocab[i] for i in ids)
    return dec.tokenizer.decode(ids)


def sequence_ui(state: url.PageState, name: str, dec: Decoder, device: str) -> list[int] | None:
    example = "the cat sat on the mat. the cat sat on the mat." if dec.kind == "bundled" else \
        "The cat sat on the mat. The cat sat on the mat."
    left, right = st.columns([5, 1], vertical_alignment="bottom")
    text = left.text_input("Your sequence (the model reads it token by token, left to right)", max_chars=2000,
                           key=state.bind("dec_text", "text", url.Text(2000), example))
    right.button("Repeat it", key="dec_repeat", on_click=_repeat, args=(name, device),
                 help=f"A random sequence of {REPEAT_N} tokens followed by its copy.")
    try:
        return dec.encode(text)
    except DecoderInputError as err:
        st.error(str(err))
        return None


# --- attention ------------------------------------------------------------------------------------

def own_text_notice(report: HeadReport, trace, ids: list[int]) -> str:
    """What the induction head does on the user's own sequence, from its weights."""
    layer, head = report.induction
    target = induction.target_masks(ids)["prefix"]
    rows = target.any(axis=1)
    if not rows.any():
        return (f"Your sequence repeats no token after its first, so head {layer}.{head} has nothing to match "
                "here: type a phrase twice, or press “Repeat it”.")
    share = float((trace.weights[layer, head][rows] * target[rows]).sum(axis=1).mean())
    return (f"On your sequence, {int(rows.sum())} tokens have occurred before. From those, head {layer}.{head} "
            f"puts on average {share:.0%} of its attention on the token that came after the earlier occurrence.")


def attention_ui(state: url.PageState, name: str, dec: Decoder, device: str, ids: list[int],
                 report: HeadReport) -> tuple[int, int]:
    trace = decoder_trace(name, device, tuple(ids))
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(dec.n_layers), key=state.bind(
        "dec_layer", "layer", url.Int(0, dec.n_layers - 1), report.induction[0], always=True, keep=True))
    head = c2.selectbox("Head", range(dec.n_heads), key=state.bind(
        "dec_head", "head", url.Int(0, dec.n_heads - 1), report.induction[1], always=True, keep=True))
    plotly_chart(st, attention_heatmap(trace.head(layer, head), trace.query_tokens, trace.key_tokens, trace.mask,
                                      title=f"{dec.name}: layer {layer}, head {head}"), key="dec_heatmap")
    st.caption("Rows: each position, reading (the query). Columns: the positions it may read. Grey cells are "
               "masked: a decoder position cannot see the tokens after it, which is what lets it learn to "
               "predict them. The page opens on the head the table below finds to be the induction head.")
    st.markdown(f"**On your text:** {own_text_notice(report, trace, ids)}")
    with st.expander("Every head of this layer", key="dec_grid_open", on_change="rerun") as box:
        if box.open:
            plotly_chart(st, heads_grid(trace, layer, title=f"All heads of layer {layer}", edge_ticks=True),
                            key="dec_grid")
    return layer, head


def heads_ui(report: HeadReport) -> None:
    plotly_chart(st, detector_grid(report.scores, title=f"Every head's scores on {report.n_sequences} random "
                                  f"sequences of {report.n} tokens, each repeated once"), key="dec_detectors")
    st.caption("Each cell is a head's mean attention on its targets: the previous token; earlier copies of the "
               "current token (duplicate); the token right after an earlier copy (prefix matching, the mark of "
               "an induction head, Olsson et al. 2022). 1 = all of its attention.")
    st.markdown(f"**Found from the data:** {report.sentence}")
    if report.composition is not None:
        L, H = report.composition.shape
        plotly_chart(st, circuit_figure(report.composition, report.induction, report.scores["previous"][:L],
                                       title="The circuit: which earlier head the induction head's keys read"),
                        key="dec_circuit")
        st.caption("Line width: K-composition, ‖W_QK·W_OVᵀ‖ / (‖W_QK‖‖W_OV‖) from the weights (Elhage et al. "
                   "2021). Node colour: the head's previous-token score.")
    st.markdown(f"**The circuit:** {report.circuit_sentence}")


# --- the next token -------------------------------------------------------------------------------

def _settings(state: url.PageState, vocab_size: int) -> tuple[float, int | None, float | None]:
    c1, c2, c3 = st.columns(3)
    temperature = c1.slider("Temperature", 0.0, 2.0, step=0.05, key=state.bind(
        "dec_temp", "temp", url.Float(0, MAX_TEMPERATURE), 1.0, keep=True), help="0: always the most likely token.")
    top_k = c2.number_input(f"Top-k (0 = all {vocab_size})", 0, vocab_size, step=1, key=state.bind(
        "dec_topk", "topk", url.Int(0, vocab_size), 0, keep=True))
    top_p = c3.slider("Top-p", 0.05, 1.0, step=0.05, key=state.bind("dec_topp", "topp", url.Float(0.05, 1), 1.0, keep=True))
    return float(temperature), (int(top_k) or None), (None if top_p >= 1 else float(top_p))


def _step(name: str, device: str, ids: list[int], settings: tuple) -> None:
    """The step button: sample one token with the settings, append it to the text box."""
    dec = decoder_model(name, device)
    if len(ids) >= min(dec.max_len, 512):
        st.session_state["dec_last"] = ("full", 0.0)
        return
    probs = next_token_probs(decoder_next(name, device, tuple(ids)), *settings)
    rng = st.session_state.setdefault("dec_rng", np.random.default_rng())
    token = sample(probs, rng)
    st.session_state["dec_text"] = _text_of(dec, [*ids, token][dec.first_repeat():])
    st.session_state["dec_last"] = (dec.token_text(token), float(probs[token]))


def next_token_ui(state: url.PageState, name: str, dec: Decoder, device: str, ids: list[int],
                  report: HeadReport) -> None:
    layer, head = report.induction  # the sampled token's attention is shown in the induction head
    settings = _settings(state, dec.vocab_size)
    logits = decoder_next(name, device, tuple(ids))
    model_probs = next_token_probs(logits)
    probs = next_token_probs(logits, *settings)
    labels = [dec.token_text(i) for i in range(dec.vocab_size)] if dec.vocab_size <= 128 else \
        _labels(name, device)
    kept = int(np.count_nonzero(probs))
    top = int(np.argmax(probs))
    plotly_chart(st, next_token_figure(probs, labels, model_probs,
                                      title=f"After “{dec.token_text(ids[-1])}”: the next token, {kept} of "
                                            f"{dec.vocab_size} kept"), key="dec_next")
    st.caption(f"The model's distribution over its whole vocabulary at the end of your sequence; blue: the "
               f"tokens the settings keep (renormalised), grey: cut by top-k or top-p. Most likely: "
               f"“{labels[top]}” ({probs[top]:.1%}).")
    st.button("Step: sample one token and append it", key="dec_step", on_click=_step,
              args=(name, device, ids, settings), type="primary")
    last = st.session_state.get("dec_last")
    if last and last[0] == "full":
        st.warning(f"The context is full ({min(dec.max_len, 512)} tokens): shorten the sequence to step on.")
    elif last:
        trace = decoder_trace(name, device, tuple(ids))
        row = trace.head(layer, head)[-1]
        top_keys = np.argsort(-row)[:3]
        read = ", ".join(f"“{trace.key_tokens[k]}” (position {k}, {row[k]:.0%})" for k in top_keys)
        st.success(f"Sampled “{last[0]}” (probability {last[1]:.1%}), appended above. Its own attention in head "
                   f"{layer}.{head}, the last row of the heatmap, reads most from {read}.")


@st.cache_resource(max_entries=2)
def _labels(name: str, device: str) -> list[str]:
    dec = decoder_model(name, device)
    return [dec.token_text(i) for i in range(dec.vocab_size)]


# --- training live --------------------------------------------------------------------------------

def train_ui(device: str) -> None:
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps (batches of 64)", 100, induction.MAX_LIVE_STEPS, induction.LIVE_STEPS, step=100,
                      key="dec_train_steps", help="The phase change comes between steps 750 and 1,250.")
    control = c2.checkbox("Train the 1-layer control beside it (on the same batches)", key="dec_train_control")
    st.caption("A fresh 2-layer attention-only decoder learns to continue random sequences that repeat. Watch the "
               "loss on the repeated half: flat for hundreds of steps, then a sudden drop, when one head of the "
               "second layer starts to match prefixes (Olsson et al. 2022). Trainings wait in the server's one "
               "queue, in a low-priority process.")
    queue, owner = train_queue(), session_owner()
    if st.button("Train a fresh decoder", key="dec_train_go", type="primary"):
        try:
            queue.submit(owner, induction.induction_job(steps, control, device), total=steps,
                         label=f"induction, {steps} steps" + (", with the 1-layer control" if control else ""),
                         meta=control, kind=KIND)
        except (JobRefused, ValueError) as err:
            st.warning(str(err))
    job = queue.latest(owner, KIND)
    if job is None:
        return
    if job.active:
        _live()
    else:
        _job_panel(job)


def _job_panel(job: JobView) -> None:
    st.markdown(f"**Your training:** {job.label}")
    if job.state == QUEUED:
        st.info(f"Waiting: place {job.position} of {job.queued} in the queue.")
        st.button("Cancel", key="dec_train_cancel", on_click=cancel_job, args=(job.id,))
        return
    if job.active:
        loss = f", repeated-half loss {job.losses[-1]:.3f}" if job.losses else ""
        st.progress(min(1.0, job.step / max(1, job.total)),
                    text=f"step {job.step} of {job.total}{loss}" if job.step else "starting the training process ...")
        st.button("Cancel", key="dec_train_cancel", on_click=cancel_job, args=(job.id,))
    elif job.state == DONE:
        r = job.result
        control = "" if r.control_top1 is None else f" The 1-layer control: {r.control_top1:.0%}."
        st.success(f"Done: {r.steps} steps in {r.seconds:.0f} s. The model predicts {r.top1:.0%} of the repeated "
                   f"half (100 random sequences of 20 tokens); its best head, {r.best_head[0]}.{r.best_head[1]}, "
                   f"has a prefix-matching score of {r.best_prefix:.2f}.{control}")
    elif job.state == CANCELLED:
        st.info(job.message)
    elif job.state == FAILED:
        st.error(job.message)
    if job.losses:
        plotly_chart(st, _curves(job), key="dec_train_curves")
        st.caption(_phase_sentence(job))
    if job.snapshots:
        plotly_chart(st, _snapshots(job.id, len(job.snapshots), tuple(job.snapshots)), key="dec_train_snapshots")


_live = live_panel(KIND, _job_panel, "training")


def _curves(job: JobView):
    snaps = job.snapshots
    fig = phase_change_figure([s["step"] for s in snaps], job.losses, [s["prefix"] for s in snaps], job.total,
                              title="The phase change: loss and prefix-matching, as the model trains")
    controls = [s for s in snaps if s.get("control_loss") is not None]
    if controls:
        fig.add_scatter(x=[s["step"] for s in controls], y=[s["control_loss"] for s in controls], mode="lines",
                        name="1-layer control", line=dict(color="#b91c1c", dash="dash"), xaxis="x", yaxis="y")
        fig.add_scatter(x=[s["step"] for s in controls], y=[float(np.max(s["control_prefix"])) for s in controls],
                        mode="lines", name="control's best head", line=dict(color="#b91c1c", dash="dash"),
                        xaxis="x2", yaxis="y2")
    return fig


def _phase_sentence(job: JobView) -> str:
    """Where the loss fell, from the run: the first 50-step window whose mean is below half its start."""
    losses = np.asarray(job.losses)
    if len(losses) < 100:
        return "The loss is measured on the second copy, the part a model can predict only by looking back."
    start = losses[:50].mean()
    windows = np.convolve(losses, np.ones(50) / 50, mode="valid")
    below = np.flatnonzero(windows < start / 2)
    if not len(below):
        return (f"The repeated half's loss is {windows[-1]:.2f} (it started at {start:.2f}): no phase change yet "
                f"in {len(losses)} steps.")
    return (f"The repeated half's loss fell below half its start ({start:.2f}) by step {int(below[0]) + 50}; "
            f"it is {windows[-1]:.2f} now.")


@st.cache_resource(show_spinner=False, max_entries=16)
def _snapshots(job_id: int, n: int, _snaps: tuple):
    """Up to 6 snapshots of the final best head's attention on the probe sequence, built once per
    (job, number of snapshots)."""
    chosen = [_snaps[i] for i in np.linspace(0, n - 1, min(6, n)).astype(int)]
    layer, head = np.unravel_index(int(np.argmax(_snaps[-1]["prefix"])), _snaps[-1]["prefix"].shape)
    tokens = [t if t != " " else "␣" for t in ("<s>", *_probe_labels())]
    return snapshots_grid([(s["step"], s["pattern"][layer, head]) for s in chosen], tokens, tokens,
                          title=f"Head {layer}.{head} (the best now) on a sequence and its copy, as it trains",
                          edge_ticks=True)


def _probe_labels() -> list[str]:
    from viz.scratch.gpt import VOCAB

    return [VOCAB[i] for i in induction.probe_sequence()[1:]]

