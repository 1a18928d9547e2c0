"""The fine-tuning page's Vision Transformer half: pictures, the queued job, and where CLS looks
before and after. The compute is viz.finetune.vision; widget keys start with `ftv_`.

The run is a job of the server's one training queue in a niced child process; a run asked for
again (same pictures and settings) is read back from its folder at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from viz.figures import finetune as fig
from viz.figures import loss_curve
from viz.figures.image import attention_overlay_figure
from viz.finetune import vision
from viz.finetune.images import CLASSES, SIZE, ImageDataError, Picture, shapes
from viz.images import ImageInputError, load_image, to_rgb
from viz.jobs import CANCELLED, DONE, FAILED, QUEUED, JobRefused, JobView
from viz.patches import PatchGrid
from viz.pretrained.names import finetuned_dir
from viz.ui import url_state as url
from viz.ui.figure_alt import plotly_chart
from viz.ui.scratch_ui import cancel_job, live_panel, session_owner, train_queue

KIND = "finetune_vit"
SOURCES = {"shapes": "Generated shapes (with the object's mask)", "zip": "Your zip of class folders"}
MAPS = {"cls": "CLS attention, one layer", "rollout": "Rollout: every layer together"}
RATES = (5e-5, 1e-4, 2e-4, 5e-4, 1e-3)
BLOCKS = (0, 1, 2, 4, 12)
SECONDS_PER_STEP = 0.8  # python -m viz.finetune --images shapes, one thread: 241 s for the default 300 steps


@st.cache_resource(show_spinner=False)
def _examples():
    """Four generated pictures, one per class, for the page's caption (built once per server)."""
    return shapes(4, 0).train


@st.cache_data(max_entries=8, show_spinner="Reading the pictures ...")
def _problem(request: vision.VisionRequest) -> str | None:
    try:
        request.check()
    except (ValueError, ImageDataError) as err:
        return str(err)
    return None


def request_ui(state: url.PageState) -> vision.VisionRequest | None:
    source = st.radio("Pictures", list(SOURCES), format_func=SOURCES.get, horizontal=True,
                      key=state.bind("ftv_source", "images", url.Choice.of(SOURCES), "shapes"))
    data, filename = b"", ""
    if source == "shapes":
        st.caption(f"{len(CLASSES)} classes ({', '.join(CLASSES)}): one object of a random colour, size, place and turn "
                   f"on a cluttered background with lines and dots; 2,400 to train on, 200 held out, every one with "
                   f"the mask of its object, so we can measure whether CLS looks at it. {SIZE} x {SIZE} px: "
                   f"{(SIZE // 14) ** 2} patches of 14 px.")
        cols = st.columns(len(CLASSES))
        for col, pic in zip(cols, _examples(), strict=True):
            col.image(pic.image, caption=CLASSES[pic.label], width=112,
                      alt=f"A generated example of the class {CLASSES[pic.label]} on a cluttered background")
    else:
        upload = st.file_uploader("A .zip with one folder of pictures per class (cat/1.jpg, dog/2.png, ...)",
                                  type=["zip"], key="ftv_upload")
        if upload is None:
            st.info("Choose a zip: at least two class folders of at least two pictures each; 10% is held out. "
                    "Pictures are resized to 112 x 112.")
            return None
        data, filename = upload.getvalue(), upload.name
    c1, c2, c3 = st.columns(3)
    steps = c1.number_input("Steps (batches of 16)", 0, vision.MAX_STEPS, step=25,
                            key=state.bind("ftv_steps", "steps", url.Int(0, vision.MAX_STEPS), vision.VisionConfig.steps),
                            help="0 steps: the fresh head, and attention exactly as before (a control).")
    lr = c2.select_slider("Learning rate", RATES, format_func="{:g}".format,
                          key=state.bind("ftv_lr", "lr", url.Choice.of(RATES, "{:g}".format), vision.VisionConfig.lr),
                          help=f"AdamW's rate at the first step for the blocks; the fresh head's is "
                               f"{vision.VisionConfig.head_lr_scale:g} times it. Both fall to 0 along a half "
                               "cosine by the last step.")
    blocks = c3.selectbox("Blocks that learn (of 12)", BLOCKS, key=state.bind(
        "ftv_blocks", "blocks", url.Choice.of(BLOCKS), vision.VisionConfig.train_blocks),
        help="The last blocks, the final LayerNorm and the head learn; the rest stays as pretrained. "
             "12: full fine-tuning (slower).")
    request = vision.VisionRequest(source=source, steps=int(steps), lr=float(lr), blocks=int(blocks),
                                   data=data, filename=filename)
    problem = _problem(request)
    if problem:
        st.error(problem)
        return None
    return request


