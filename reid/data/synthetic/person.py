"""Draw one person of the synthetic set onto a float canvas.

``draw_person`` paints an ``Identity`` in a view (front, back, left, right) and gait phase,
back to front: the parts behind the body, legs, torso, arms, head, hair and hat. Each of these
is a helper below that reads the body geometry of ``_Pose``. Drawing takes no random numbers, so
the image's random streams do not depend on what the person wears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reid.data.synthetic.identities import Garment, Identity

# ---------------------------------------------------------------------------------------------
# Renderer. A person is drawn in "body coordinates": v runs from 0 (top of head) to 1 (soles),
# u across the body in the same unit, positive towards the image right for front / back views
# and towards where the person faces for side views (a left view is the mirrored right view).
# Parts are ellipses, tapered capsules (limbs) and trapezoids (torso, skirt), each shaded like
# a cylinder and painted back to front. Garment patterns live in body coordinates, so they
# look the same in every camera.
# ---------------------------------------------------------------------------------------------


class _Figure:
    """Draw shapes given in body coordinates onto a float canvas (H, W, 3)."""

    def __init__(self, canvas: np.ndarray, cx: float, top: float, hp: float, mirror: int, light: float):
        self.canvas, self.cx, self.top, self.hp, self.mirror, self.light = canvas, cx, top, hp, mirror, light

    def _region(self, u0, u1, v0, v1):
        """Return the canvas slice that covers the body-coordinate box, with body-coordinate grids U, V."""
        H, W = self.canvas.shape[:2]
        xa, xb = sorted((self.cx + self.mirror * u0 * self.hp, self.cx + self.mirror * u1 * self.hp))
        ya, yb = self.top + v0 * self.hp, self.top + v1 * self.hp
        xa, xb = max(int(xa) - 1, 0), min(int(xb) + 2, W)
        ya, yb = max(int(ya) - 1, 0), min(int(yb) + 2, H)
        if xa >= xb or ya >= yb:
            return None
        xs = (np.arange(xa, xb, dtype=np.float32) + 0.5 - self.cx) * (self.mirror / self.hp)
        ys = (np.arange(ya, yb, dtype=np.float32) + 0.5 - self.top) / self.hp
        return (slice(ya, yb), slice(xa, xb)), xs[None, :], ys[:, None]

    def _paint(self, sl, mask, paint, U, V, dark):
        if not mask.any():
            return
        colour = paint(U, V) if callable(paint) else np.asarray(paint, np.float32)
        # Parts are shaded like cylinders, plus a left/right light gradient in image space, so they look round.
        factor = (1.0 - dark) * (1.0 + self.light * np.clip(U * self.mirror, -0.2, 0.2))
        colour = colour * factor[..., None]
        region = self.canvas[sl]
        np.copyto(region, np.broadcast_to(colour, region.shape), where=mask[..., None])

    def ellipse(self, uc, vc, ru, rv, paint, shade=0.25):
        r = self._region(uc - ru, uc + ru, vc - rv, vc + rv)
        if r is None:
            return
        sl, U, V = r
        d2 = ((U - uc) / ru) ** 2 + ((V - vc) / rv) ** 2
        self._paint(sl, d2 <= 1.0, paint, U, V, shade * d2)

    def capsule(self, a, b, r0, r1, paint, shade=0.3):
        """Draw a tapered capsule from a=(u,v) (radius r0) to b (radius r1), as arms, legs and straps are."""
        rmax = max(r0, r1)
        r = self._region(min(a[0], b[0]) - rmax, max(a[0], b[0]) + rmax, min(a[1], b[1]) - rmax, max(a[1], b[1]) + rmax)
        if r is None:
            return
        sl, U, V = r
        du, dv = b[0] - a[0], b[1] - a[1]
        t = np.clip(((U - a[0]) * du + (V - a[1]) * dv) / max(du * du + dv * dv, 1e-9), 0.0, 1.0)
        d = np.hypot(U - (a[0] + t * du), V - (a[1] + t * dv)) / (r0 + t * (r1 - r0))
        self._paint(sl, d <= 1.0, paint, U, V, shade * d * d)

    def trapezoid(self, vt, vb, ut, ub, wt, wb, paint, shade=0.3, corner=0.0):
        """Draw horizontal slices from v=vt (centre ut, half width wt) to vb, with rounded top corners."""
        r = self._region(min(ut - wt, ub - wb), max(ut + wt, ub + wb), vt, vb)
        if r is None:
            return
        sl, U, V = r
        s = np.clip((V - vt) / (vb - vt), 0.0, 1.0)
        uc, hw = ut + s * (ub - ut), wt + s * (wb - wt)
        x = np.abs(U - uc) / hw
        mask = (x <= 1.0) & (V >= vt) & (V <= vb)
        # Shoulders are round, so the top corners are cut with a circle of radius ``corner``.
        if corner > 0:
            cu, cv = np.abs(U - uc) - (hw - corner), V - (vt + corner)
            mask &= ~((cu > 0) & (cv < 0) & (cu * cu + cv * cv > corner * corner))
        self._paint(sl, mask, paint, U, V, shade * x * x)


def _garment_paint(g: Garment, front: bool, v_top: float, v_bot: float):
    """Return the paint function of an upper garment, whose pattern lives in body coordinates."""
    c1, c2 = np.asarray(g.colour, np.float32), np.asarray(g.colour2, np.float32)
    p = g.period
    if g.pattern == "solid" or (g.pattern == "logo" and not front):
        return c1

    def paint(U, V):
        if g.pattern == "hstripes":
            sel = (V / p) % 1.0 < 0.45
        elif g.pattern == "vstripes":
            sel = (U / p) % 1.0 < 0.45
        elif g.pattern == "checks":
            sel = ((U / p) % 1.0 < 0.5) ^ ((V / p) % 1.0 < 0.5)
        elif g.pattern == "twotone":  # The chest or yoke takes a different colour.
            sel = V < v_top + 0.4 * (v_bot - v_top)
        else:  # A logo block sits on the chest, on the front only.
            sel = (np.abs(U - 0.015) < 0.045) & (V > v_top + 0.07) & (V < v_top + 0.14)
        return np.where(sel[..., None], c2, c1)

    return paint


def _split_paint(upper_colour, lower_colour, v_cut: float):
    """Paint sleeves or shorts: the garment above v_cut and skin below it."""
    a, b = np.asarray(upper_colour, np.float32), np.asarray(lower_colour, np.float32)
    return lambda U, V: np.where((V < v_cut)[..., None], a, b)


@dataclass(frozen=True)
class _Pose:
    """Hold where the parts of one person are, in body coordinates, for one view and gait phase."""

    ident: Identity
    view: str
    side: bool  # A side view is left or right.
    shoulder: float  # This is the shoulder line.
    hip: float  # This is the hip line.
    ankle: float  # This is the ankle line.
    knee: float  # This is the knee line.
    head_v: float  # This is the head centre.
    head_u: float  # The head centre across the body sits a little forward in a side view.
    head_ru: float  # This is the head radius across the body.
    head_rv: float  # This is the head radius along the body (vertical).
    shoulder_hw: float  # This is the shoulder half width.
    hip_hw: float  # This is the hip half width.
    swing: float  # This is the arm and leg swing at this phase of the gait.
    upper_paint: object  # The upper garment is a colour or a paint function of (U, V).
    bag_near: bool  # In side views, this says the shoulder bag is on the side facing the camera.


def _pose(ident: Identity, view: str, phase: float) -> _Pose:
    side = view in ("left", "right")
    w = ident.width
    vs, vh = 0.165, 1.0 - ident.legs  # These are the shoulder line and the hip line.
    va = 0.962  # This is the ankle line.
    hc, hrv = 0.072, 0.062  # These are the head centre and its vertical radius.
    return _Pose(
        ident=ident,
        view=view,
        side=side,
        shoulder=vs,
        hip=vh,
        ankle=va,
        knee=vh + 0.45 * (va - vh),
        head_v=hc,
        head_u=0.006 if side else 0.0,
        head_ru=0.052 if side else 0.046,
        head_rv=hrv,
        shoulder_hw=(0.07 if side else 0.118) * w,
        hip_hw=(0.064 if side else 0.094) * w,
        swing=np.sin(phase) * ident.gait,
        upper_paint=_garment_paint(ident.upper, view == "front", vs, vh),
        # A person facing the image right shows the camera their right side, and one facing left their left.
        bag_near=ident.bag_side == (1 if view == "left" else -1),
    )


def _leg_paint(p: _Pose):
    lower, skin = p.ident.lower, p.ident.skin
    if lower.pattern == "shorts":
        return _split_paint(lower.colour, skin, p.knee)
    if lower.pattern == "skirt":
        return skin
    return lower.colour


def _bag_shoulder(p: _Pose) -> int:
    """Return the image-space side of the shoulder bag in front / back views."""
    return p.ident.bag_side if p.view == "front" else -p.ident.bag_side


def _draw_behind_body(fig: _Figure, p: _Pose) -> None:
    """Draw what lies behind the body: a far-side bag, long hair behind the shoulders, the far arm and leg."""
    ident, view, side, w, swing = p.ident, p.view, p.side, p.ident.width, p.swing
    vs, vh, va, hc, hru, sw = p.shoulder, p.hip, p.ankle, p.head_v, p.head_ru, p.shoulder_hw
    lower, skin, hair = ident.lower, ident.skin, ident.hair
    if side and ident.bag == "shoulder" and not p.bag_near:  # The bag is on the far side.
        fig.trapezoid(vh - 0.05, vh + 0.06, -0.03, -0.03, 0.05, 0.055, ident.bag_colour, 0.2)
    if view == "front" and ident.hair_len == 2:  # Long hair falls behind the shoulders.
        fig.trapezoid(hc, vs + 0.1, 0, 0, hru * 1.15, hru * 1.35, hair, 0.2)
    if side:  # The far arm and far leg are in shadow.
        far = tuple(0.72 * c for c in ident.upper.colour)
        fig.capsule((0.0, vs + 0.02), (-0.12 * swing, vh + 0.03), 0.026 * w, 0.021, far, 0.2)
        fig.capsule(
            (0.0, vh - 0.02),
            (-0.13 * swing, va),
            0.048 * w,
            0.03,
            tuple(0.72 * c for c in (lower.colour if lower.pattern != "skirt" else skin)),
            0.2,
        )
        fig.ellipse(-0.13 * swing + 0.02, va + 0.016, 0.048, 0.02, tuple(0.7 * c for c in ident.shoes), 0.1)
        if ident.bag == "backpack":
            fig.trapezoid(vs + 0.01, vs + 0.2, -sw - 0.035, -sw - 0.035, 0.045, 0.05, ident.bag_colour, 0.35, 0.02)


def _draw_legs(fig: _Figure, p: _Pose) -> None:
    """Draw legs and shoes, then the skirt or the hips, then a shoulder bag hanging at the hip."""
    ident, side, w, swing = p.ident, p.side, p.ident.width, p.swing
    vh, va, knee, hw = p.hip, p.ankle, p.knee, p.hip_hw
    lower = ident.lower
    # -- legs and shoes
    if side:
        fig.capsule((0.0, vh - 0.02), (0.13 * swing, va), 0.05 * w, 0.032, _leg_paint(p))
        fig.ellipse(0.13 * swing + 0.02, va + 0.016, 0.05, 0.02, ident.shoes, 0.1)
    else:
        for s in (-1, 1):
            lift = 0.025 * max(0.0, s * swing)
            ua = s * (0.052 * w + 0.006)
            fig.capsule((s * 0.05 * w, vh - 0.02), (ua, va - lift), 0.048 * w, 0.033, _leg_paint(p))
            fig.ellipse(ua, va + 0.016 - lift, 0.036, 0.019, ident.shoes, 0.1)
    if lower.pattern == "skirt":
        fig.trapezoid(vh - 0.04, knee + 0.02, 0, 0, hw * 1.05, hw * 1.6, lower.colour, 0.25)
    elif not side:  # A crotch and hips block makes trousers look like one garment.
        fig.trapezoid(vh - 0.04, vh + 0.04, 0, 0, hw * 1.02, hw * 0.9, lower.colour, 0.25)

    # -- shoulder bag hanging at the hip (front / back), behind the arm
    if ident.bag == "shoulder" and not side:
        s = _bag_shoulder(p)
        fig.trapezoid(vh - 0.04, vh + 0.07, s * (hw + 0.035), s * (hw + 0.04), 0.045, 0.05, ident.bag_colour, 0.2, 0.01)


def _draw_torso(fig: _Figure, p: _Pose) -> None:
    """Draw the torso in the upper garment, with what lies on it: long hair (back view), backpack, bag strap."""
    ident, view, side, w = p.ident, p.view, p.side, p.ident.width
    vs, vh, hc, hru, sw, hw = p.shoulder, p.hip, p.head_v, p.head_ru, p.shoulder_hw, p.hip_hw
    if side:
        fig.trapezoid(vs - 0.005, vh + 0.03, -0.005, 0.0, sw, hw, p.upper_paint, 0.3, 0.025)
    else:
        fig.trapezoid(vs - 0.005, vh + 0.03, 0, 0, sw, hw, p.upper_paint, 0.3, 0.035)
    if view == "back" and ident.hair_len == 2:
        fig.trapezoid(hc, vs + 0.11, 0, 0, hru * 1.1, hru * 1.2, ident.hair, 0.25)
    if ident.bag == "backpack":
        if view == "back":
            fig.trapezoid(vs + 0.02, vs + 0.21, 0, 0, 0.07 * w, 0.075 * w, ident.bag_colour, 0.3, 0.025)
            fig.trapezoid(
                vs + 0.12, vs + 0.19, 0, 0, 0.05 * w, 0.055 * w, tuple(0.8 * c for c in ident.bag_colour), 0.2, 0.01
            )
        elif view == "front":  # Only the straps show from the front.
            dark = tuple(0.85 * c for c in ident.bag_colour)
            for s in (-1, 1):
                fig.capsule((s * 0.06 * w, vs), (s * 0.055 * w, vs + 0.15), 0.011, 0.011, dark, 0.1)
    if ident.bag == "shoulder":  # The strap runs diagonally.
        if not side:
            s = _bag_shoulder(p)
            fig.capsule(
                (-s * 0.065 * w, vs + 0.005),
                (s * (hw + 0.03), vh - 0.03),
                0.008,
                0.008,
                tuple(0.8 * c for c in ident.bag_colour),
                0.05,
            )
        elif p.bag_near:
            fig.capsule((0.0, vs), (0.0, vh - 0.03), 0.009, 0.009, tuple(0.8 * c for c in ident.bag_colour), 0.05)
            fig.trapezoid(vh - 0.05, vh + 0.06, 0.0, 0.0, 0.05, 0.055, ident.bag_colour, 0.2, 0.01)


def _draw_arms(fig: _Figure, p: _Pose) -> None:
    """Draw the arms (sleeves, or skin below short sleeves) and hands."""
    ident, side, w, swing = p.ident, p.side, p.ident.width, p.swing
    vs, vh, sw = p.shoulder, p.hip, p.shoulder_hw
    skin = ident.skin
    sleeve = ident.upper.colour if ident.upper.pattern in ("solid", "logo", "twotone") else p.upper_paint
    arm_len = vh + 0.03 - vs
    if not ident.upper.long_sleeves:
        cut = vs + 0.35 * arm_len
        sleeve = _split_paint(ident.upper.colour, skin, cut)
    arms = [(0.0, 0.12 * swing)] if side else [(-1, 0.0), (1, 0.0)]
    for s, fwd in arms:
        if side:
            a, b = (0.0, vs + 0.02), (fwd, vh + 0.03 - 0.02 * abs(swing))
        else:
            ux = s * (sw - 0.018)
            a, b = (ux, vs + 0.018), (ux + s * 0.018 * w, vh + 0.03 - 0.01 * s * swing)
        fig.capsule(a, b, 0.03 * w, 0.023, sleeve, 0.3)
        fig.ellipse(b[0], b[1] + 0.018, 0.019, 0.022, skin, 0.2)


def _draw_head(fig: _Figure, p: _Pose) -> None:
    """Draw the neck, head and face (eyes and mouth from the front, nose and eye from the side)."""
    view, side, skin = p.view, p.side, p.ident.skin
    vs, hc, hu, hru, hrv = p.shoulder, p.head_v, p.head_u, p.head_ru, p.head_rv
    fig.trapezoid(hc + 0.03, vs + 0.01, 0.0, 0.0, 0.022, 0.026, skin, 0.3)
    fig.ellipse(hu, hc, hru, hrv, skin, 0.25)
    eye = (0.06, 0.04, 0.04)
    if view == "front":
        for s in (-1, 1):
            fig.ellipse(s * 0.018, hc + 0.004, 0.007, 0.006, eye, 0.0)
        fig.ellipse(0.0, hc + 0.036, 0.014, 0.005, tuple(0.75 * c for c in skin), 0.0)
    elif side:
        fig.ellipse(hu + hru * 0.95, hc + 0.012, 0.014, 0.012, skin, 0.2)  # This is the nose.
        fig.ellipse(hu + hru * 0.55, hc + 0.002, 0.007, 0.006, eye, 0.0)


def _draw_hair(fig: _Figure, p: _Pose) -> None:
    """Draw hair over the head (leaving the face free), and long hair falling to the shoulders."""
    ident, view, side = p.ident, p.view, p.side
    vs, hc, hu, hru, hrv = p.shoulder, p.head_v, p.head_u, p.head_ru, p.head_rv
    hair = ident.hair
    hair_paint = hair
    r = fig._region(hu - hru * 1.2, hu + hru * 1.2, hc - hrv * 1.2, hc + hrv * 1.2)
    if r is not None:
        sl, U, V = r
        outer = ((U - hu) / (hru * 1.13)) ** 2 + ((V - hc + 0.006) / (hrv * 1.08)) ** 2
        cover = outer <= 1.0
        if view == "front":
            face = ((U - hu) / (hru * 0.86)) ** 2 + ((V - hc - 0.022) / (hrv * 0.88)) ** 2 <= 1.0
            cover &= ~face if ident.hair_len else (V < hc - 0.03)
        elif view == "back":
            cover &= V < hc + hrv * (0.45 if ident.hair_len == 0 else 1.2)
        else:
            back = U < hu - hru * (0.1 if ident.hair_len == 0 else -0.15)
            cover &= (back & (V < hc + hrv * (0.5 if ident.hair_len == 0 else 1.2))) | (V < hc - 0.028)
        fig._paint(sl, cover, hair_paint, U, V, 0.25 * outer)
    if ident.hair_len == 2:
        if view == "front":
            for s in (-1, 1):
                fig.capsule((s * hru * 0.95, hc), (s * hru * 1.05, vs + 0.07), 0.014, 0.018, hair, 0.2)
        elif side:
            fig.trapezoid(hc, vs + 0.1, hu - hru * 0.6, -0.035, hru * 0.6, 0.03, hair, 0.25)


def _draw_hat(fig: _Figure, p: _Pose) -> None:
    """Draw a cap: the crown over the hair, the brim forward (side) or over the forehead (front)."""
    ident, view, side = p.ident, p.view, p.side
    hc, hu, hru, hrv = p.head_v, p.head_u, p.head_ru, p.head_rv
    if ident.hat is None:
        return
    r = fig._region(hu - hru * 1.3, hu + hru * 1.8, hc - hrv * 1.3, hc)
    if r is not None:
        sl, U, V = r
        crown = (((U - hu) / (hru * 1.12)) ** 2 + ((V - hc + 0.012) / (hrv * 1.05)) ** 2 <= 1.0) & (V < hc - 0.022)
        fig._paint(sl, crown, ident.hat, U, V, np.zeros_like(U + V))
    if side:  # The cap brim points forward.
        fig.trapezoid(
            hc - 0.03,
            hc - 0.018,
            hu + hru * 1.2,
            hu + hru * 1.25,
            hru * 0.55,
            hru * 0.6,
            tuple(0.8 * c for c in ident.hat),
            0.0,
        )
    elif view == "front":
        fig.trapezoid(hc - 0.03, hc - 0.02, hu, hu, hru * 1.1, hru * 1.15, tuple(0.8 * c for c in ident.hat), 0.0)


def draw_person(
    canvas, ident: Identity, view: str, cx: float, top: float, hp: float, phase: float, light: float
) -> None:
    """Paint one person, back to front; ``hp`` is the body height in canvas pixels."""
    fig = _Figure(canvas, cx, top, hp, -1 if view == "left" else 1, light)
    pose = _pose(ident, view, phase)
    _draw_behind_body(fig, pose)
    _draw_legs(fig, pose)
    _draw_torso(fig, pose)
    _draw_arms(fig, pose)
    _draw_head(fig, pose)
    _draw_hair(fig, pose)
    _draw_hat(fig, pose)
