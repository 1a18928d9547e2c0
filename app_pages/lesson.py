import streamlit as st

from viz.ui import lesson_ui as ui

ui.restore_from_url()
if not ui.presenting():  # a projector needs the room
    st.title("Lesson: from attention to BERT and ViT")
    st.caption("The course notes' story in eleven steps, each on real models and an input you can change: "
               "read, change the input, notice, answer. Presenter mode (or ?present=1 in the link) is for a "
               "projector; the link always reopens the step shown, with its inputs.")
index, present = ui.navigation()
ui.show_step(index, present)
