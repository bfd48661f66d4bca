"""What the main-job examples share: user errors, CSV reading, atomic outputs, progress lines.

Not an example itself: ``house_prices.py`` and ``credit_risk.py`` import it (run them from any
folder; Python puts ``examples/`` on the path of the script it runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

# =================================================================================================
# User errors: one clear line, exit status 2, no traceback
# =================================================================================================


class UserError(Exception):
    """A problem with the user's input (files, columns, values), reported without a traceback."""


def warn(message: str) -> None:
    """Print a one-line warning to stderr (kept apart from the progress display on stdout)."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


class ArgParser(argparse.ArgumentParser):
    """argparse whose errors are user errors: one line, exit status 2."""

    def error(self, message: str):
        raise UserError(f"{message} (see --help)")


def run_options(p: ArgParser, name: str) -> None:
    """The options every main-job example takes, after its own data options."""
    p.add_argument("--out", help=f"output folder (default: runs/{name}-<timestamp>)")
    p.add_argument("--folds", type=int, default=None,
                   help="outer CV folds (default: 5, 3 if --quick)")
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and models (default: 0)")
    p.add_argument("--n-jobs", type=int, default=2, help="parallel fits (default: %(default)s)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="boosters' device (default: %(default)s)")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG plots")


def checked_run_options(args: argparse.Namespace) -> argparse.Namespace:
    """``--folds`` defaults to 5 (3 with ``--quick``) and must be at least 2."""
    if args.folds is None:
        args.folds = 3 if args.quick else 5
    if args.folds < 2:
        raise UserError(f"--folds must be at least 2, got {args.folds}")
    return args


def main_entry(parse_args, run, argv=None) -> int:
    """Run an example: user errors become one ``error: ...`` line and exit status 2."""
    try:
        return run(parse_args(argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the files already in the output folder are complete", file=sys.stderr)
        return 130


def read_csv(path: str, what: str) -> pd.DataFrame:
    """Read a CSV file the user named, turning every way it can fail into a UserError."""
    if not os.path.isfile(path):
        raise UserError(f"{what} file not found: {path}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {what} file {path}: {first_line}") from exc
    if df.shape[0] == 0:
        raise UserError(f"{what} file {path} has no rows")
    return df


def as_category(values: pd.Series) -> pd.Series:
    """Values as text categories, missing values as NaN (not ``pd.NA``, which imputers reject)."""
    text = values.astype(object).where(values.notna(), np.nan)
    return text.map(str, na_action="ignore").astype("category")


# =================================================================================================
# The user's tables
# =================================================================================================

ID_COLUMNS = ("Id", "ID", "id")  # a row identifier: not a feature, kept for the predictions file


def to_model_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns become ``category`` (as the loaders of ``ensemblekit.datasets`` return
    them) so that pipelines select columns by dtype and boosters use them natively."""
    df = df.copy()
    for col in df.columns:
        if pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].astype(float)
        elif not pd.api.types.is_numeric_dtype(df[col]) or isinstance(
            df[col].dtype, pd.CategoricalDtype
        ):
            df[col] = as_category(df[col])
    return df


def feature_table(raw: pd.DataFrame, path: str) -> tuple[pd.DataFrame, str | None]:
    """The features of a training table (target already removed): ``(X, id_column)``.

    The row identifier (``Id``) and columns without any value are dropped, each with a line on
    stderr; too few rows or no feature left is a user error.
    """
    id_column = next((c for c in ID_COLUMNS if c in raw.columns), None)
    if id_column is not None:
        raw = raw.drop(columns=id_column)
    empty = [c for c in raw.columns if raw[c].isna().all()]
    if empty:
        warn(f"dropping column(s) with no values at all (all NaN): {', '.join(map(repr, empty))}")
        raw = raw.drop(columns=empty)
    if raw.shape[1] == 0:
        raise UserError(f"{path} has no feature columns besides the target")
    if len(raw) < 20:
        raise UserError(f"{path} has only {len(raw)} usable rows; need at least 20")
    return to_model_dtypes(raw.reset_index(drop=True)), id_column


def load_new_table(path: str, X: pd.DataFrame, id_column: str | None):
    """Read the table to predict and align it with the training columns and dtypes.

    Returns ``(X_new, ids)``. A missing column, or text in a numeric column, is a user error;
    categories never seen in training are reported and left to the models (as unknown).
    """
    new = read_csv(path, "--test")
    ids = new[id_column] if id_column in new.columns else pd.Series(np.arange(1, len(new) + 1))
    missing = [c for c in X.columns if c not in new.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise UserError(f"--test table {path} lacks {len(missing)} training column(s): {shown}")
    new = new[list(X.columns)].copy()
    for col in X.columns:
        if isinstance(X[col].dtype, pd.CategoricalDtype):
            new[col] = as_category(new[col])
            unseen = sorted(set(new[col].dropna()) - set(X[col].dropna()))
            if unseen:
                shown = ", ".join(map(repr, unseen[:5])) + (" ..." if len(unseen) > 5 else "")
                warn(
                    f"--test column {col!r} has {len(unseen)} value(s) never seen in training "
                    f"({shown}); they are encoded as an unknown category"
                )
        else:
            converted = pd.to_numeric(new[col], errors="coerce")
            bad = new[col][converted.isna() & new[col].notna()]
            if len(bad):
                raise UserError(
                    f"--test column {col!r} is numeric in training but has text values "
                    f"such as {bad.iloc[0]!r}"
                )
            new[col] = converted.astype(float)
    return new.reset_index(drop=True), ids.reset_index(drop=True)


# =================================================================================================
# Outputs: files are written whole (temporary file, then rename), so an interrupted or failed run
# never leaves a half-written file behind
# =================================================================================================


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()


def write_atomic(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then rename the temporary file to ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left behind if writing failed
    return path


def write_json(path: Path, obj: dict) -> Path:
    def default(o):
        return o.item() if isinstance(o, np.generic) else str(o)

    text = json.dumps(obj, indent=2, default=default)
    return write_atomic(path, lambda tmp: tmp.write_text(text))


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    path = write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    pyplot().close(fig)
    return path


def plot_search_histories(searches: dict, score_label: str, path: Path) -> Path:
    """Each ``BayesSearchCV``'s trial scores and best so far, side by side."""
    from ensemblekit.tuning import plot_optimization_history

    plt = pyplot()
    fig, axes = plt.subplots(1, len(searches), figsize=(4.2 * len(searches), 3.6), squeeze=False)
    for ax, (name, search) in zip(axes[0], searches.items(), strict=True):
        plot_optimization_history(search, ax=ax)
        ax.set_title(name)
        ax.set_ylabel(score_label)
    fig.suptitle("BayesSearchCV: score of each trial and best so far")
    fig.tight_layout()
    return save_figure(fig, path)


def make_out_dir(out: str | None, name: str) -> Path:
    """``out``, or a fresh ``runs/<name>-<timestamp>`` folder, with a ``searches/`` subfolder."""
    if out:
        path = Path(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"{name}-{stamp}"
        k = 1
        while path.exists():
            path, k = Path("runs") / f"{name}-{stamp}-{k}", k + 1
    try:
        (path / "searches").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the output folder {path}: {exc.strerror}") from exc
    return path


class Clock:
    """Plain progress lines with the elapsed time, readable in a terminal and in a CI log."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        print(f"[{int(elapsed // 60):02d}:{elapsed % 60:04.1f}] {message}", flush=True)


def short_params(params: dict) -> str:
    """``a=0.123, b=4``: tuned parameters on one line, pipeline prefixes dropped."""
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in ((k.split("__")[-1], v) for k, v in params.items())
    )
