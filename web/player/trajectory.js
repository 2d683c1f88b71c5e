// Continuous control trajectories for the face rig: mouth cues are steps (a viseme holds until the next cue),
// and the rig's controls follow those steps as critically damped springs, so every frame shows one mouth in
// one pose and a pose flows into the next (coarticulation) instead of cross-fading two mouths.
// Pure functions: no DOM, no clocks; the player passes the audio-clock time in.
//
// A critically damped spring x'' = ω²(g − x) − 2ω·x' towards a constant goal g has the closed form
//   x(t) = g + (e + (v₀ + ω·e)·t)·e^(−ωt),   v(t) = (v₀ − ω·(v₀ + ω·e)·t)·e^(−ωt),   e = x₀ − g
// (any ODE text, e.g. Kreyszig, "Advanced Engineering Mathematics", §2.4 critical damping), so the state at
// any time is exact whatever the frame rate: it is carried from cue to cue, never integrated per frame.
//
// Attack and release (docs/rig-player.md "Trajectories"): a control moving up (mouth opening) uses ATTACK_OMEGA, one moving
// down RELEASE_OMEGA — the mouth "pops" open faster than it closes, as Rhubarb Lip Sync's 40–80 ms tweens do.
// The step response 1 − (1 + ωt)·e^(−ωt) is half-way at ωt ≈ 1.68 and at 90 % at ωt ≈ 3.89:
//   attack  ω = 40/s → half-way 42 ms, 90 % 97 ms;   release ω = 24/s → half-way 70 ms, 90 % 162 ms.
// Every goal starts ANTICIPATION_MS before its cue, so an opening is about half-way when its sound starts:
// a mouth slightly early reads as in sync, a late one does not (ITU-R BT.1359: detectable when sound leads
// picture by > 45 ms, only when it lags by > 125 ms).

export const ATTACK_OMEGA = 40;
export const RELEASE_OMEGA = 24;
export const ANTICIPATION_MS = 40;
// After the last goal the slower spring needs ωt ≈ 8.5 to come within 1/255 of rest: (1 + 8.5)·e^(−8.5) < 1/255.
export const SETTLE_MS = Math.ceil((8.5 / RELEASE_OMEGA) * 1000);

/** One spring step: state {x, v} after `dtSec` towards `goal`, with the attack or release rate. */
export function springStep(state, goal, dtSec) {
  const e = state.x - goal;
  if (dtSec <= 0 || (e === 0 && state.v === 0)) return { x: state.x, v: state.v };
  // The direction of travel at the start of the step picks the rate; it stays fixed for the whole step.
  const omega = goal > state.x ? ATTACK_OMEGA : RELEASE_OMEGA;
  const b = state.v + omega * e;
  const decay = Math.exp(-omega * dtSec);
  return { x: goal + (e + b * dtSec) * decay, v: (state.v - omega * b * dtSec) * decay };
}

/** The control weights a cue asks for: its viseme's controls scaled by the cue's weight (0 … 1). */
export function cueGoals(cue, visemes, controls) {
  const pose = visemes[cue.viseme] ?? {};
  const amount = Math.min(1, Math.max(0, cue.weight ?? 1));
  return controls.map((name) => (pose[name] ?? 0) * amount);
}

/**
 * Control weights at `tMs` (audio clock) for mouth `cues` (sorted by t_ms, each {t_ms, viseme, weight}).
 * `visemes` maps viseme names to control weights (the rig's `visemes`), `controls` lists the control names
 * to return, in order. Before the first cue and for unknown visemes the goal is rest (0).
 * Returns an array parallel to `controls`.
 */
export function controlWeightsAt(cues, tMs, visemes, controls) {
  let states = controls.map(() => ({ x: 0, v: 0 }));
  let goals = controls.map(() => 0);
  let from = -Infinity;
  for (const cue of cues) {
    const start = cue.t_ms - ANTICIPATION_MS;
    if (start > tMs) break;
    if (from > -Infinity) states = states.map((state, i) => springStep(state, goals[i], (start - from) / 1000));
    goals = cueGoals(cue, visemes, controls);
    from = start;
  }
  if (from === -Infinity) return controls.map(() => 0);
  return states.map((state, i) => springStep(state, goals[i], (tMs - from) / 1000).x);
}
