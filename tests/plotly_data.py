"""Read numbers back out of plotly JSON: plotly 6+ sends numpy arrays as base64 'bdata'."""

import base64

import numpy as np


def values(v) -> np.ndarray:
    if isinstance(v, dict) and "bdata" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        if shape:
            arr = arr.reshape([int(s) for s in str(shape).split(",")] if isinstance(shape, str) else shape)
        return arr
    return np.asarray(v)
