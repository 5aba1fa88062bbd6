"""The Red-Green experiment of Kayhan & van Gemert (CVPR 2020): can a CNN learn absolute position?

Black 32x32 images hold two 4x4 boxes side by side. Class 0: red left of green, in the top band;
class 1: green left of red, in the bottom band. On the usual ("similar") test set the classes
sit where they were trained; on the "dissimilar" test set each class sits in the other band. A
network that reads the colour order scores well on both; a network that learned *where* the
boxes are (which it can only know from the image border, through the padding) collapses on the
dissimilar set.

The network: four 3x3 convolutions without bias (32, 32, 64, 64 channels; strides 1, 2, 2, 2),
ReLU, global max pooling, a linear layer to 2 classes, trained with Adadelta (lr 1, weight
decay 5e-5, batches of 200) with early stopping on the validation accuracy. One network per
padding rule and seed, every convolution a :class:`padlab.torch.PaddedConv2d`.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from padlab._files import atomic_directory, atomic_file
from padlab.errors import PadlabFileError, PadlabValueError
from padlab.modes.registry import resolve_mode
from padlab.torch.layers import PaddedConv2d, pad_axes

__all__ = [
    "PAPER_VARIANTS",
    "VARIANTS",
    "ExperimentResult",
    "make_dataset",
    "position_experiment",
    "red_green_net",
]

#: (name shown, padding rule, padding per side)
VARIANTS = (
    ("valid", "zeros", 0),
    ("zeros same", "zeros", 1),
    ("zeros full", "zeros", 2),
    ("circular", "circular", 1),
    ("reflect", "reflect", 1),
    ("replicate", "replicate", 1),
    ("symmetric", "symmetric", 1),
    ("partial", "partial", 1),
)

#: the four networks of Kayhan & van Gemert's red_and_green.py (--conv_type valid, sconv,
#: fconv, cir): circular padding there is 2 wide, like fconv's zeros
PAPER_VARIANTS = (
    ("valid", "zeros", 0),
    ("zeros same", "zeros", 1),
    ("zeros full", "zeros", 2),
    ("circular", "circular", 2),
)

#: similar-set accuracy at or below this counts as "did not learn" (chance is 0.5)
CHANCE_LIMIT = 0.6


def make_dataset(
    count: int, seed: int, *, dissimilar: bool = False, size: int = 32, layout: str = "padlab"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) and labels (N,) of the Red-Green task.

    Class 0 is red then green in the top band, class 1 green then red in the bottom band;
    ``dissimilar`` moves every image to the other band (16 rows at size 32).

    ``layout="padlab"``: both boxes share one row (centre near 7 or 23, jitter of up to 4), the
    gap between them is 0 to 4 columns. ``layout="paper"``: the layout of Kayhan & van Gemert's
    ``utils_red_green.py``: the first box's column in [0, 10), the second's anywhere to its
    right at least 5 columns on, each box with its own row jitter in [-4, 3] around 7 or 23,
    and the dissimilar set the same images shifted by 16 rows.

    Examples
    --------
    >>> x, y = make_dataset(4, 0)
    >>> x.shape, y.tolist()
    (torch.Size([4, 3, 32, 32]), [0, 1, 0, 1])
    >>> float(x[0, 0].sum()), float(x[0, 1].sum())  # one red and one green 4x4 box
    (16.0, 16.0)
    >>> float(make_dataset(2, 0, layout="paper")[0][1, 1].sum())
    16.0
    """
    if layout not in ("padlab", "paper"):
        raise PadlabValueError(f"layout {layout!r}: allowed 'padlab' or 'paper'")
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 3, size, size), dtype=np.float32)
    labels = np.arange(count) % 2
    box = 4
    for i, label in enumerate(labels):
        first, second = (0, 1) if label == 0 else (1, 0)  # channel of the left box
        if layout == "paper":
            room = size - box
            offset = (7 if label == 0 else 23) + (16 if dissimilar else 0) * (
                1 if label == 0 else -1
            )
            x1 = int(rng.integers(0, room // 2 - box))
            y1 = offset + int(rng.integers(-4, 4))
            x2 = int(rng.integers(x1 + box + 1, room)) if x1 + box + 1 < room else room - 1
            y2 = offset + int(rng.integers(-4, 4))
        else:
            top_band = (label == 0) != dissimilar
            centre = 7 if top_band else size - 9
            y1 = min(max(int(centre + rng.integers(-4, 5)) - 2, 0), size - box)
            gap = int(rng.integers(0, 5))
            x1 = int(rng.integers(0, size - 8 - gap + 1))
            x2, y2 = x1 + box + gap, y1
        images[i, first, y1 : y1 + box, x1 : x1 + box] = 1.0
        images[i, second, y2 : y2 + box, x2 : x2 + box] = 1.0
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def red_green_net(rule: str, padding: int) -> nn.Module:
    """The experiment's network with every convolution padded by ``rule``.

    Examples
    --------
    >>> import torch
    >>> red_green_net("symmetric", 1)(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 2])
    """
    channels = (3, 32, 32, 64, 64)
    strides = (1, 2, 2, 2)
    layers: list[nn.Module] = []
    for cin, cout, stride in zip(channels[:-1], channels[1:], strides, strict=True):
        layers += [PaddedConv2d(cin, cout, 3, stride, padding, bias=False, padding_mode=rule),
                   nn.ReLU()]  # fmt: skip
    layers += [nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 2)]
    return nn.Sequential(*layers)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))


