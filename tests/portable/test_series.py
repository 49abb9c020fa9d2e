"""Windowed history: time-weighted averages and extremes, with bounded memory."""

from sunshift.core.series import SEGMENTS, Series
from support import near


def test_nothing_known_before_the_first_sample():
    s = Series(60)
    assert s.average(10, 60) is None
    assert s.extreme(10, 60, True) is None


def test_values_hold_until_the_next_sample():
    s = Series(60)
    s.add(0, 0)
    s.add(30, 100)
    # 0 for 30 s and 100 for 30 s.
    assert near(s.average(60, 60), 50)
    # 15 s later the window [15, 75] holds 0 for 15 s and 100 for 45 s.
    assert near(s.average(75, 60), 75)
    # Long after, only 100 is in the window.
    assert near(s.average(200, 60), 100)


def test_a_window_not_yet_full_covers_what_there_is():
    s = Series(60)
    s.add(0, 1000)
    s.add(10, 2000)
    assert near(s.average(20, 60), 1500)


def test_one_second_samples_are_exact():
    s = Series(60)
    for t in range(0, 121):
        s.add(t, t * 10)
    # Over [60, 120] each value v(t) = 10t holds for one second: mean of 600..1190.
    expected = sum(10 * t for t in range(60, 120)) / 60
    assert near(s.average(120, 60), expected)
    assert s.extreme(120, 60, True) == 1200
    # The window starts at 60: the sample at 59 held until 60, so it is out.
    assert s.extreme(120, 60, False) == 600


def test_min_and_max_see_short_spikes():
    s = Series(300)
    for t in range(0, 300, 10):
        s.add(t, 500)
    s.add(300, 4000)  # a kettle
    s.add(302, 500)
    s.add(310, 500)
    assert s.extreme(310, 300, True) == 4000
    assert s.extreme(310, 300, False) == 500
    assert s.extreme(700, 300, True) == 500  # the spike has left the window


