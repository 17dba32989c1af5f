"""Train the learned renderer on one person's own clips: `emodirector train-renderer`.

Steps: track the clip(s) -> keep the frames with a face, shrunk so the face crop needs no
upsampling -> hold back the end of each clip (`validation`) -> cut (source i warped to target j's
geometry, the geometry and motion, real j) pairs from a deterministic pool, i and j with similar
head pose as in an edit -> train the U-Net (net.py) within the budget, checkpointing into the run
folder -> on the held-back frames, choose how much of the network's correction to keep -> write
PERSON.pt under a temporary name, then rename.

Why the held-back frames: a few hundred frames of one clip are easy to memorise, and a memorised
correction hurts frames the network never saw (measured: on held-out frames, half of the
correction scored better than all of it). The gain that serves the held-back frames best is kept
in the model; 0 means nothing learned carries over, and the renderer then draws the plain warp.

Losses need no downloaded weights: L1 on Y U V weighted toward the face and mouth, plus L1 on the
luma gradients (folds and teeth edges). Deterministic for a given --seed, step count and thread
count: the pair pool of epoch e is drawn from (seed, e), so a resumed run sees the same pairs as an
unbroken one.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputError, OutputError
from ...types import FaceTrack
from ...video import VideoReader
from ..base import RenderOptions
from ..warp import WarpRenderer
from . import face_shape
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .crops import (
    OUT_CHANNELS,
    crop_box,
    cut,
    in_channels,
    jitter_box,
    loss_weight,
    network_input,
    scale_i420,
)
from .modelfile import NetConfig, save_model
from .net import build_net, import_torch, parameter_count
from .viz import TENSORBOARD_MISSING, open_tensorboard, sample_grid, write_page

MIN_FACE_SHARE = 0.5  # a clip must show the face in at least this share of its used frames


@dataclass(frozen=True)
class TrainOptions:
    """How to train. The CLI reads its defaults from here."""

    size: int = 128  # face crop side in pixels (multiple of 8)
    width: int = 16  # network channels at full resolution (~210 k parameters at 16)
    batch: int = 6  # pairs per step
    # The budget. Default: `passes` passes over the training frames (each frame a target that
    # often; a deterministic length that grows with the footage), stopped early at `max_minutes`.
    # `steps` (exactly that many) or `minutes` (wall-clock) replace it.
    passes: float = 25.0
    max_minutes: float = 15.0  # the default budget's wall-clock cap (tracking comes on top)
    minutes: float | None = None  # wall-clock training budget instead (cutting pairs included)
    steps: int | None = None  # stop after this many steps instead
    lr: float = 1e-3  # Adam; drops 10x for the last 30 % of the budget
    clip: float = 1.0  # largest gradient norm of a step (one bad batch cannot wreck the network)
    motion: bool = True  # give the network the warp's motion (crops.motion)
    augment: float = 0.03  # crops moved / scaled at random by up to this share of their side
    validation: float = 0.1  # share of each clip's used frames (its end) held back to calibrate
    max_pose_deg: float = 8.0  # a pair's two head poses differ by at most this (an edit keeps pose)
    seed: int = 0
    fraction: float = 1.0  # train on the first `fraction` of each clip's frames (hold out the rest)
    min_frames: int = 50  # frames with a face needed in all (2 s at 25 fps)
    mouth_gain: float = 2.0  # extra loss weight on the lips and mouth
    grad_weight: float = 0.5  # weight of the luma-gradient L1
    pool: int = 480  # (source, target) pairs cut at a time
    pool_passes: int = (
        2  # epochs served by each pool (cutting a pair costs about a third of a step)
    )
    # CPU threads for torch; 0: whichever is faster, every core this process may use or one,
    # timed at each new pool. Measured on 2 cores, a step of the default network: idle, 0.09 s
    # with 2 threads vs 0.20 with 1; busy with other jobs (load 4.5), 2.7-3.0 s vs 0.47-0.58.
    # A fixed count makes runs repeatable bit for bit.
    threads: int = 0
    checkpoint_seconds: float = 60.0  # at most this long between checkpoints
    sample_every: int = 50  # steps between pictures (HTML page, TensorBoard)
    log_every: int = 10  # steps between scalars

    def check(self) -> None:
        if self.size < 32 or self.size % 8:
            raise InputError(f"crop size {self.size}: give a multiple of 8, at least 32.")
        if not 0.05 <= self.fraction <= 1.0:
            raise InputError(f"fraction {self.fraction}: give a share of the frames in (0.05, 1].")
        if self.minutes is not None and self.minutes <= 0:
            raise InputError(f"--minutes {self.minutes}: give a positive budget.")
        if self.passes <= 0 or self.max_minutes <= 0:
            raise InputError("give a positive number of passes and a positive time cap.")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"--steps {self.steps}: give at least 1.")
        if not 0.0 <= self.validation <= 0.5:
            raise InputError(f"validation {self.validation}: give a share in [0, 0.5].")
        if self.threads < 0:
            raise InputError(f"--threads {self.threads}: give 0 (every core) or more.")
        if self.batch < 1 or self.pool < self.batch:
            raise InputError(f"batch {self.batch} / pool {self.pool}: need 1 <= batch <= pool.")


@dataclass
class TrainProgress:
    """One step's news for a progress bar."""

    step: int
    elapsed: float  # seconds of training so far (resumed runs included)
    budget: float  # seconds of the time budget or cap (inf with an explicit step budget)
    steps: int | None  # the step budget, if any (explicit, or from `passes`)
    loss: float
    warp_loss: float  # the same loss of the warped input itself (what the network starts from)