def _train(
    rule: str, padding: int, seed: int, data: dict, epochs: int, patience: int, protocol: str
):
    """One network; the state with the best validation score (accuracy, or loss for 'paper')."""
    torch.manual_seed(seed)
    model = red_green_net(rule, padding)
    if protocol == "paper":  # red_and_green.py: Adadelta(lr 1, rho 0.9, eps 1e-6), no shuffle
        optimiser = torch.optim.Adadelta(
            model.parameters(), lr=1.0, rho=0.9, eps=1e-6, weight_decay=5e-5
        )
    else:
        optimiser = torch.optim.Adadelta(model.parameters(), lr=1.0, weight_decay=5e-5)
    x, y = data["train"]
    order = torch.Generator().manual_seed(seed)
    best, waited, ran = float("inf"), 0, 0
    best_state: dict[str, torch.Tensor] | None = None
    for _ in range(epochs):
        ran += 1
        model.train()
        batches = (
            torch.arange(len(x)).split(200)
            if protocol == "paper"
            else torch.randperm(len(x), generator=order).split(200)
        )
        for batch in batches:
            optimiser.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
        if protocol == "paper":
            score = _loss(model, *data["val"])  # lower is better
        else:
            score = -_accuracy(model, *data["val"])
        if score < best:
            best, waited = score, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited > patience if protocol == "paper" else waited >= patience:
                break
    if best_state is None:  # no epoch, or a NaN score at every epoch
        raise PadlabValueError(f"rule {rule!r}: no epoch gave a validation score to keep")
    model.load_state_dict(best_state)
    return (
        _accuracy(model, *data["similar"]),
        _accuracy(model, *data["dissimilar"]),
        ran,
    )


def identical_rules(
    variants: tuple[tuple[str, str, int], ...], size: int = 32
) -> list[tuple[list[str], str, int]]:
    """Variants grouped by what they actually pad at this geometry: (names, rule, padding).

    Two rules that give the same padded values for the widths used (symmetric and replicate
    at a pad of 1) are one experiment, shown once under both names.

    Examples
    --------
    >>> [names for names, *_ in identical_rules((("replicate", "replicate", 1),
    ...                                          ("symmetric", "symmetric", 1)))]
    [['replicate', 'symmetric']]
    """
    probe = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, size, size)))
    groups: list[tuple[list[str], str, int, torch.Tensor | None]] = []
    for name, rule, padding in variants:
        r = resolve_mode(rule)
        if r.kind == "partial":
            padded = None  # a rescaling, not a padding: always its own
        else:
            padded = pad_axes(probe, ((padding, padding), (padding, padding)), r, 0.0)
        for group in groups:
            if group[2] == padding and padded is not None and group[3] is not None:
                if torch.equal(group[3], padded):
                    group[0].append(name)
                    break
        else:
            groups.append(([name], rule, padding, padded))
    return [(names, rule, padding) for names, rule, padding, _ in groups]