def start_ui(request: vision.VisionRequest, device: str) -> dict | None:
    """The Start button and this session's job; the result to show, or None."""
    queue, owner = train_queue(), session_owner()
    job = queue.latest(owner, KIND)
    name = request.folder_name()
    if job is not None and job.meta == name and job.active:
        _live_panel()
        return None
    saved = vision.saved_vision(finetuned_dir() / name)
    if saved is not None:
        return saved
    minutes = max(1, round((request.steps * SECONDS_PER_STEP + 60) / 60))
    if st.button("Start fine-tuning the ViT", key="ftv_go", type="primary",
                 help=f"Queued for the server; about {minutes} min on one CPU core (no GPU)."):
        try:
            queue.submit(owner, vision.vision_job(request, device, str(finetuned_dir() / name)), total=request.steps,
                         kind=KIND, label=f"ViT on {SOURCES[request.source].lower()}, {request.steps} steps",
                         meta=name)
        except (JobRefused, ValueError) as err:
            st.warning(str(err))
        job = queue.latest(owner, KIND)
    if job is None or job.meta != name:
        return None
    if job.active:
        _live_panel()
        return None
    _job_panel(job)
    return job.result if job.state == DONE else None


def _job_panel(job: JobView) -> None:
    if job.state == QUEUED:
        st.info(f"Waiting: place {job.position} of {job.queued} in the queue.")
        st.button("Cancel", key="ftv_cancel", on_click=cancel_job, args=(job.id,))
        return
    if job.active:
        loss = f", loss {job.losses[-1]:.3f}" if job.losses else ""
        text = f"step {job.step} of {job.total}{loss}" if job.step else \
            "loading DINOv2 and measuring where CLS looks before training ..."
        st.progress(min(1.0, job.step / max(1, job.total)), text=text)
        st.button("Cancel", key="ftv_cancel", on_click=cancel_job, args=(job.id,))
    elif job.state == CANCELLED:
        st.info(job.message)
    elif job.state == FAILED:
        st.error(job.message)
    if job.losses:
        plotly_chart(st, loss_curve(job.losses), key="ftv_live_curves")


_live_panel = live_panel(KIND, _job_panel, "fine-tuning")


@st.cache_resource(show_spinner="Loading the models ...", max_entries=2)
def _models(folder: str, labels: tuple[str, ...], device: str):
    """(the pretrained model with a fresh head, the fine-tuned one), both at SIZE px, eager attention."""
    base = vision.load_classifier(labels, None).to(device).eval()
    tuned = vision.load_classifier(labels, folder).to(device).eval()
    return base, tuned


@st.cache_data(max_entries=32, show_spinner=False)
def _look(folder: str, labels: tuple[str, ...], device: str, key: str, _pic: Picture):
    """(class probabilities, {"before", "after"}: (CLS maps (L, P), rollout (P,))) for one picture:
    the ViT forwards once per picture, not again on a layer or map change. `key` names the picture
    (held-out index or upload)."""
    base, tuned = _models(folder, labels, device)
    maps = {}
    for side, model in (("before", base), ("after", tuned)):
        cls, rolled = vision.cls_maps(model, [_pic])
        maps[side] = (cls[:, 0], rolled[0])
    return vision.predict_vit(tuned, [_pic])[0], maps


