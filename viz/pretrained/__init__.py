"""Pretrained Hugging Face models -> AttentionTrace."""