class VariantResult(TypedDict):
    """One variant's results over seeds (an entry of :attr:`ExperimentResult.variants`)."""

    name: str
    rule: str
    padding: int
    similar: list[float]
    dissimilar: list[float]
    epochs: list[int]


@dataclass(frozen=True)
class ExperimentResult:
    """Accuracy per variant over seeds, with the configuration that produced it."""

    variants: list[VariantResult]
    config: dict[str, object]
    seconds: float

    def table(self) -> str:
        """Mean and standard deviation over seeds, as a terminal table."""
        lines = [
            f"{'padding':12s} {'similar test':>16s} {'dissimilar test':>18s}  (accuracy, "
            f"mean ± std over {self.config['seeds']} seed(s))"
        ]
        width = max([12, *(len(v["name"]) for v in self.variants)])
        lines[0] = f"{'padding':{width}s}" + lines[0][12:]
        failed = []
        for v in self.variants:
            note = ""
            if statistics.fmean(v["similar"]) <= CHANCE_LIMIT:
                note = "  <- did not learn"
                failed.append(v["name"])
            lines.append(
                f"{v['name']:{width}s} {_pm(v['similar']):>16s} {_pm(v['dissimilar']):>18s}{note}"
            )
        if failed:
            lines.append(
                f"warning: {', '.join(failed)} stayed near chance on the similar test set: "
                "the run did not learn the task, so its dissimilar score says nothing"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _pm(values: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:5.1f} ± {100 * spread:4.1f}%"


def position_experiment(
    *,
    seeds: int = 3,
    epochs: int = 50,
    patience: int = 8,
    train: int = 2000,
    val: int = 1000,
    test: int = 1000,
    variants: tuple[tuple[str, str, int], ...] | None = None,
    protocol: str = "padlab",
    progress: Callable[[str], None] | None = None,
    checkpoint: str | Path | None = None,
) -> ExperimentResult:
    """Train the Red-Green network once per padding variant and seed; measure both test sets.

    Parameters
    ----------
    seeds : int
        Networks per variant (different initialisations and batch orders; same data).
    epochs, patience : int
        At most ``epochs``; stop after ``patience`` epochs without a better validation score.
    train, val, test : int
        Dataset sizes (the paper: 2000 / 1000 / 1000; the dissimilar set has ``test`` images).
    variants : tuple, optional
        ``(name, rule, padding)`` triples; by default :data:`VARIANTS` (``protocol='padlab'``)
        or :data:`PAPER_VARIANTS` (``'paper'``). Variants identical at this geometry are
        trained once and shown under both names (:func:`identical_rules`).
    protocol : str
        ``'padlab'``: padlab's layout (both boxes on one row), shuffled batches, the state with
        the best validation *accuracy*. ``'paper'``: Kayhan & van Gemert's published code
        (``red_and_green.py``): their box layout, batches in order, the state with the lowest
        validation *loss*, patience counted as theirs.
    progress : callable, optional
        Called with a line after every network.
    checkpoint : path, optional
        After every variant, the results so far are written here (atomically), so a long run
        that fails later keeps what it finished.

    Returns
    -------
    ExperimentResult
    """
    if protocol not in ("padlab", "paper"):
        raise PadlabValueError(f"protocol {protocol!r}: allowed 'padlab' or 'paper'")
    if variants is None:
        variants = PAPER_VARIANTS if protocol == "paper" else VARIANTS
    started = time.perf_counter()
    data = {
        "train": make_dataset(train, 1, layout=protocol),
        "val": make_dataset(val, 2, layout=protocol),
        "similar": make_dataset(test, 3, layout=protocol),
        "dissimilar": make_dataset(test, 3 if protocol == "paper" else 4, dissimilar=True,
                                   layout=protocol),
    }  # fmt: skip
    config = {"protocol": protocol, "seeds": seeds, "epochs": epochs, "patience": patience,
              "train": train, "val": val, "test": test, "torch": torch.__version__,
              "threads": torch.get_num_threads()}  # fmt: skip
    rows: list[VariantResult] = []
    for names, rule, padding in identical_rules(variants):
        name = " = ".join(names)
        similar, dissimilar, ran = [], [], []
        for seed in range(seeds):
            s, d, n = _train(rule, padding, seed, data, epochs, patience, protocol)
            similar.append(s)
            dissimilar.append(d)
            ran.append(n)
            if progress:
                progress(
                    f"{name} seed {seed}: similar {100 * s:.1f}%, dissimilar {100 * d:.1f}% "
                    f"({n} epochs, {time.perf_counter() - started:.0f} s)"
                    + ("  <- did not learn (similar set at chance)" if s <= CHANCE_LIMIT else "")
                )
        rows.append(
            {
                "name": name,
                "rule": rule,
                "padding": padding,
                "similar": similar,
                "dissimilar": dissimilar,
                "epochs": ran,
            }
        )
        if checkpoint is not None:
            partial = ExperimentResult(list(rows), config, time.perf_counter() - started)
            _write_json(Path(checkpoint), partial.to_dict())
    return ExperimentResult(rows, config, time.perf_counter() - started)


def _write_json(path: Path, data: object) -> None:
    try:
        with atomic_file(path) as handle:
            handle.write(json.dumps(data, indent=2).encode())
    except OSError as err:
        raise PadlabFileError(f"{path}: cannot write ({err.strerror or err})") from None


def plot(result: ExperimentResult):
    """Bar chart: accuracy on the similar and dissimilar test sets per variant, ±1 std."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = [v["name"] for v in result.variants]
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    xs = np.arange(len(names))
    bars: tuple[tuple[float, Literal["similar", "dissimilar"], str], ...] = (
        (-0.18, "similar", "#4c72b0"),
        (0.18, "dissimilar", "#dd8452"),
    )
    for offset, key, colour in bars:
        means = [statistics.fmean(v[key]) for v in result.variants]
        spread = [statistics.stdev(v[key]) if len(v[key]) > 1 else 0 for v in result.variants]
        ax.bar(xs + offset, means, 0.36, yerr=spread, capsize=3, color=colour, label=f"{key} test")
        if key == "dissimilar":  # the number that matters, printed above its error bar
            for x, mean, sd in zip(xs + offset, means, spread, strict=True):
                y = min(mean + sd, 1.0) + 0.015
                ax.text(x, y, f"{100 * mean:.0f}%", ha="center", va="bottom", fontsize=8)
    ax.axhline(0.5, ls=":", color="gray", lw=1)
    ax.text(1.005, 0.5, "chance", color="gray", va="center", fontsize=8,
            transform=ax.get_yaxis_transform())  # fmt: skip
    ax.set_xticks(xs, names, rotation=20)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy")
    ax.set_title(
        f"Red-Green: same boxes, other band (mean ± std over {result.config['seeds']} seeds)"
    )
    fig.legend(loc="outside right upper")
    return fig


def save(result: ExperimentResult, directory: str | Path) -> Path:
    """Write results.json, table.txt and accuracy.png to ``directory``.

    The files are written to a temporary directory beside it, which then replaces
    ``directory``: an interrupted run never leaves half of a result behind.
    """
    import matplotlib.pyplot as plt

    out = Path(directory)
    # atomic_directory checks the directory first, and turns a full disk or a lost permission
    # into one line (PadlabFileError) with nothing half-written
    with atomic_directory(out) as work:
        (work / "results.json").write_text(json.dumps(result.to_dict(), indent=2))
        (work / "table.txt").write_text(result.table() + "\n")
        fig = plot(result)
        try:
            fig.savefig(work / "accuracy.png", dpi=110)
        finally:
            plt.close(fig)
    return out