@dataclass
class TrainResult:
    """What a finished run did."""

    model: Path
    run_dir: Path
    page: Path
    steps: int
    minutes: float
    frames: int  # training frames with a face
    parameters: int
    first_loss: float  # mean loss over the first logged steps
    last_loss: float  # mean loss over the last logged steps
    warp_loss: float  # mean warp-only loss over the last logged steps
    gain: float = 1.0  # share of the network's correction kept (calibrated on held-back frames)
    validation_frames: int = 0  # frames held back from training to choose `gain`
    validation_loss: float = math.nan  # loss on them with `gain`
    validation_warp: float = math.nan  # loss of the plain warp on them
    warnings: list[str] = field(default_factory=list)


@dataclass
class Clip:
    """The frames of one clip kept for training: shrunk pictures and their landmarks."""

    name: str
    pictures: list[np.ndarray]  # N x (h2*3/2, w2) uint8 I420 at the working scale
    landmarks: np.ndarray  # (N, 478, 3) float32 in pixels of the shrunk pictures
    rotations: np.ndarray  # (N, 3, 3) float64 head rotations (scale removed)

    def take(self, rows: slice) -> Clip:
        return Clip(self.name, self.pictures[rows], self.landmarks[rows], self.rotations[rows])

    def partner(self, j: int, max_deg: float, rng: np.random.Generator) -> int:
        """A random frame whose head pose is within `max_deg` of frame j's (j itself at least):
        the source of a pair. Edits keep the head pose, so the network learns what changes with
        the expression, not how to fake a head turn."""
        cos = (np.einsum("nab,ab->n", self.rotations, self.rotations[j]) - 1.0) / 2.0
        near = np.flatnonzero(cos >= np.cos(np.radians(max_deg)) - 1e-9)
        return int(near[rng.integers(len(near))]) if len(near) else j


def working_scale(track: FaceTrack, size: int) -> float:
    """How much to shrink frames so the face crop is about 1.25 x the network's crop (never up)."""
    lm = track.landmarks[track.valid]
    if len(lm) == 0:
        return 1.0
    extent = (lm[:, :, :2].max(axis=1) - lm[:, :, :2].min(axis=1)).max(axis=1)
    from .crops import CROP_SCALE

    side = float(np.median(extent)) * CROP_SCALE
    return min(1.0, 1.25 * size / max(side, 1.0))


def used_frames(track: FaceTrack, fraction: float) -> int:
    """How many frames from the start of the clip training uses."""
    return max(1, int(math.floor(track.n_frames * fraction)))


