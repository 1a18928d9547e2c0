"""The only package in viz/ that imports streamlit: cached loaders, sidebar, shared widgets."""
