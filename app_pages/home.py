from pathlib import Path

import streamlit as st

CARDS = Path(__file__).resolve().parents[1] / "static" / "home"  # small pictures, made by make screenshots

st.title("Attention Lens")
st.markdown("See what attention does inside transformers, on **your own inputs**. Everything runs on this "
            "machine with bundled models: no internet needed.")

# (page file, title, one line, card picture)
PAGES = [
    ("lesson", "Lesson", "The course notes' story in thirteen live steps, from attention to BERT, ViT, GPT and fine-tuning, each with a "
     "figure, a question it checks and what to notice. Presenter mode fits a projector.", "lesson"),
    ("scratch", "From-scratch transformer", "A small encoder-decoder written in PyTorch: encoder, masked decoder and "
     "cross-attention on your input, every layer and head; train one live.", "scratch"),
    ("softmax", "Softmax and scaling lab", "Your logits under a temperature, why scores are divided by √d_k, "
     "masking, and why the max is subtracted before exp.", "softmax"),
    ("dimensions", "Q/K/V dimension tracer", "Every tensor's shape through multi-head attention for your n, d_model "
     "and h, the real tensors of the scratch model, a seeded worksheet.", "dimensions"),
    ("positional", "Positional encodings", "Sinusoidal waves and heatmaps, learned positions of BERT and DINOv2, "
     "RoPE, and what shuffling the words does to attention.", "positional"),
    ("text", "Text (BERT)", "A pretrained BERT on your sentence: one head, the whole model, bertviz's views, how q·k "
     "builds a score, which heads look where, what each head moves.", "text"),
    ("finetune", "Fine-tuning", "Fine-tune BERT live on agreement or sentiment (or your CoLA or IMDB file), then see "
     "every head's attention on your sentence before and after.", "finetune"),
    ("image", "Image (ViT)", "DINOv2 on a sample or your picture: patches, where CLS and a clicked patch look, "
     "rollout, the learned position embeddings.", "image"),
    ("decoder", "Decoder (GPT)", "Causal attention and the next token over the whole vocabulary; an induction head "
     "found from the data and its circuit; watch one form as a model trains.", "decoder"),
]

st.subheader("New here, or teaching? Start with the Lesson")
left, right = st.columns(2)
with left.container(border=True):
    st.page_link("app_pages/lesson.py", label="**Start the lesson**", icon=":material/school:")
    st.caption("Thirteen steps; a link such as /lesson?step=4 opens a step with its inputs.")
with right.container(border=True):
    st.page_link("app_pages/lesson.py", label="**Teach a class**", icon=":material/co_present:",
                 query_params={"present": "1"})
    st.caption("Presenter mode for the projector: open the Teacher drawer and press Start a class; students "
               "join with a code or a QR code, and answer live.")

st.subheader("Every page")
for row in range(0, len(PAGES), 4):
    for col, (page, title, line, card) in zip(st.columns(4), PAGES[row:row + 4], strict=False):
        with col.container(border=True):
            if (CARDS / f"{card}.jpg").is_file():  # served by Streamlit's static folder, with its alt text
                st.markdown(f"![What the {title} page draws](app/static/home/{card}.jpg)")
            st.markdown(f"**{title}**")
            st.caption(line)
            st.page_link(f"app_pages/{page}.py", label="Open", icon=":material/arrow_forward:", help=f"Open {title}")
st.caption("The sidebar chooses the device: a CUDA GPU when there is one, else the CPU.")