def load_clip(video: str | os.PathLike[str], track: FaceTrack, options: TrainOptions) -> Clip:
    """Decode the used frames that have a face, shrunk to the working scale (one pass)."""
    n = used_frames(track, options.fraction)
    valid = track.valid[:n]
    share = float(valid.mean()) if n else 0.0
    name = Path(video).name
    if share < MIN_FACE_SHARE:
        raise InputError(
            f"{name}: the face is found in only {100 * share:.0f} % of the frames used; the "
            f"learned renderer needs the person's face in at least {100 * MIN_FACE_SHARE:.0f} %: "
            "give a clip where the face stays in view."
        )
    scale = working_scale(track, options.size)
    pictures: list[np.ndarray] = []
    rows: list[int] = []
    with VideoReader(video) as reader:
        for frame in reader:
            if frame.index >= n:
                break
            if frame.index < track.n_frames and track.valid[frame.index]:
                pictures.append(scale_i420(frame.yuv, scale))
                rows.append(frame.index)
    lm = track.landmarks[rows].copy()
    lm[:, :, :2] *= scale
    lm[:, :, 2] *= scale
    rot = track.transforms[rows, :3, :3].astype(np.float64)
    rot /= np.cbrt(np.maximum(np.abs(np.linalg.det(rot)), 1e-9))[:, None, None]
    return Clip(name=name, pictures=pictures, landmarks=lm, rotations=rot)


def split_clip(clip: Clip, share: float) -> tuple[Clip, Clip | None]:
    """(training part, held-back end) of a clip: the last `share` of its frames (at least 2) are
    kept for validation, as footage the network never sees, like the frames it will edit."""
    n = len(clip.pictures)
    k = int(round(n * share))
    if k < 2 or n - k < 2:
        return clip, None
    return clip.take(slice(0, n - k)), clip.take(slice(n - k, n))


