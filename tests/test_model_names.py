"""A typed model name the filesystem cannot look up gets a sentence from both loaders."""

import pytest
from streamlit.testing.v1 import AppTest

from viz.pretrained import ModelLoadError, load_text_model
from viz.pretrained.image import ImageModelError, load_image_model
from viz.pretrained.names import MAX_NAME, local_folder
from viz.ui.guard import UNEXPECTED

HUGE = "a" * 100_000
LONG_PART = "b" * 300  # under MAX_NAME, but one part longer than a file name may be (255)


def test_local_folder_answers_without_raising_oserror(tmp_path):
    assert local_folder(str(tmp_path)) == tmp_path
    assert local_folder("nobody-here/no-such-model") is None
    assert local_folder(LONG_PART) is None  # Path.exists() itself raises ENAMETOOLONG here
    with pytest.raises(ValueError, match="100,000 characters"):
        local_folder(HUGE)
    with pytest.raises(ValueError, match="control characters"):
        local_folder("bert\x1b[31m")
    assert len("x" * MAX_NAME) == MAX_NAME and local_folder("x" * MAX_NAME) is None


@pytest.mark.parametrize("name", [HUGE, "bert\nbase"])
def test_text_loader_refuses_impossible_names_with_a_sentence(name):
    with pytest.raises(ModelLoadError, match="model name"):
        load_text_model(name)


@pytest.mark.parametrize("name", [HUGE, "vit\tbase"])
def test_image_loader_refuses_impossible_names_with_a_sentence(name):
    with pytest.raises(ImageModelError, match="model name"):
        load_image_model(name)


def test_a_name_with_a_too_long_part_is_not_a_folder_and_not_on_the_hub():
    with pytest.raises(ModelLoadError):
        load_text_model(LONG_PART)
    with pytest.raises(ImageModelError):
        load_image_model(LONG_PART)


def _page_that_breaks():
    from viz.ui.guard import run_guarded

    class Broken:
        url_path = "broken"

        def run(self):
            raise KeyError("nobody foresaw this")

    run_guarded(Broken())
    import streamlit as st

    st.write("the script went on")


def test_the_last_guard_turns_an_unforeseen_error_into_a_sentence():
    at = AppTest.from_function(_page_that_breaks).run()
    assert not at.exception
    assert at.error[0].value.startswith(UNEXPECTED) and "KeyError" in at.error[0].value
    assert "nobody foresaw" not in at.error[0].value  # the details go to the server log only
    assert at.markdown[0].value == "the script went on"
