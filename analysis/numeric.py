"""Turning caller input into float arrays, with the same ``ValueError`` everywhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def float_array(x: Any, name: str) -> np.ndarray:
    """Any-dimensional float array; ValueError if non-numeric or infinite."""
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be numeric, got a string")  # noqa: TRY004
    try:
        if isinstance(x, (pd.Series, pd.DataFrame)):
            arr = x.to_numpy(dtype="float64", na_value=np.nan)
        else:
            arr = np.asarray(x)
            if arr.dtype.kind == "O":
                flat = pd.to_numeric(pd.Series(arr.ravel(), dtype=object), errors="raise")
                arr = flat.to_numpy(dtype="float64", na_value=np.nan).reshape(arr.shape)
            elif arr.dtype.kind not in "biuf":
                raise TypeError(arr.dtype)  # noqa: TRY301 - becomes the "must be numeric" error below
            arr = arr.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values")
    return arr