class PairPool:
    """Training samples: (input (B, C, S, S), target (B, 3, S, S), weight (B, 1, S, S)), kept as
    float16 (half the memory); each pool serves `pool_passes` epochs, each in its own order.
    `jitter`: crops moved at random (options.augment); off for validation pairs."""

    def __init__(
        self, clips: Sequence[Clip], options: TrainOptions, index: int, jitter: bool = True
    ) -> None:
        rng = np.random.default_rng([options.seed, index])
        warp = WarpRenderer(RenderOptions(min_face_width=0.0))
        sizes = np.array([len(c.pictures) for c in clips], dtype=np.float64)
        s = options.size
        n = options.pool
        self.seed = (options.seed, index)
        self.inputs = np.empty((n, in_channels(options.motion), s, s), np.float16)
        self.targets = np.empty((n, OUT_CHANNELS, s, s), np.float16)
        self.weights = np.empty((n, 1, s, s), np.float16)
        which = rng.choice(len(clips), size=n, p=sizes / sizes.sum())
        for k in range(n):
            clip = clips[int(which[k])]
            j = int(rng.integers(len(clip.pictures)))
            i = clip.partner(j, options.max_pose_deg, rng)
            self.inputs[k], self.targets[k], self.weights[k] = cut_pair(
                clip, i, j, warp, options, rng if jitter else None
            )
        self.order = np.arange(n)

    def shuffle(self, epoch: int) -> None:
        """The order of this epoch's pass over the pool (deterministic)."""
        self.order = np.random.default_rng([*self.seed, epoch]).permutation(len(self.inputs))

    def batch(self, position: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.order[position : position + size]
        return tuple(a[rows].astype(np.float32) for a in (self.inputs, self.targets, self.weights))  # type: ignore[return-value]


def cut_pair(
    clip: Clip,
    i: int,
    j: int,
    warp: WarpRenderer,
    options: TrainOptions,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One sample: frame i warped to frame j's geometry (+ that geometry) -> the real frame j.
    With `rng`, the crop is jittered by options.augment."""
    src, dst = clip.landmarks[i], clip.landmarks[j]
    warped = warp.warp(clip.pictures[i], src, dst).yuv
    box = crop_box(dst, options.size)
    if rng is not None:
        box = jitter_box(box, rng, options.augment)
    x = network_input(warped, src, dst, box, options.motion).transpose(2, 0, 1)
    y = cut(clip.pictures[j], box).transpose(2, 0, 1)
    w = loss_weight(dst, box, options.mouth_gain)[None]
    return x, y, w


def loss_terms(torch: Any, pred: Any, target: Any, weight: Any, grad_weight: float) -> Any:
    """(B,) per-sample loss: weighted L1 on Y U V + grad_weight x weighted L1 on luma gradients."""
    wsum = weight.sum(dim=(1, 2, 3)).clamp_min(1e-6)
    l1 = (weight * (pred - target).abs()).sum(dim=(1, 2, 3)) / (wsum * pred.shape[1])
    gx = lambda z: z[:, :1, :, 1:] - z[:, :1, :, :-1]  # noqa: E731
    gy = lambda z: z[:, :1, 1:, :] - z[:, :1, :-1, :]  # noqa: E731
    ex = (weight[:, :, :, 1:] * (gx(pred) - gx(target)).abs()).sum(dim=(1, 2, 3))
    ey = (weight[:, :, 1:, :] * (gy(pred) - gy(target)).abs()).sum(dim=(1, 2, 3))
    return l1 + grad_weight * (ex + ey) / wsum


# Shares of the network's correction tried on the held-back frames (0 = the plain warp).
GAINS = tuple(round(0.1 * k, 1) for k in range(11))
VALIDATION_PAIRS = 64
VALIDATION_SEED = 1_000_003  # the pool index of the validation pairs (apart from training's)


def validation_losses(
    torch: Any, net: Any, pool: PairPool, device: str, grad_weight: float
) -> np.ndarray:
    """(len(GAINS),) mean loss on the validation pairs when the network's correction is kept at
    each gain of GAINS (gain 0: the warp alone)."""
    net.eval()
    totals = np.zeros(len(GAINS))
    n = len(pool.inputs)
    with torch.no_grad():
        for start in range(0, n, 16):
            x, y, w = (
                torch.from_numpy(a[start : start + 16].astype(np.float32)).to(device)
                for a in (pool.inputs, pool.targets, pool.weights)
            )
            base = x[:, :OUT_CHANNELS]
            residual = net(x) - base
            for g, gain in enumerate(GAINS):
                pred = base + gain * residual
                totals[g] += float(loss_terms(torch, pred, y, w, grad_weight).sum())
    net.train()
    return totals / max(n, 1)


def best_gain(losses: np.ndarray) -> float:
    """The gain of GAINS with the lowest validation loss (the smaller one on a tie)."""
    return GAINS[int(np.argmin(np.round(losses, 7)))]


def check_one_person(videos: Sequence[str | os.PathLike[str]], tracks: Sequence[FaceTrack]) -> None:
    """Refuse clips of different people (one model learns one face): report.py's identity
    measure of each clip against the first."""
    from ...report import IDENTITY_THRESHOLD, shape_distance

    if len(tracks) < 2:
        return
    shapes = [face_shape(t.landmarks) for t in tracks]
    first = shapes[0]
    for video, shape in zip(videos[1:], shapes[1:], strict=True):
        if first is None or shape is None:
            continue  # a clip without a face is refused by load_clip with its own message
        d = shape_distance(first, shape)
        if d >= IDENTITY_THRESHOLD:
            raise InputError(
                f"{Path(video).name} shows another person than {Path(videos[0]).name} "
                f"(face-shape distance {d:.3f} >= {IDENTITY_THRESHOLD}, report's identity "
                "measure): a model learns one face, train one model per person."
            )


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def faster_threads(torch: Any, net: Any, x: Any, counts: Sequence[int]) -> int:
    """The thread count of `counts` with the fastest forward + backward pass on batch `x` (two
    timed passes each; the gradients are left zeroed and the weights untouched)."""
    best, best_t = counts[0], math.inf
    for n in counts:
        torch.set_num_threads(n)
        t0 = time.perf_counter()
        for _ in range(2):
            net.zero_grad()
            net(x).sum().backward()
        t = time.perf_counter() - t0
        if t < best_t:
            best, best_t = n, t
    net.zero_grad()
    return best


def step_budget(options: TrainOptions, frames: int) -> tuple[int | None, float]:
    """(steps or None, seconds) a run may take: explicit steps (no time limit), explicit minutes
    (no step limit), or by default `passes` over the `frames` training frames within max_minutes."""
    if options.steps is not None:
        return options.steps, math.inf
    if options.minutes is not None:
        return None, options.minutes * 60.0
    return max(1, math.ceil(options.passes * frames / options.batch)), options.max_minutes * 60.0


def train_renderer(
    videos: Sequence[str | os.PathLike[str]],
    tracks: Sequence[FaceTrack],
    output: str | os.PathLike[str],
    options: TrainOptions = TrainOptions(),
    *,
    run_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_step: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """Train a model of the person in `videos` (tracked as `tracks`) and write it to `output`."""
    options.check()
    check_one_person(videos, tracks)
    torch = import_torch()
    out = Path(output)
    run = Path(run_dir) if run_dir is not None else out.with_name(f"{out.stem}.run")
    ckpt_path = run / CHECKPOINT
    if ckpt_path.exists() and not resume:
        raise InputError(
            f"{run} holds a checkpoint of an earlier run: add --resume to continue it, or give "
            "another --run-dir."
        )
    if resume and not ckpt_path.exists():
        raise InputError(f"--resume: no checkpoint in {run}; start without --resume.")
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{run}: cannot create the run folder ({exc.strerror}).") from exc

    loaded = [load_clip(v, t, options) for v, t in zip(videos, tracks, strict=True)]
    parts = [split_clip(c, options.validation) for c in loaded]
    clips = [p[0] for p in parts]
    held = [p[1] for p in parts if p[1] is not None]
    n_frames = sum(len(c.pictures) for c in clips)
    n_all = sum(len(c.pictures) for c in loaded)
    if n_all < options.min_frames:
        raise InputError(
            f"only {n_all} frames with a face to train on; the learned renderer needs at "
            f"least {options.min_frames} (about 2 s of a talking clip): give a longer clip."
        )
    all_lm = np.concatenate([t.landmarks[: used_frames(t, options.fraction)] for t in tracks])
    identity = face_shape(all_lm, 400)
    assert identity is not None  # load_clip found the face in at least half of the frames
    sources = tuple(c.name for c in clips)

    torch.set_num_threads(options.threads if options.threads > 0 else usable_cores())
    torch.manual_seed(options.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    probe_threads = options.threads == 0 and usable_cores() > 1 and device == "cpu"
    net = build_net(options.width, in_channels(options.motion), OUT_CHANNELS).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=options.lr)
    step, elapsed = 0, 0.0
    history: list[tuple[int, float, float]] = []
    validation: list[tuple[int, float, float, float]] = []
    if resume:
        step, elapsed, history, validation = load_checkpoint(
            torch, ckpt_path, net, opt, options, sources
        )

    warnings: list[str] = []
    tb = open_tensorboard(run)
    if tb is None:
        warnings.append(TENSORBOARD_MISSING)
    page = run / "index.html"
    samples = PairPool(
        clips, TrainOptions(**{**asdict(options), "pool": 4, "seed": options.seed + 1}), 0, False
    )
    n_held = sum(len(c.pictures) for c in held)
    checks = (
        PairPool(
            held,
            TrainOptions(**{**asdict(options), "pool": VALIDATION_PAIRS}),
            VALIDATION_SEED,
            jitter=False,
        )
        if held
        else None
    )

    def validate() -> np.ndarray | None:
        if checks is None:
            return None
        losses = validation_losses(torch, net, checks, device, options.grad_weight)
        validation.append((step, float(losses[-1]), float(losses[0]), best_gain(losses)))
        if tb is not None:
            tb.add_scalar("validation/network", losses[-1], step)
            tb.add_scalar("validation/warp_only", losses[0], step)
            tb.add_scalar("validation/best_gain", best_gain(losses), step)
        return losses

    total, budget = step_budget(options, n_frames)

    def tensor(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    def lr_at(step: int, elapsed: float) -> float:
        done = max(step / total if total is not None else 0.0, elapsed / budget)
        return options.lr * (0.1 if done >= 0.7 else 1.0)

    def checkpoint() -> None:
        save_checkpoint(
            torch, ckpt_path, net, opt, options, sources, step, elapsed, history, validation
        )

    per_epoch = options.pool // options.batch
    pool: PairPool | None = None
    pool_epoch = order_epoch = -1
    last_ckpt = time.monotonic()
    recent: list[tuple[float, float]] = []
    try:
        while elapsed < budget and (total is None or step < total):
            t0 = time.monotonic()  # the budget counts cutting pairs as well as the steps
            epoch, pos = divmod(step, per_epoch)
            if pool is None or epoch // options.pool_passes != pool_epoch:
                pool = PairPool(clips, options, epoch // options.pool_passes)
                pool_epoch, order_epoch = epoch // options.pool_passes, -1
                if probe_threads:
                    x, y, w = (tensor(a) for a in pool.batch(0, options.batch))
                    torch.set_num_threads(faster_threads(torch, net, x, (usable_cores(), 1)))
            if order_epoch != epoch:
                pool.shuffle(epoch)
                order_epoch = epoch
            x, y, w = (tensor(a) for a in pool.batch(pos * options.batch, options.batch))
            for group in opt.param_groups:
                group["lr"] = lr_at(step, elapsed)
            net.train()
            pred = net(x)
            loss = loss_terms(torch, pred, y, w, options.grad_weight).mean()
            opt.zero_grad()
            loss.backward()
            if options.clip > 0:
                torch.nn.utils.clip_grad_norm_(net.parameters(), options.clip)
            opt.step()
            with torch.no_grad():
                warp_loss = loss_terms(torch, x[:, :OUT_CHANNELS], y, w, options.grad_weight).mean()
            step += 1
            elapsed += time.monotonic() - t0
            now = (loss.item(), warp_loss.item())
            recent.append(now)
            if step % options.log_every == 0 or step == 1:
                lv = float(np.mean([r[0] for r in recent]))
                wv = float(np.mean([r[1] for r in recent]))
                history.append((step, lv, wv))
                recent.clear()
                if tb is not None:
                    tb.add_scalar("loss/train", lv, step)
                    tb.add_scalar("loss/warp_only", wv, step)
                    tb.add_scalar("lr", lr_at(step, elapsed), step)
            if step % options.sample_every == 0 or step == 1:
                validate()
                _pictures(
                    torch, net, samples, device, tb, page, out.stem, step, elapsed, history,
                    validation,
                )  # fmt: skip
            if on_step is not None:
                on_step(TrainProgress(step, elapsed, budget, total, *now))
            if time.monotonic() - last_ckpt >= options.checkpoint_seconds:
                checkpoint()
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:
        checkpoint()  # resumable with --resume; nothing is written under the model's name
        raise
    losses = validate()
    gain = best_gain(losses) if losses is not None else 1.0
    if losses is None:
        warnings.append(
            "no frames could be held back to calibrate the network (clip too short): its "
            "correction is used in full."
        )
    checkpoint()
    _pictures(
        torch, net, samples, device, tb, page, out.stem, step, elapsed, history, validation
    )  # fmt: skip
    if tb is not None:
        tb.close()
    net.cpu()
    config = NetConfig(
        size=options.size, width=options.width, work_scale=1.0, motion=options.motion, gain=gain
    )
    save_model(out, net, config, identity, sources, step, elapsed / 60.0)
    k = max(1, min(5, len(history) // 4))
    return TrainResult(
        model=out,
        run_dir=run,
        page=page,
        steps=step,
        minutes=elapsed / 60.0,
        frames=n_frames,
        parameters=parameter_count(net),
        first_loss=float(np.mean([h[1] for h in history[:k]])) if history else math.nan,
        last_loss=float(np.mean([h[1] for h in history[-k:]])) if history else math.nan,
        warp_loss=float(np.mean([h[2] for h in history[-k:]])) if history else math.nan,
        gain=gain,
        validation_frames=n_held,
        validation_loss=float(losses[GAINS.index(gain)]) if losses is not None else math.nan,
        validation_warp=float(losses[0]) if losses is not None else math.nan,
        warnings=warnings,
    )


def _pictures(
    torch: Any,
    net: Any,
    samples: PairPool,
    device: str,
    tb: Any | None,
    page: Path,
    title: str,
    step: int,
    elapsed: float,
    history: list[tuple[int, float, float]],
    validation: list[tuple[int, float, float, float]],
) -> None:
    """Render the fixed sample pairs: the HTML page and a TensorBoard image."""
    net.eval()
    with torch.no_grad():
        x = torch.from_numpy(samples.inputs.astype(np.float32)).to(device)
        y = net(x).clamp(0, 1).cpu().numpy()
    inputs = samples.inputs[:, :OUT_CHANNELS].astype(np.float32).transpose(0, 2, 3, 1)
    outputs = y.transpose(0, 2, 3, 1)
    targets = samples.targets.astype(np.float32).transpose(0, 2, 3, 1)
    try:
        write_page(
            page,
            f"learned renderer: {title}",
            step,
            elapsed / 60,
            inputs,
            outputs,
            targets,
            history,
            validation,
        )
    except OSError as exc:
        raise OutputError(f"{page}: cannot write the training page ({exc.strerror}).") from exc
    if tb is not None:
        tb.add_image(
            "samples/input_output_target",
            sample_grid(inputs, outputs, targets),
            step,
            dataformats="HWC",
        )


__all__ = [
    "CHECKPOINT",
    "TrainOptions",
    "TrainProgress",
    "TrainResult",
    "load_clip",
    "train_renderer",
    "working_scale",
]
