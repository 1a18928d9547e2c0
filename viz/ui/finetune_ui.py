"""The fine-tuning page's Streamlit pieces: the request, the queued job, and attention before and after.

The run is a job of the server's one training queue (viz.ui.scratch_ui.train_queue), in a child
process (viz.finetune.job). A run that was saved before (the same data, steps, learning rate,
seed and base) is read back from its folder at once, without queueing: that is how a teacher's
warm-up, or a second student asking the same, gets the result immediately.

Widget keys start with `ft_`; the URL carries task, steps, lr, seed, text, layer and head.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from viz.figures import finetune as fig
from viz.figures.text import compare_figure, matrix_figure
from viz.finetune.change import head_change, layer_sentence
from viz.finetune.data import MIN_ROWS, TASKS, DataError, generated
from viz.finetune.job import (
    DEFAULT_STEPS,
    FinetuneRequest,
    FinetuneResult,
    finetune_job,
    saved_result,
)
from viz.finetune.train import MAX_STEPS, load_finetuned, predict
from viz.jobs import CANCELLED, DONE, FAILED, QUEUED, JobRefused, JobView
from viz.pretrained.names import finetuned_dir
from viz.pretrained.text import ModelLoadError, TextInputError
from viz.ui import cache
from viz.ui import url_state as url
from viz.ui.figure_alt import plotly_chart
from viz.ui.guard import pass_gpu_faults
from viz.ui.scratch_ui import live_panel, session_owner, train_queue

KIND = "finetune"
SOURCES = {"agreement": "Agreement (CoLA-like, generated)", "sentiment": "Sentiment (generated)",
           "file": "Your file (CoLA TSV, IMDB CSV, text,label)"}
RATES = (1e-5, 2e-5, 3e-5, 5e-5, 1e-4)
EXAMPLES = {"agreement": "The keys to the cabinet is on the table.", "sentiment": "The plot was not good, but the "
            "acting was wonderful.", "file": "The professor talked us into a stupor."}
UPLOAD_TYPES = ["csv", "tsv", "txt"]
SECONDS_PER_STEP = 0.45  # benchmarks/finetune.py on one core: 0.36 (agreement) and 0.50 (sentiment)


def request_ui(state: url.PageState) -> FinetuneRequest | None:
    """The data, steps, learning rate and seed; None (with the reason shown) if they cannot run."""
    task = st.radio("Data", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                    key=state.bind("ft_task", "task", url.Choice.of(SOURCES), "agreement"))
    st.caption(TASKS[task][0] if task in TASKS else
               "A CoLA TSV (source, label, the author's mark, sentence; no header), an IMDB-style CSV "
               "(review,sentiment with positive/negative) or a two-column text,label file; 10% is held out. "
               "Up to 10 MB here; the command line (python -m viz.finetune --data FILE) reads larger files.")
    if task in TASKS:
        ds = generated(task)
        shown = [next(e for e in ds.train if e.label == label and e.subset == subset)
                 for subset in sorted({e.subset for e in ds.train}) for label in (1, 0)]
        st.caption("For example: " + "; ".join(f"“{e.text}” → {ds.labels[e.label]}" for e in shown) + ".")
    data, filename = b"", ""
    if task == "file":
        upload = st.file_uploader("Your data file", type=UPLOAD_TYPES, key="ft_upload")
        if upload is None:
            st.info(f"Choose a file with at least {MIN_ROWS} labelled rows of both classes.")
            return None
        data, filename = upload.getvalue(), upload.name
    c1, c2, c3 = st.columns(3)
    steps = c1.number_input("Steps (batches of 16)", 0, MAX_STEPS, step=50,
                            key=state.bind("ft_steps", "steps", url.Int(0, MAX_STEPS), DEFAULT_STEPS[task]),
                            help="0 steps: the untrained head, and attention exactly as before (a control).")
    lr = c2.select_slider("Learning rate", RATES, format_func="{:g}".format,
                          key=state.bind("ft_lr", "lr", url.Choice.of(RATES, "{:g}".format), 3e-5))
    seed = c3.number_input("Seed", 0, 9999, key=state.bind("ft_seed", "seed", url.Int(0, 9999), 0))
    request = FinetuneRequest(task=task, steps=int(steps), lr=float(lr), seed=int(seed), data=data, filename=filename)
    problem = _problem(request)
    if problem:
        st.error(problem)
        return None
    return request


@st.cache_data(max_entries=8, show_spinner=False)
def _problem(request: FinetuneRequest) -> str | None:
    """Why the request cannot run, or None; once per request, not on every rerun (an uploaded
    file of 10 MB is parsed here)."""
    try:
        request.check()
    except (DataError, ValueError) as err:
        return str(err)
    return None


def start_ui(request: FinetuneRequest, device: str) -> FinetuneResult | None:
    """The Start button and this session's job. Returns the result to show: a finished job's, or a
    saved run's (read back at once)."""
    queue, owner = train_queue(), session_owner()
    job = queue.latest(owner, KIND)
    folder = request.folder_name()
    if job is not None and job.meta == folder and job.active:
        _live_panel()  # this session's run of these settings (its folder may be written already)
        return None
    saved = saved_result(finetuned_dir() / folder)
    if saved is not None:
        if job is not None and job.meta == folder and job.state == DONE:
            st.success(f"Done: {saved.steps} steps in {saved.seconds:.0f} s.")
        else:
            st.success(f"This run was saved on this server before, so it is shown at once "
                       f"(its {saved.steps} steps took {saved.seconds:.0f} s).")
        return saved
    minutes = max(1, round(request.steps * SECONDS_PER_STEP / 60))
    if st.button("Start fine-tuning", key="ft_go", type="primary",
                 help=f"Queued for the server; about {minutes} min on one CPU core (no GPU), less on a GPU."):
        try:
            queue.submit(owner, finetune_job(request, device), total=request.steps, kind=KIND,
                         label=f"{SOURCES[request.task]}, {request.steps} steps, lr {request.lr:g}",
                         meta=folder)
        except (JobRefused, ValueError) as err:
            st.warning(str(err))
        job = queue.latest(owner, KIND)
    if job is None or job.meta != folder:
        if job is not None and job.active:
            st.info("Your other fine-tuning is still running; change the settings back to follow it, or cancel it.")
            st.button("Cancel it", key="ft_cancel_other", on_click=_cancel, args=(job.id,))
        return None
    if job.active:
        _live_panel()
        return None
    _job_panel(job)
    return job.result if job.state == DONE else None


