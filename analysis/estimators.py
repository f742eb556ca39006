"""Weighted means and their Taylor-linearised standard errors.

Every estimator here reproduces R's ``survey`` package (Lumley 2004, 2010) for a design
declared as ``svydesign(ids=~1, weights=~w, data=...)``: a single-stage, with-replacement
("ultimate cluster") design in which each respondent is its own primary sampling unit.
Unweighted estimates are the special case ``w = 1``.

Notation: ``n`` respondents with values ``y_i`` and weights ``w_i``; ``W = sum(w_i)``.

* Weighted (Hajek) mean: ``ybar = sum(w_i * y_i) / W``.
* Linearisation (influence) variable: ``z_i = w_i * (y_i - ybar) / W``.
* With-replacement variance: ``var(ybar) = n / (n - 1) * sum((z_i - zbar)**2)``; since
  ``sum(z_i) = 0`` this is ``n / (n - 1) * sum(w_i**2 * (y_i - ybar)**2) / W**2``.

Domains (subgroups within a design, R ``svyby``) use the same formula with
``z_i = 1{i in d} * w_i * (y_i - ybar_d) / W_d`` over *all* ``n`` rows of the design, so the
correction factor is ``n / (n - 1)`` with the full design ``n`` (Lumley 2010, section 2.3).

All functions accept numpy arrays or pandas Series, aligned by position (not by index);
grouped results are indexed by the group labels. Nothing here imports Flask.

References
----------
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley. Chapters 2-3.
Lumley, T. (2004). Analysis of complex survey samples. *Journal of Statistical Software* 9(1).
Kish, L. (1965). *Survey Sampling*. Wiley (effective sample size).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "domain_means",
    "grouped_means",
    "kish_effective_n",
    "weighted_mean",
]

MissingMode = Literal["exclude", "domain"]

GROUPED_COLUMNS = ["n", "sum_w", "mean", "se", "n_eff", "design_n", "deff"]


# ---------------------------------------------------------------------------
# input helpers (shared with the other analysis modules)
# ---------------------------------------------------------------------------


def _as_1d_float(x: Any, name: str, *, allow_nan: bool = True) -> np.ndarray:
    """Convert ``x`` to a 1-D float64 array, raising ``ValueError`` on bad input."""
    if isinstance(x, pd.DataFrame):
        raise ValueError(f"{name} must be one-dimensional, got a DataFrame")  # noqa: TRY004
    if isinstance(x, (str, bytes)):
        raise ValueError(f"{name} must be numeric, got a string")  # noqa: TRY004
    try:
        if isinstance(x, pd.Series):
            if isinstance(x.dtype, pd.CategoricalDtype):
                raise TypeError("categorical")  # noqa: TRY301 - becomes the "must be numeric" error below
            arr = x.to_numpy(dtype="float64", na_value=np.nan)
        else:
            arr = np.asarray(x)
            if arr.dtype.kind not in "biuf":
                if arr.dtype.kind == "O":
                    arr = pd.Series(arr.ravel()).to_numpy(dtype="float64", na_value=np.nan)
                    arr = arr.reshape(np.shape(x))
                else:
                    raise TypeError(arr.dtype)  # noqa: TRY301 - becomes the "must be numeric" error below
            arr = arr.astype("float64", copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains infinite values")
    if not allow_nan and np.isnan(arr).any():
        raise ValueError(f"{name} contains missing (NaN) values")
    return arr


def _weights(w: Any, n: int) -> np.ndarray:
    """Validate weights: finite, non-negative, length ``n``; ``None`` means all ones."""
    if w is None:
        return np.ones(n)
    arr = _as_1d_float(w, "w", allow_nan=False)
    if arr.shape[0] != n:
        raise ValueError(f"w has length {arr.shape[0]} but y has length {n}")
    if (arr < 0).any():
        raise ValueError("w contains negative weights")
    return arr


def _check_missing(missing: str) -> None:
    if missing not in ("exclude", "domain"):
        raise ValueError(f"missing must be 'exclude' or 'domain', got {missing!r}")


def _label_frame(labels: Any, n: int, default_name: str) -> pd.DataFrame:
    """Turn group labels (array, Series, DataFrame or list of those) into a DataFrame."""
    if isinstance(labels, pd.DataFrame):
        frame = labels.reset_index(drop=True)
    elif isinstance(labels, pd.Series):
        name = labels.name if labels.name is not None else default_name
        frame = pd.DataFrame({name: labels.to_numpy()})
    elif (
        isinstance(labels, (list, tuple))
        and labels
        and all(isinstance(part, (pd.Series, np.ndarray)) for part in labels)
    ):
        cols = {}
        for i, part in enumerate(labels):
            name = getattr(part, "name", None)
            name = name if name is not None else f"{default_name}_{i}"
            cols[name] = np.asarray(part)
        frame = pd.DataFrame(cols)
    else:
        arr = np.asarray(labels)
        if arr.ndim != 1:
            raise ValueError(f"{default_name} labels must be one-dimensional")
        frame = pd.DataFrame({default_name: arr})
    if frame.shape[1] == 0:
        raise ValueError(f"{default_name} labels have no columns")
    if len(frame) != n:
        raise ValueError(f"{default_name} labels have length {len(frame)} but y has length {n}")
    return frame


def _factorize_rows(frame: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Code each row of ``frame`` as an integer group; rows with any missing label get -1.

    Returns the codes (0..G-1, sorted by label) and the labels as an Index/MultiIndex.
    """
    n = len(frame)
    combined = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    uniques_per_level = []
    radix = 1
    for col in frame.columns:
        series = frame[col]
        try:
            codes, uniques = pd.factorize(series, sort=True)
        except TypeError:  # unorderable mixed labels: keep order of appearance
            codes, uniques = pd.factorize(series, sort=False)
        missing |= codes < 0
        combined = combined * max(len(uniques), 1) + np.where(codes < 0, 0, codes)
        radix *= max(len(uniques), 1)
        uniques_per_level.append(uniques)
    combined = np.where(missing, -1, combined)
    present, inverse = np.unique(combined[~missing], return_inverse=True)
    codes_out = np.full(n, -1, dtype=np.int64)
    codes_out[~missing] = inverse
    # decode present combined codes back to per-level positions
    level_codes = []
    rem = present.copy()
    sizes = [max(len(u), 1) for u in uniques_per_level]
    for size in reversed(sizes):
        level_codes.append(rem % size)
        rem = rem // size
    level_codes.reverse()
    names = list(frame.columns)
    if frame.shape[1] == 1:
        index = pd.Index(uniques_per_level[0].take(level_codes[0]), name=names[0])
    else:
        index = pd.MultiIndex(
            levels=[pd.Index(u) for u in uniques_per_level],
            codes=level_codes,
            names=names,
        )
    return codes_out, index


