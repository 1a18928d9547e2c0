"""A typed model name the filesystem cannot look up gets a sentence from both loaders."""

import pytest
from streamlit.testing.v1 import AppTest

from viz.pretrained import ModelLoadError, load_text_model
from viz.pretrained.image import ImageModelError, load_image_model
from viz.pretrained.names import (
    ENV,
    MAX_NAME,
    REPO_MODELS,
    allowed_dirs,
    finetuned_dir,
    local_folder,
)
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


@pytest.fixture
def allowed(tmp_path, monkeypatch):
    """An allowed models folder holding one (fake) model folder, and a folder outside it."""
    root = tmp_path / "allowed"
    (root / "my-bert").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    monkeypatch.setenv(ENV, str(root))
    return root


def test_only_the_allowed_folders_are_looked_at(allowed, tmp_path):
    assert allowed_dirs() == [REPO_MODELS.resolve(), finetuned_dir().resolve(), allowed.resolve()]
    assert local_folder(str(allowed / "my-bert")) == allowed / "my-bert"
    assert local_folder("my-bert") == allowed / "my-bert"  # a bare name found in an allowed folder
    assert local_folder(str(allowed / "not-there")) == allowed / "not-there"  # the loader explains
    assert local_folder("bert-base-uncased") is None  # a Hub id
    assert local_folder("google/vit-base-patch16-224") is None
    for outside in ["../../etc/passwd", "/etc", str(tmp_path / "outside"), "~/", str(allowed / ".." / "outside")]:
        with pytest.raises(ValueError, match="outside the folders"):
            local_folder(outside)


def test_a_link_inside_an_allowed_folder_cannot_lead_out(allowed, tmp_path):
    (allowed / "sneaky").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError, match="outside the folders"):
        local_folder(str(allowed / "sneaky"))
    assert local_folder("sneaky") is None  # as a bare name it is not followed out either


@pytest.mark.parametrize("load, error", [(load_text_model, ModelLoadError), (load_image_model, ImageModelError)])
def test_both_loaders_refuse_a_path_outside_with_a_sentence(allowed, load, error):
    with pytest.raises(error, match="outside the folders this app loads models from"):
        load("../../etc/passwd")


@pytest.mark.parametrize("load, error", [(load_text_model, ModelLoadError), (load_image_model, ImageModelError)])
def test_refusals_never_show_the_servers_paths(allowed, tmp_path, load, error):
    """A user sees "the app's models/ folder" and the variable's name, never where the server keeps files."""
    (allowed / "broken").mkdir()
    (allowed / "broken" / "config.json").write_text("{not json")
    (allowed / "broken" / "model.safetensors").write_bytes(b"")
    (allowed / "pickled").mkdir()
    (allowed / "pickled" / "config.json").write_text("{}")
    (allowed / "pickled" / "pytorch_model.bin").write_bytes(b"")
    server_paths = [str(REPO_MODELS.resolve()), str(allowed.resolve()), str(tmp_path)]
    for name in ["../../etc/passwd", "/etc", "my-bert", "pickled", str(allowed / "pickled"), "broken"]:
        with pytest.raises(error) as refused:
            load(name)
        message = str(refused.value)
        assert not any(p in message for p in server_paths), message
    with pytest.raises(error, match=r"the app's models/ folder and the folders named in the server's "
                                     r"ATTENTION_LENS_MODEL_DIRS"):
        load("/etc")
    with pytest.raises(error, match=r"'pickled' holds only pytorch_model.bin"):
        load("pickled")


def test_server_paths_are_replaced_by_the_names_a_user_knows(allowed):
    from viz.pretrained.names import without_server_paths

    assert without_server_paths(f"{REPO_MODELS.resolve()}/x/config.json is bad") == "models/x/config.json is bad"
    assert without_server_paths(f"no file {allowed.resolve()}/a") == f"no file <{ENV}>/a"


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


def test_one_folder_check_for_both_loaders(tmp_path):
    from viz.pretrained.names import check_model_folder

    with pytest.raises(ValueError, match="no config.json"):
        check_model_folder(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no .safetensors weights file"):
        check_model_folder(tmp_path)
    (tmp_path / "weights.pth").write_bytes(b"")
    with pytest.raises(ValueError, match="only weights.pth: pickle-based"):
        check_model_folder(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"")
    check_model_folder(tmp_path)  # passes; loading then checks the weights themselves
