"""Windowed history: time-weighted averages and extremes, with bounded memory."""

from sunshift.series import SEGMENTS, Series
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