def result_ui(r: dict, state: url.PageState, device: str) -> None:
    labels = tuple(r["labels"])
    st.success(f"Done: {r['steps']} steps in {r['seconds']:.0f} s; {r['trained']}.")
    st.subheader("How it did")
    # One table under the other: side by side, the confusion table ran past the right edge at 1024 px.
    st.markdown(f"| held-out pictures | accuracy |\n|---|---|\n| **after** | **{r['accuracy']:.1%}** |\n"
                f"| before (the fresh head) | {r['before_accuracy']:.1%} |")
    head = "| true \\ predicted | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels)
    rows = "".join(f"\n| **{name}** | " + " | ".join(str(v) for v in row) + " |" for name, row in zip(labels, r["confusion"],
                                                                                                    strict=True))
    st.markdown(head + rows)
    if r.get("losses"):
        plotly_chart(st, loss_curve(r["losses"]), key="ftv_curves")
    st.subheader("Where CLS looks, before and after")
    if r["before"] is not None:
        plotly_chart(st, fig.object_attention_figure(r["before"], r["after"],
                                                    f"On {r['before']['n']} held-out pictures, per layer"),
                     notice=r["sentence"], key="ftv_object")
        st.markdown(f"**What to notice:** {r['sentence']}")
    else:
        st.info(r["sentence"])
    pictures = shapes(0, 32).held_out if r["before"] is not None else None
    upload = st.file_uploader("Your own picture (or keep a held-out one)", type=["png", "jpg", "jpeg", "webp"],
                              key="ftv_picture")
    if upload is not None:
        try:
            pic = Picture(to_rgb(load_image(upload.getvalue(), upload.name)).resize((SIZE, SIZE)), -1)
        except ImageInputError as err:
            st.error(str(err))
            return
    elif pictures is not None:
        i = st.slider("Held-out picture", 0, len(pictures) - 1, key=state.bind("ftv_pic", "pic", url.Int(0, 31), 0))
        pic = pictures[i]
    else:
        st.info("Choose a picture to see the verdict and where CLS looks.")
        return
    key = upload.file_id if upload is not None else f"held-out {i}"
    probs, maps = _look(r["folder"], labels, device, key, pic)
    order = np.argsort(-probs)[:5]
    st.markdown("**Verdict:** " + ", ".join(f"{labels[k]} {probs[k]:.1%}" for k in order) + "."
                + (f" (It is a {labels[pic.label]}.)" if pic.label >= 0 else ""))
    L = maps["before"][0].shape[0]
    what, where = st.columns([2, 1])
    kind = what.radio("Map", MAPS, horizontal=True, format_func=MAPS.get,
                      key=state.bind("ftv_map", "map", url.Choice.of(MAPS), "cls"))
    if kind == "cls":
        layer = where.selectbox("Layer", range(L), key=state.bind("ftv_layer", "layer", url.Int(0, L - 1), L - 1))
    grid = PatchGrid(SIZE // 14, SIZE // 14, 14)
    image = np.asarray(pic.image)
    left, right = st.columns(2)
    for box, side in ((left, "before"), (right, "after")):
        cls, rolled = maps[side]
        weights, name = (cls[layer], f"CLS → patches, layer {layer}") if kind == "cls" else \
            (rolled, "rollout of CLS over every layer")
        plotly_chart(box, attention_overlay_figure(image, weights.reshape(grid.rows, grid.cols), grid,
                                                  f"{side}: {name}", height=380), key=f"ftv_{side}")
    st.caption(("Mean over the layer's heads" if kind == "cls" else
                "Rollout (Abnar & Zuidema 2020): each layer's heads averaged, the residual added, the layers "
                "multiplied from the first up") + "; renormalised to the patches; each map is coloured from 0 to its "
               "own largest weight.")
    st.page_link("app_pages/image.py", label="Open the fine-tuned model on the Image page (its top-5 labels, every view)",
                 query_params={"model": Path(r["folder"]).name})  # a name in the fine-tuned folder, no server path