def _cancel(job_id: int) -> None:
    train_queue().cancel(job_id, session_owner())


_live_panel = live_panel(KIND, lambda job: _job_panel(job), "fine-tuning")


def _job_panel(job: JobView) -> None:
    if job.state == QUEUED:
        st.info(f"Waiting: place {job.position} of {job.queued} in the queue. The server trains "
                f"{train_queue().workers} model(s) at a time; yours starts when a place frees up.")
        st.button("Cancel", key="ft_cancel", on_click=_cancel, args=(job.id,))
        return
    if job.active:
        loss = f", loss {job.losses[-1]:.3f}" if job.losses else ""
        text = f"step {job.step} of {job.total}{loss}" if job.step else "loading the model and measuring it before training ..."
        st.progress(min(1.0, job.step / max(1, job.total)), text=text)
        st.button("Cancel", key="ft_cancel", on_click=_cancel, args=(job.id,))
    elif job.state == CANCELLED:
        st.info(job.message)
    elif job.state == FAILED:
        st.error(job.message)
    if job.losses or job.snapshots:
        plotly_chart(st, fig.training_curves(job.losses, job.snapshots, job.total), key="ft_live_curves")


# --- the result -------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading the fine-tuned model ...", max_entries=2)
def _classifier(folder: str, device: str):
    return load_finetuned(folder, device)


@st.cache_data(max_entries=64, show_spinner=False)
def _verdict_and_change(folder: str, device: str, text: str):
    """(class probabilities, JS (L, H), cosine (L, H)) for one sentence: computed once, not again
    on each layer or head change."""
    model, tokenizer = _classifier(folder, device)
    base = cache.text_trace("", device, "float32", text, "")
    tuned = cache.text_trace(folder, device, "float32", text, "")
    return (predict(model, tokenizer, [text])[0], *head_change(base.weights, tuned.weights))


