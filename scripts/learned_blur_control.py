"""Control for the held-out table: the warp, cut to the learned renderer's 128 px crop and pasted
back with its mask, with no network at all. Shows how much of learned_blend="replace"'s score is
the resampling (blur) rather than anything learned. Reads the tracks learned_heldout.py saved.

    .venv/bin/python scripts/learned_blur_control.py  (after learned_heldout.py --work /tmp/i11w/ho5)
"""

import numpy as np

from emodirector.realism import decode_frames, mean_scores, score_pairs, select_pairs
from emodirector.render import WarpRenderer
from emodirector.render.learned.crops import crop_box, cut, face_mask, paste
from emodirector.trackfile import load_track

w = WarpRenderer()


def blur_only(yuv, f):
    out = w.render(yuv, f).yuv
    if out is yuv:
        return yuv
    box = crop_box(f.dst, 128)
    paste(out, cut(out, box), face_mask(f.dst, box), box, add=False)
    return out


for name in (
    "talking_frontal_a",
    "talking_frontal_b",
    "talking_frontal_c",
    "talking_vfr",
    "head_motion",
):
    v = f"/work/shared/data/videos/{name}.mp4"
    t = load_track(f"/tmp/learned_heldout/{name}.track.npz")
    held = np.arange(int(np.floor(t.n_frames * 0.8)), t.n_frames)
    pairs = select_pairs(t, 8, frames=held)
    fr = decode_frames(v, sorted({i for p in pairs for i in p}))
    s = mean_scores(score_pairs(fr, t, pairs, blur_only))
    print(
        f"| {name} | warp, cut to 128 px and pasted back (no network) | - | {s['face'].ssim:.4f} | {s['face'].psnr:.2f} | {s['face'].grad_err:.2f} | {s['mouth'].ssim:.4f} | {s['mouth'].psnr:.2f} | {s['mouth'].grad_err:.2f} |",
        flush=True,
    )
