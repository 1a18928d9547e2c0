"""The only package in viz/ that imports streamlit: cached loaders, sidebar, shared widgets."""

# Said where a layer or head number first appears on each page (one numbering for the whole app).
COUNTED_FROM_0 = "Layers and heads are counted from 0, as in PyTorch and Hugging Face."