def result_ui(result: FinetuneResult, state: url.PageState, device: str) -> None:
    after, before = result.after, result.before
    st.subheader("How it did")
    cols = st.columns(2)
    subsets = "".join(f"\n| {name} | {acc:.1%} |" for name, acc in after.by_subset.items()) if len(after.by_subset) > 1 else ""
    cols[0].markdown(f"| held-out sentences | accuracy |\n|---|---|\n| **all {after.n}** | **{after.accuracy:.1%}** |"
                     f"{subsets}\n| before fine-tuning | {before.accuracy:.1%} |")
    (tn, fp), (fn, tp) = after.confusion
    neg, pos = result.labels
    cols[1].markdown(f"| true label | predicted {neg} | predicted {pos} |\n|---|---|---|\n| **{neg}** | {tn} | {fp} |\n"
                     f"| **{pos}** | {fn} | {tp} |")
    st.caption(f"Data: {result.source}. Base model: {result.base}. {result.steps} steps in {result.seconds:.0f} s.")
    if result.losses:
        plotly_chart(st, fig.training_curves(result.losses, result.evals, result.steps), key="ft_curves")

    st.subheader("Your sentence, before and after")
    text = st.text_input("A sentence for the fine-tuned model", max_chars=500,
                         key=state.bind("ft_text", "text", url.Text(500), EXAMPLES.get(result.task, "")))
    if not text.strip():
        st.info("Type a sentence to see the model's verdict and its attention before and after.")
        return
    try:
        base = cache.text_trace("", device, "float32", text, "")
        tuned = cache.text_trace(result.folder, device, "float32", text, "")
        probs, js, cos = _verdict_and_change(result.folder, device, text)
    except (ModelLoadError, TextInputError) as err:
        pass_gpu_faults(err)
        st.error(str(err))
        return
    k = int(np.argmax(probs))
    st.markdown(f"**Verdict:** {result.labels[k]} ({probs[k]:.1%}); {result.labels[1 - k]} {probs[1 - k]:.1%}.")
    L, H = js.shape
    top = np.unravel_index(int(np.argmax(js)), js.shape)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", range(L), key=state.bind("ft_layer", "layer", url.Int(0, L - 1), int(top[0]), always=True))
    head = c2.selectbox("Head", range(H), key=state.bind("ft_head", "head", url.Int(0, H - 1), int(top[1]), always=True))
    st.markdown(f"**What to notice:** {layer_sentence(js)} The head that moved most on this sentence is "
                f"layer {top[0]}, head {top[1]} (JS {js[top]:.3f}, cosine {cos[top]:.3f}).")
    plotly_chart(st, fig.change_grid(js, cos, "How much each head changed on this sentence (Jensen-Shannon "
                                    "divergence, 0 = unchanged)", (layer, head)), key="ft_change")
    toks = base.query_tokens
    left, right = st.columns(2)
    plotly_chart(left, matrix_figure(base.head(layer, head), toks, toks, title=f"before: layer {layer}, head {head}"),
                      key="ft_before")
    plotly_chart(right, matrix_figure(tuned.head(layer, head), toks, toks, title=f"after: layer {layer}, head {head}"),
                       key="ft_after")
    plotly_chart(st, fig.row_before_after(base.head(layer, head)[0], tuned.head(layer, head)[0], toks,
                                         f"[CLS]'s row, layer {layer}, head {head}: the classifier reads [CLS]"),
                    key="ft_cls")
    with st.expander("The difference, after − before", key="ft_diff_open", on_change="rerun") as box:
        if box.open:
            plotly_chart(st, compare_figure(tuned.head(layer, head), base.head(layer, head), toks, toks,
                                           title=f"after − before: layer {layer}, head {head}"), key="ft_diff")
    st.caption(f"Over {min(32, after.n)} held-out sentences: {layer_sentence(result.js, before.accuracy, after.accuracy)}")
    st.page_link("app_pages/text.py", label="Open the fine-tuned model on the Text page (every view works on it)",
                 query_params={"model": result.folder, "text": text})