def test_fast_samples_fold_into_segments_keeping_the_area():
    # 10 samples a second for 2 minutes: far more than SEGMENTS.
    s = Series(60)
    area = 0.0
    t = 0.0
    value = 0
    for i in range(1200):
        t = i / 10
        value = 1000 if (i // 37) % 2 else 0
        s.add(t, value)
    assert s.count <= SEGMENTS
    # The exact time-weighted mean over the last 60 s, computed by brute force.
    now = t
    lo = now - 60
    area = 0.0
    for i in range(1200):
        start = i / 10
        end = (i + 1) / 10 if i < 1199 else now
        v = 1000 if (i // 37) % 2 else 0
        a, b = max(start, lo), min(end, now)
        if b > a:
            area += v * (b - a)
    exact = area / 60
    # Only the oldest segment (at most 60/62 s wide) is approximated.
    assert abs(s.average(now, 60) - exact) <= 1000 * (60 / (SEGMENTS - 2)) / 60 + 1e-6
    assert s.extreme(now, 60, True) == 1000 and s.extreme(now, 60, False) == 0


def test_out_of_order_samples_are_ignored():
    s = Series(60)
    s.add(10, 1)
    s.add(5, 1000)
    assert near(s.average(20, 60), 1)


def test_times_stay_exact_after_months():
    s = Series(60)
    start = 200 * 86400  # 200 days of uptime, in seconds
    for k in range(0, 200):
        s.add(start + k, 1000 if k % 2 else 0)
    assert near(s.average(start + 199, 60), 500, 1e-3)
    assert s.base > 0


class _Lcg:
    """A fixed-seed generator that gives the same numbers on both interpreters."""

    def __init__(self, seed):
        self.state = seed

    def random(self):
        self.state = (self.state * 1103515245 + 12345) % (1 << 31)
        return self.state / (1 << 31)


def _exact_average(samples, count, now, window):
    """The time-weighted mean of the step line through the first ``count`` of
    ``samples`` over the last ``window`` seconds."""
    lo = now - window
    area = 0.0
    end = now
    k = count - 1
    while k >= 0 and end > lo:  # newest first, until the window's edge
        t, v = samples[k]
        area += v * (end - max(t, lo))
        end = t
        k -= 1
    covered = now - max(lo, samples[0][0])
    return samples[count - 1][1] if covered <= 0 else area / covered


def _random_steps(rnd, count, shortest, longest, t=0):
    samples = []
    for _ in range(count):
        samples.append((t, round(rnd.random() * 8000 - 3000)))
        t += shortest + int(rnd.random() * (longest - shortest + 1))
    return samples


def _check_against_brute_force(s, samples, rnd, window, tolerance):
    """Feed ``samples`` one by one; after each, ask for averages over random windows
    at random moments up to the next sample, and compare with the exact mean."""
    for k in range(len(samples)):
        s.add(samples[k][0], samples[k][1])
        gap = samples[k + 1][0] - samples[k][0] if k + 1 < len(samples) else 30
        for _ in range(2):
            now = samples[k][0] + int(rnd.random() * gap)
            w = window if rnd.random() < 0.5 else 1 + int(rnd.random() * window)
            got = s.average(now, w)
            want = _exact_average(samples, k + 1, now, w)
            assert abs(got - want) <= tolerance, (k, now, w, got, want)


def test_averages_match_a_brute_force_mean_on_random_steps():
    # Samples 1 to 20 s apart are slower than a 1-minute window's spacing: every
    # sample is a segment of its own, so each average is exact (but for rounding).
    rnd = _Lcg(7)
    for longest in (1, 3, 20):
        samples = _random_steps(rnd, 400, 1, longest)
        _check_against_brute_force(Series(60), samples, rnd, 60, 1e-6)


def test_averages_stay_exact_after_many_closes_and_a_rebase():
    # Samples every 1000 s for 1,200,000 s: far more closes than SEGMENTS (the
    # running area is added up afresh many times) and past one rebase of the
    # segment times (after 2**20 s).
    rnd = _Lcg(11)
    samples = _random_steps(rnd, 1200, 1000, 1000, 5 * 86400)
    s = Series(62000)
    _check_against_brute_force(s, samples, rnd, 62000, 1e-5)
    assert s.base > samples[0][0]


def test_fast_samples_stay_within_one_segment_of_the_exact_mean():
    # Samples 0.1 s to 2 s apart: the fast ones fold into segments, and only the
    # oldest segment, which the window cuts, is approximated as flat.
    rnd = _Lcg(23)
    samples = []
    t = 0.0
    for _ in range(3000):
        samples.append((t, round(rnd.random() * 8000 - 3000)))
        t += 0.1 * (1 + int(rnd.random() * 20))
    s = Series(60)
    bound = 8000 * (60 / (SEGMENTS - 2)) / 60 + 1e-6
    for k in range(len(samples)):
        s.add(samples[k][0], samples[k][1])
        if k % 7 == 0:
            now = samples[k][0]
            assert abs(s.average(now, 60) - _exact_average(samples, k + 1, now, 60)) <= bound


def test_a_window_of_zeros_averages_exactly_zero():
    # Fractional values leave rounding behind in a running sum (1000.3 + 0.7 -
    # 1000.3 is not 0.7); once only zeros are in the window the average must be
    # 0, not a few 1e-16 that `avg(x, 1m) > 0` would take for a real value.
    for step in (1, 1.3, 7):
        s = Series(60)
        t = 0.0
        zeros_from = None
        for k in range(300):
            value = (1000.3, 0.7, -250.1)[k % 3] if k < 150 else 0
            if k == 150:
                zeros_from = t
            s.add(t, value)
            if zeros_from is not None and t - 60 >= zeros_from:
                assert s.average(t, 60) == 0, (step, k, s.average(t, 60))
                assert s.average(t + 0.5, 30) == 0
            t += step
