"""viz.ui.heap: the long-lived heap is frozen after imports, and only then."""

import gc
import sys
import types
import weakref

import pytest

from viz.ui import heap


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(heap, "_modules_at_freeze", 0)
    monkeypatch.delenv("ATTENTION_LENS_GC_FREEZE", raising=False)
    yield
    gc.unfreeze()  # give the test process its heap back
    sys.modules.pop("_heap_test_module", None)


def test_freezes_after_imports_and_only_then(fresh):
    assert heap.freeze_after_imports()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # pytest, numpy, ... are all in there
    survivor = [object() for _ in range(10)]  # a container created after the freeze
    assert not heap.freeze_after_imports()  # nothing imported since: a len() and nothing else
    assert gc.get_freeze_count() == frozen and gc.is_tracked(survivor)
    sys.modules["_heap_test_module"] = types.ModuleType("_heap_test_module")
    assert heap.freeze_after_imports()
    assert gc.get_freeze_count() > frozen


def test_garbage_is_collected_before_it_could_be_frozen(fresh):
    class Node:
        pass

    gc.disable()  # only the freeze's own collection may free the cycle
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the cycle collector frees it
        alive = weakref.ref(a)
        del a, b
        assert alive() is not None
        heap.freeze_after_imports()
        assert alive() is None  # frozen garbage would never have been freed
    finally:
        gc.enable()


def test_can_be_turned_off(fresh, monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_GC_FREEZE", "0")
    before = gc.get_freeze_count()
    assert not heap.freeze_after_imports()
    assert gc.get_freeze_count() == before
