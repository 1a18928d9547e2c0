import streamlit as st

from viz.ui import COUNTED_FROM_0, url_state
from viz.ui import class_ui as klass
from viz.ui import lesson_ui as ui

url = url_state.page("lesson")
ui.restore(url)  # a link's step, presenter mode and inputs
klass.join_from_url(url)  # /lesson?join=CODE: the teacher's join link or QR code
url.stop_reading()  # the inputs drawn below may be another step's (the class's): the link's are read
klass.keep_teacher()  # the teacher's tab keeps the class's key: back in class after a replica dies
klass.sync_before_widgets()  # a student following the teacher takes the class's step and inputs
with klass.turn():  # following students' runs take turns when the teacher moves
    if not ui.presenting():  # a projector needs the room
        st.title("Lesson: from attention to BERT and ViT")
        st.caption("The course notes' story in thirteen steps, each on real models and an input you can change: "
                   "read, change the input, notice, answer. Presenter mode (or ?present=1 in the link) is for a "
                   "projector; the link always reopens the step shown, with its inputs. A teacher can start a "
                   "class that follows along and answers live. " + COUNTED_FROM_0)
    klass.panel(ui.presenting())
    index, present = ui.navigation(locked=klass.locked(), teacher_tools=klass.teacher_tools)
    if present and klass.join_screen_shown():
        klass.show_join_screen()
    else:
        ui.show_step(index, present, url, ask=klass.ask, publish=klass.publish, url_extra=klass.url_params())