# ---------------------------------------------------------------------------
# core vectorised computation
# ---------------------------------------------------------------------------


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _cell_stats(
    y: np.ndarray,
    w: np.ndarray,
    cell: np.ndarray,
    n_cells: int,
    in_design: np.ndarray,
    design: np.ndarray,
    n_designs: int,
    cell_design: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per-cell weighted mean and with-replacement Taylor SE.

    ``cell`` is the estimation group of each row (-1: none), ``design`` the design
    of each row, ``cell_design`` the design each cell belongs to and ``in_design``
    the rows that count towards each design's ``n``.
    """
    valid = ~np.isnan(y)
    design_n = np.bincount(design[in_design], minlength=n_designs)
    use = valid & (cell >= 0)
    c = cell[use]
    wu = w[use]
    yu = y[use]
    n = np.bincount(c, minlength=n_cells)
    sum_w = np.bincount(c, weights=wu, minlength=n_cells)
    sum_wy = np.bincount(c, weights=wu * yu, minlength=n_cells)
    sum_w2 = np.bincount(c, weights=wu * wu, minlength=n_cells)
    mean = _safe_divide(sum_wy, sum_w)
    resid = yu - np.nan_to_num(mean)[c]
    ss = np.bincount(c, weights=(wu * resid) ** 2, minlength=n_cells)
    dn = design_n[cell_design].astype(float)
    factor = _safe_divide(dn, dn - 1.0)
    var = factor * _safe_divide(ss, sum_w * sum_w)
    var = np.where((dn > 1) & (sum_w > 0), var, np.nan)
    se = np.sqrt(np.maximum(var, 0.0), where=~np.isnan(var), out=np.full(n_cells, np.nan))
    n_eff = _safe_divide(sum_w * sum_w, sum_w2)
    # Design effect against SRS with replacement, R svymean(deff = "replace"): var / vsrs with
    # vsrs = svyvar / n_c and svyvar = n_c/(n_c - 1) * sum_c w (y - mean)^2 / sum_w, n_c the
    # group's own count (svyby works on the subset design).
    ss_unit = np.bincount(c, weights=wu * resid * resid, minlength=n_cells)
    deff = _safe_divide(var * (n - 1.0) * sum_w, ss_unit)
    # A group whose answers are all equal has no variance to compare: the residuals left by
    # rounding in the weighted mean (around 1e-14) would make deff a ratio of two rounding
    # errors that changes with the order of the rows. Real spread on these 0-100 scores is
    # at least 1e-6 of the scale; rounding is below 1e-24 of it.
    spread = _safe_divide(ss_unit, sum_w * np.maximum(mean * mean, 1.0))
    deff = np.where((n > 1) & (spread > 1e-20), deff, np.nan)
    return {
        "n": n,
        "sum_w": sum_w,
        "mean": mean,
        "se": se,
        "n_eff": n_eff,
        "design_n": design_n[cell_design],
        "deff": deff,
    }


def weighted_mean(
    y: Any,
    w: Any = None,
    *,
    strata: Any = None,
    cluster: Any = None,
    fpc: Any = None,
    missing: MissingMode = "exclude",
) -> tuple[float, float]:
    """Weighted mean and its Taylor-linearised standard error (R ``svymean``).

    Parameters
    ----------
    y : array-like of float
        Values; NaN marks a respondent without a valid answer (see ``missing``).
    w : array-like of float, optional
        Non-negative sampling/analysis weights. ``None`` means all 1 (unweighted).
    strata, cluster, fpc : array-like, optional
        Optional one-stage design information as in ``svydesign(ids=~cluster,
        strata=~strata, fpc=~fpc)``. ``fpc`` is either the population number of PSUs in
        each row's stratum (values > 1) or the sampling fraction (all values <= 1), and
        must be constant within a stratum. By default every respondent is its own PSU,
        with no strata and no finite population correction.
    missing : {"exclude", "domain"}
        ``"exclude"`` (default): rows with NaN ``y`` are dropped before the design is
        formed (``svydesign`` on the valid rows). ``"domain"``: they stay in the design
        with a zero linearisation value, as R ``svymean(..., na.rm=TRUE)`` does on a
        design built from all rows.

    Returns
    -------
    mean, se : float
        ``ybar = sum(w*y)/sum(w)`` and ``se`` from
        ``var = sum_h (1 - f_h) * n_h/(n_h - 1) * sum_c (t_hc - tbar_h)**2`` where
        ``t_hc`` is the sum over PSU ``c`` of ``z_i = w_i (y_i - ybar)/sum(w)``.
        Without strata/clusters this is
        ``se**2 = n/(n-1) * sum(w_i**2 (y_i - ybar)**2) / sum(w)**2``.
        ``se`` is NaN when there is only one PSU (R would stop with "lonely PSU");
        both are NaN when there is no valid row.

    Raises
    ------
    ValueError
        Non-numeric or infinite ``y``; missing, negative or mis-sized weights or design
        variables; an ``fpc`` that varies within a stratum or is smaller than the
        number of sampled PSUs.

    References
    ----------
    Lumley (2010), *Complex Surveys*, sections 2.2-2.3; R ``survey::svymean``.
    """
    _check_missing(missing)
    yv = _as_1d_float(y, "y")
    n = yv.shape[0]
    wv = _weights(w, n)
    if strata is None and cluster is None and fpc is None:
        design = np.zeros(n, dtype=np.int64)
        in_design = ~np.isnan(yv) if missing == "exclude" else np.ones(n, dtype=bool)
        stats = _cell_stats(yv, wv, design, 1, in_design, design, 1, np.zeros(1, dtype=np.int64))
        return float(stats["mean"][0]), float(stats["se"][0])
    return _stratified_cluster_mean(yv, wv, strata, cluster, fpc, missing)


def _stratified_cluster_mean(
    y: np.ndarray,
    w: np.ndarray,
    strata: Any,
    cluster: Any,
    fpc: Any,
    missing: str,
) -> tuple[float, float]:
    n = y.shape[0]
    valid = ~np.isnan(y)
    keep = valid if missing == "exclude" else np.ones(n, dtype=bool)

    def codes_of(labels: Any, name: str) -> np.ndarray:
        if labels is None:
            return np.zeros(n, dtype=np.int64)
        frame = _label_frame(labels, n, name)
        codes, _ = _factorize_rows(frame)
        if (codes < 0).any():
            raise ValueError(f"{name} contains missing values")
        return codes

    s_codes = codes_of(strata, "strata")
    c_codes = codes_of(cluster, "cluster") if cluster is not None else np.arange(n)
    if fpc is not None:
        fpc_v = _as_1d_float(fpc, "fpc", allow_nan=False)
        if fpc_v.shape[0] != n:
            raise ValueError(f"fpc has length {fpc_v.shape[0]} but y has length {n}")
        if (fpc_v <= 0).any():
            raise ValueError("fpc must be positive")
    else:
        fpc_v = None

    y_k, w_k, s_k, c_k = y[keep], w[keep], s_codes[keep], c_codes[keep]
    if y_k.shape[0] == 0:
        return float("nan"), float("nan")
    valid_k = ~np.isnan(y_k)
    w_valid = np.where(valid_k, w_k, 0.0)
    total_w = w_valid.sum()
    if total_w == 0:
        return float("nan"), float("nan")
    mean = float(np.sum(w_valid * np.nan_to_num(y_k)) / total_w)
    z = np.where(valid_k, w_k * (np.nan_to_num(y_k) - mean) / total_w, 0.0)

    # PSU totals within strata
    psu_key = pd.MultiIndex.from_arrays([s_k, c_k])
    psu_codes, psu_index = pd.factorize(psu_key)
    t = np.bincount(psu_codes, weights=z)
    psu_stratum = np.asarray(psu_index.get_level_values(0), dtype=np.int64)
    n_strata = int(s_codes.max()) + 1
    n_h = np.bincount(psu_stratum, minlength=n_strata).astype(float)
    t_mean = _safe_divide(np.bincount(psu_stratum, weights=t, minlength=n_strata), n_h)
    dev2 = np.bincount(psu_stratum, weights=(t - t_mean[psu_stratum]) ** 2, minlength=n_strata)

    f_h = np.zeros(n_strata)
    if fpc_v is not None:
        for h in np.unique(s_codes):
            values = np.unique(fpc_v[s_codes == h])
            if values.shape[0] != 1:
                raise ValueError("fpc must be constant within each stratum")
            value = values[0]
            if np.all(fpc_v <= 1):
                f_h[h] = value
            else:
                if value < n_h[h]:
                    raise ValueError(
                        "fpc (population number of PSUs) is smaller than the number "
                        "of sampled PSUs in a stratum"
                    )
                f_h[h] = n_h[h] / value
    present = n_h > 0
    if np.any(n_h[present] < 2):
        return mean, float("nan")
    var = np.sum(((1.0 - f_h) * n_h / (n_h - 1.0) * dev2)[present])
    return mean, float(np.sqrt(var))


def grouped_means(
    y: Any,
    w: Any = None,
    *,
    design: Any = None,
    domain: Any = None,
    missing: MissingMode = "exclude",
) -> pd.DataFrame:
    """Weighted means and Taylor SEs for many designs, domains and items in one pass.

    This is the vectorised engine behind :func:`weighted_mean` and :func:`domain_means`
    (sums by ``numpy.bincount``; one pass per item), intended for e.g. 1,000,000
    respondents x 20 items x many groups.

    Parameters
    ----------
    y : array-like, Series or DataFrame
        Values. A DataFrame is treated as several items (one per column) and the result
        gets an outer index level ``item``. NaN marks a missing answer.
    w : array-like, optional
        Non-negative weights, one per row; ``None`` means unweighted.
    design : array-like, Series, DataFrame or list of arrays, optional
        Labels of independent designs (e.g. audience x wave). Each distinct label
        (combination) is analysed as its own ``svydesign(ids=~1, weights=~w)``. ``None``:
        a single design. Missing design labels raise ``ValueError``.
    domain : array-like, Series, DataFrame or list of arrays, optional
        Labels of domains (breakdown groups) *within* each design, estimated as R
        ``svyby(~y, ~domain, design, svymean)`` does: the SE uses the whole design's
        ``n``. Rows with a missing domain label remain in the design but belong to no
        domain. ``None``: estimate each design as a whole.
    missing : {"exclude", "domain"}
        How NaN ``y`` are treated: ``"exclude"`` (default) drops them before forming the
        design, so ``design_n`` counts valid answers; ``"domain"`` keeps them in the design
        as out-of-domain rows, as R ``na.rm=TRUE`` does on an existing design object.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``[item,] design levels [, domain levels]`` (label names from the
        Series/DataFrame column names, else ``"design"``/``"domain"``), one row for
        every group with at least one valid value, sorted by label, with columns

        ``n``  number of rows with a valid value in the group;
        ``sum_w``  sum of their weights;
        ``mean``  ``sum(w*y)/sum(w)``;
        ``se``  ``sqrt(N/(N-1) * sum_{i in g} w_i**2 (y_i - mean_g)**2) / sum_w`` with
        ``N = design_n`` (NaN if ``N < 2`` or ``sum_w == 0``);
        ``n_eff``  Kish effective size ``sum_w**2 / sum(w**2)`` within the group;
        ``design_n``  ``N``, the number of rows in the enclosing design;
        ``deff``  the design effect against simple random sampling with replacement, R
        ``svymean(..., deff = "replace")`` (``svyby`` for domains):
        ``se**2 / (s**2 / n)`` with ``s**2 = n/(n-1) * sum_g w_i (y_i - mean_g)**2 / sum_w``
        (NaN when ``n < 2`` or every value equals the mean).

    Raises
    ------
    ValueError
        On non-numeric/infinite values, bad weights, length mismatches, missing design
        labels or an unknown ``missing`` mode.

    Notes
    -----
    For a design as a whole ``z_i = w_i (y_i - ybar)/W`` sums to zero, so the
    with-replacement variance ``n/(n-1) sum (z_i - zbar)**2`` reduces to the closed form
    above; for a domain ``d`` the linearisation variable
    ``z_i = 1{i in d} w_i (y_i - ybar_d)/W_d`` also sums to zero over the design, so
    the same closed form holds with the design's ``N`` (Lumley 2010, section 2.3).
    """
    _check_missing(missing)
    if isinstance(y, pd.DataFrame):
        n = len(y)
        items = list(y.columns)
        if not items:
            raise ValueError("y has no columns")
        wv = _weights(w, n)
        prepared = _prepare_groups(n, design, domain)
        # All items in numpy, then one indexed frame: a frame per item costs more than the sums.
        stats = [
            _item_stats(_as_1d_float(y[item], f"y[{item!r}]"), wv, prepared, missing)
            for item in items
        ]
        index = prepared["index"]
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        full_index = pd.MultiIndex.from_arrays(
            [np.repeat(np.asarray(items, dtype=object), len(index))]
            + [np.tile(lvl, len(items)) for lvl in levels],
            names=["item", *index.names],
        )
        out = pd.DataFrame(
            {k: np.concatenate([s[k] for s in stats]) for k in GROUPED_COLUMNS}, index=full_index
        )
        out["n"] = out["n"].astype("int64")
        out["design_n"] = out["design_n"].astype("int64")
        return out[out["n"] > 0]
    yv = _as_1d_float(y, "y")
    n = yv.shape[0]
    wv = _weights(w, n)
    prepared = _prepare_groups(n, design, domain)
    return _grouped_one(yv, wv, prepared, missing)


def _prepare_groups(n: int, design: Any, domain: Any) -> dict[str, Any]:
    if design is None:
        d_codes = np.zeros(n, dtype=np.int64)
        d_index = None
        n_designs = 1
    else:
        frame = _label_frame(design, n, "design")
        d_codes, d_index = _factorize_rows(frame)
        if (d_codes < 0).any():
            bad = np.flatnonzero(d_codes < 0)[:10].tolist()
            raise ValueError(f"design labels are missing for rows at positions {bad}")
        n_designs = len(d_index)
    if domain is None:
        return {
            "design": d_codes,
            "n_designs": n_designs,
            "cell": d_codes,
            "n_cells": n_designs,
            "cell_design": np.arange(n_designs),
            "index": d_index if d_index is not None else pd.RangeIndex(1),
            "single": d_index is None,
        }
    frame = _label_frame(domain, n, "domain")
    g_codes, g_index = _factorize_rows(frame)
    n_dom = max(len(g_index), 1)
    key = np.where(g_codes >= 0, d_codes * n_dom + g_codes, -1)
    has = key >= 0
    present, inverse = np.unique(key[has], return_inverse=True)
    cell = np.full(n, -1, dtype=np.int64)
    cell[has] = inverse
    cell_design = present // n_dom
    cell_domain = present % n_dom
    dom_part = g_index.take(cell_domain)
    if d_index is None:
        index = dom_part
    else:
        des_part = d_index.take(cell_design)
        arrays = []
        names = []
        for part in (des_part, dom_part):
            if isinstance(part, pd.MultiIndex):
                for lvl in range(part.nlevels):
                    arrays.append(part.get_level_values(lvl))
                    names.append(part.names[lvl])
            else:
                arrays.append(part)
                names.append(part.name)
        index = pd.MultiIndex.from_arrays(arrays, names=names)
    return {
        "design": d_codes,
        "n_designs": n_designs,
        "cell": cell,
        "n_cells": len(present),
        "cell_design": cell_design,
        "index": index,
        "single": False,
    }


def _item_stats(
    y: np.ndarray, w: np.ndarray, prepared: dict[str, Any], missing: str
) -> dict[str, np.ndarray]:
    in_design = ~np.isnan(y) if missing == "exclude" else np.ones(y.shape[0], dtype=bool)
    return _cell_stats(
        y,
        w,
        prepared["cell"],
        prepared["n_cells"],
        in_design,
        prepared["design"],
        prepared["n_designs"],
        prepared["cell_design"],
    )


def _grouped_one(
    y: np.ndarray, w: np.ndarray, prepared: dict[str, Any], missing: str
) -> pd.DataFrame:
    stats = _item_stats(y, w, prepared, missing)
    out = pd.DataFrame(stats, index=prepared["index"])[GROUPED_COLUMNS]
    out["n"] = out["n"].astype("int64")
    out["design_n"] = out["design_n"].astype("int64")
    return out[out["n"] > 0]


def domain_means(
    y: Any, group: Any, w: Any = None, *, missing: MissingMode = "exclude"
) -> pd.DataFrame:
    """Domain (subgroup) means within one design, as R ``svyby(~y, ~group, design, svymean)``.

    Parameters
    ----------
    y : array-like of float
        Values; NaN = no valid answer (see ``missing`` in :func:`grouped_means`).
    group : array-like or Series
        Domain label of each row; rows with a missing label stay in the design but are in
        no domain. The result's index takes the Series name (else ``"group"``).
    w : array-like, optional
        Weights of the design ``svydesign(ids=~1, weights=~w)``; ``None`` = unweighted.
    missing : {"exclude", "domain"}
        See :func:`grouped_means`.

    Returns
    -------
    pandas.DataFrame
        Indexed by group label (sorted) with columns ``n``, ``mean``, ``se``:
        ``mean_d = sum_{g_i=d} w_i y_i / W_d`` and
        ``se_d**2 = N/(N-1) * sum_{g_i=d} w_i**2 (y_i - mean_d)**2 / W_d**2`` where ``N`` is
        the number of rows in the whole design (not in the domain). This is the
        linearisation variable ``z_i = 1{g_i=d} w_i (y_i - mean_d)/W_d`` over all rows.

    Raises
    ------
    ValueError
        See :func:`grouped_means`.

    References
    ----------
    Lumley (2010), section 2.3 (domain estimation); R ``survey::svyby``.
    """
    yv = _as_1d_float(y, "y")
    if isinstance(group, pd.DataFrame):
        labels: Any = group
    elif isinstance(group, pd.Series):
        labels = group if group.name is not None else group.rename("group")
    else:
        labels = pd.Series(np.asarray(group, dtype=object), name="group")
        if labels.shape[0] != yv.shape[0]:
            raise ValueError(f"group has length {labels.shape[0]} but y has length {yv.shape[0]}")
    out = grouped_means(yv, w, domain=labels, missing=missing)
    return out[["n", "mean", "se"]]


def kish_effective_n(w: Any, group: Any = None) -> Any:
    """Kish effective sample size ``(sum w)**2 / sum(w**2)``.

    Parameters
    ----------
    w : array-like of float
        Non-negative, finite weights.
    group : array-like or Series, optional
        If given, compute per group and return a Series indexed by group label.

    Returns
    -------
    float or pandas.Series
        NaN if all weights are zero (or there are none). Equals ``n`` for equal weights.

    Raises
    ------
    ValueError
        Missing, infinite or negative weights.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*, section 11.7.
    """
    wv = _as_1d_float(w, "w", allow_nan=False)
    if (wv < 0).any():
        raise ValueError("w contains negative weights")
    if group is None:
        s2 = float(np.sum(wv * wv))
        return float(wv.sum() ** 2 / s2) if s2 > 0 else float("nan")
    frame = _label_frame(group, wv.shape[0], "group")
    codes, index = _factorize_rows(frame)
    use = codes >= 0
    c = codes[use]
    sums = np.bincount(c, weights=wv[use], minlength=len(index))
    squares = np.bincount(c, weights=wv[use] ** 2, minlength=len(index))
    return pd.Series(_safe_divide(sums * sums, squares), index=index, name="n_eff")


def _first_series(*values: Any) -> pd.Series | None:
    for v in values:
        if isinstance(v, pd.Series):
            return v
    return None


def weighted_median(values: Any, weights: Any = None) -> float:
    """Weighted median: the smallest value whose weighted share of values at or below it is
    at least one half.

    .. math:: \\hat m = \\min\\{x_j : \\sum_{i: x_i \\le x_j} w_i \\ge \\tfrac12 \\sum_i w_i\\}

    As R ``svyquantile(~y, design, 0.5, qrule = "math")`` (the inverse of the weighted
    empirical distribution function; Lumley, *Complex Surveys*, 2010, sec. 2.4).

    Parameters
    ----------
    values : array-like
        Numbers; NaN are left out (with their weights).
    weights : array-like, optional
        Non-negative weights, one per value; ``None`` means unweighted.

    Returns
    -------
    float
        The median, NaN when no value (or no weight) is left.

    Raises
    ------
    ValueError
        Lengths differ, or a weight is negative or not finite.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if x.shape != w.shape or x.ndim != 1:
        raise ValueError("values and weights must be 1-D and of one length")
    if (~np.isfinite(w)).any() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative")
    keep = ~np.isnan(x)
    x, w = x[keep], w[keep]
    if not len(x) or w.sum() <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    share = np.cumsum(w) / w.sum()
    return float(x[np.searchsorted(share, 0.5 - 1e-12)])
