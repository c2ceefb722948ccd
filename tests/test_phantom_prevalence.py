"""The coronary prevalence training knob (phantom.coronary.Prevalence, cacscore phantom --p-calcified/--p-vessel-floor)."""

import numpy as np
import pytest

from cacscore.phantom.coronary import P_CALCIFIED, Prevalence, draw_calcium

PIDS = range(1, 41)


def _vessels(seed: int, pid: int, prevalence: Prevalence = Prevalence()) -> set[str]:
    return {s.vessel for s in draw_calcium(np.random.default_rng([seed, pid]), size=64, prevalence=prevalence)}


def test_defaults_are_the_calibrated_draw():
    same = Prevalence(p_calcified=P_CALCIFIED, p_vessel_floor=0.0)
    for pid in PIDS:
        a = draw_calcium(np.random.default_rng([7, pid]), size=64)
        b = draw_calcium(np.random.default_rng([7, pid]), size=64, prevalence=same)
        assert a == b


def test_knob_draws_more_calcified_patients_and_vessels():
    base = [_vessels(7, pid) for pid in PIDS]
    rich = [_vessels(7, pid, Prevalence(p_calcified=1.0, p_vessel_floor=0.8)) for pid in PIDS]
    assert all(rich), "p_calcified 1: every patient has coronary calcium"
    assert sum(map(bool, base)) < len(PIDS)  # the calibrated draw leaves some patients at 0
    n_lca = sum("LCA" in v for v in rich)
    assert n_lca > 2 * max(1, sum("LCA" in v for v in base)) and n_lca >= 0.6 * len(PIDS)
    # the floor only adds vessels (the same uniform draws decide); a one-vessel patient may be draw_calcium's
    # fallback (no vessel drawn: LAD or RCA), which the floor can replace
    assert all(b <= r for b, r in zip(base, rich) if len(b) >= 2)


@pytest.mark.parametrize("kw", [{"p_calcified": 1.5}, {"p_vessel_floor": -0.1}])
def test_out_of_range_refused(kw):
    with pytest.raises(ValueError, match="must be in"):
        Prevalence(**kw)
