"""A class following the teacher's lesson: the class state (store.py) behind one small interface."""

from viz.classroom.store import ClassError, ClassLimits, ClassState, ClassStore, normalise_code

__all__ = ["ClassError", "ClassLimits", "ClassState", "ClassStore", "normalise_code"]
