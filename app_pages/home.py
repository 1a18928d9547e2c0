import streamlit as st

st.title("Attention Lens")
st.markdown(
    """
See what attention does inside transformers, on **your own inputs**. Everything runs on this
machine with bundled models: no internet needed.

**New here, or teaching?** Start with the **Lesson**: eleven steps that follow the course notes from
attention in general to BERT and the Vision Transformer. Each step explains one idea in a few lines,
runs a real model on an input you can change, says what to notice in the figure it just drew, and asks
a question it checks. Presenter mode hides the sidebar and enlarges everything for a projector, and a
link such as `/lesson?step=4&present=1` opens step 4 with its inputs.

| Page | What it teaches |
|---|---|
| **Lesson** | The whole story in eleven live steps: attention, softmax and temperature, scaled dot-product attention, context-aware vectors ("bank" by a river and "bank" for money drifting apart layer by layer), Q/K/V shapes, self- vs cross-attention, multi-head attention, positional encodings, the encoder-decoder, BERT and ViT. A checked question on every step. |
| **From-scratch transformer** | A small encoder-decoder (Vaswani et al. 2017) written in PyTorch, trained on toy tasks. Type an input and see encoder self-attention, the decoder's masked self-attention and the cross-attention that aligns output to input, for every layer and head. Train a fresh model live and watch the alignment form. |
| **Softmax and scaling lab** | Type logits and turn the temperature: sharp or flat weights, and their entropy. Why scores are divided by √d_k (variance, saturation), what a mask does (including a row with nothing to attend to), why the max is subtracted before exp (float16 and float32 overflow), and a real model's scores under your temperature. |
| **Q/K/V dimension tracer** | Every tensor through one multi-head attention layer with its shape and parameter count, for your n, d_model and h; why PyTorch stores W_Q transposed; the real X, Q, K, V, scores and weights of the from-scratch model; a seeded worksheet for the classroom. |
| **Positional encodings** | Sinusoidal encodings as a heatmap and as waves, similarity that depends on the offset, PE(pos + k) as a rotation of PE(pos), learned embeddings beside sinusoidal ones, RoPE's offset-only scores, and what the model loses without positions. |
| **Text (BERT)** | Type a sentence (or two) and see what every head of a pretrained BERT (bundled: all-MiniLM-L6-v2) does with it: one head, the whole model, lines between tokens, how q·k builds one score, which heads look at [CLS], [SEP] or the next token, rollout, differences between heads or inputs, and bertviz's own views, offline. |
| **Image (ViT)** | A pretrained Vision Transformer (DINOv2-small, offline) on a sample picture or your own upload: the image cut into patches, where the CLS token and any clicked patch look in every layer and head, attention rollout, and the learned position embeddings. |

Pick a page in the sidebar. The sidebar also chooses the device (a CUDA GPU when there is one).
"""
)
