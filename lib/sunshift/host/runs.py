"""A simulated run with its figures and, on request, its picture: rules
against a trace file (open loop) or a built-in scenario (closed loop).

``Run`` wires the pieces the commands share: the Simulation on virtual time,
the Summary of energy and target changes, and the Recorder behind the picture.
"""

from ..core import engine as engine_module
from ..forecast import Forecast
from . import scenarios
from .record import Recorder
from .sim import Simulation
from .summary import Summary
from .trace import forecast_text


class Run:
    """One run of ``ruleset``; ``start`` is the time of day of t=0 (s after midnight).

    ``on_change`` and ``on_event`` see every Change and decision-log entry;
    with ``record`` the run also keeps what its picture needs.
    """

    def __init__(self, ruleset, start=0, max_age=engine_module.DEFAULT_MAX_AGE, max_ages=None, record=False, on_change=None, on_event=None):
        self.summary = Summary(max_gap=max_age)
        self.rows = 0  # trace rows or scenario steps
        self.on_change = on_change
        self.home = None
        self.sim = Simulation(ruleset, start, max_age, max_ages, on_change=self._change, on_event=on_event)
        self.recorder = None
        if record:
            self.recorder = Recorder(ruleset, self.sim.engine, start, scenarios.PICTURE)
            self.sim.on_tick = self.recorder.tick

    def _change(self, change):
        self.summary.change(change)
        if self.recorder is not None:
            self.recorder.change(change)
        if self.home is not None:
            self.home.set(change.target, change.value)
        if self.on_change is not None:
            self.on_change(change)

    def trace(self, trace):
        """Replay every row of a trace.Trace."""
        sim = self.sim
        summary = self.summary
        recorder = self.recorder
        for t, samples in trace.rows():
            self.rows += 1
            summary.sample(t, samples)
            if recorder is not None:
                recorder.sample(t, samples)
            sim.step(t, samples)
        return self

    def scenario(self, home, step=10, end=scenarios.DAY, on_row=None):
        """Drive the rules with ``home`` (a scenarios.Home) from t=0 to ``end``,
        one sample of every signal each ``step`` seconds; the writes change the
        home from the next step on.  ``on_row(t, samples)`` sees what the
        devices reported (the Envoy's figures are missing while it drops out)."""
        self.home = home
        sim = self.sim
        tariff = home.scenario.tariff
        t = 0
        while t < end:
            sim.advance(t)  # decisions due before this sample reach the home first
            tod = sim.tod(t)
            truth = home.step(tod, step)
            answers = home.envoy_answers(tod)
            samples = []
            for name in scenarios.SIGNALS:
                if answers or name not in scenarios.ENVOY:
                    samples.append((name, truth[name]))
            # The figures count what really flowed, even while the Envoy is silent.
            truths = [(name, truth[name]) for name in scenarios.SIGNALS]
            if tariff is not None:
                prices = tariff.published(t, step)  # at the start and when the next day's come out
                samples += prices
                truths += prices
            self.summary.sample(t, truths)
            if self.recorder is not None:
                self.recorder.sample(t, truths)
            sim.step(t, samples)
            self.rows += 1
            if on_row is not None:
                on_row(t, samples)
            t += step
        return self

    @property
    def end(self):
        """Virtual time of the last tick."""
        return self.sim.now if self.sim.now is not None else 0

    def figures(self):
        """The Summary figures up to the last tick."""
        return self.summary.figures(self.end)

    def day(self):
        """The recorded Day (with ``record=True``)."""
        return self.recorder.finish(self.end)


def cell(value):
    """A value as a trace cell."""
    if isinstance(value, Forecast):
        return forecast_text(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def csv_row(t, samples, columns):
    """One trace line: t, then each column's value or an empty cell."""
    values = {}
    for name, value in samples:
        values[name] = value
    return ",".join([cell(t)] + [cell(values.get(name)) for name in columns])
