"""Trace files: a recorded or made-up day as CSV, for the simulator.

The header is ``t,<signal>,<signal>...``; ``t`` is seconds from the start.  A
cell holds a number, ``true``/``false``, or text (``pv``); an empty cell means
no new sample, so a signal that stops being sampled goes stale.  Cells may be
quoted with double quotes.  Every error names the file, line and column.

A forecast (evcc's tariffs: a price per slot ahead) is a cell that starts
with ``@``: runs of slots of one length, ``@START+LENGTH: v1 v2 v3``, times in
seconds like ``t`` (a run may start before 0), runs separated by ``;``:
``@0+900: 0.31 0.29 0.28; @7200+3600: 0.25``.  It stands as read at its row's
``t`` until a new one; between them the rules read the slot of the moment
(docs/simulation.md).
"""

from .. import forecast
from ..errors import SunshiftError
from ..text import text_value


class TraceError(SunshiftError):
    """A trace file that cannot be replayed; the message names file, line and column."""


def split_cells(line):
    """[(cell text, column)] of one CSV line; columns are 1-based character positions."""
    cells = []
    i = 0
    n = len(line)
    while True:
        start = i
        if i < n and line[i] == '"':
            text = []
            i += 1
            while True:
                end = line.find('"', i)
                if end < 0:
                    raise ValueError(start + 1)
                text.append(line[i:end])
                if end + 1 < n and line[end + 1] == '"':  # "" is a quote inside quotes
                    text.append('"')
                    i = end + 2
                    continue
                i = end + 1
                break
            cells.append(("".join(text), start + 1))
            if i < n and line[i] != ",":
                raise ValueError(i + 1)
        else:
            end = line.find(",", i)
            if end < 0:
                end = n
            cells.append((line[i:end].strip(), start + 1))
            i = end
        if i >= n:
            return cells
        i += 1  # the comma


def parse_cell(text):
    """A cell's value: int, float, bool or text (as an MQTT payload is read)."""
    value = text_value(text)
    return text if value is None else value


def forecast_cell(text):
    """The Forecast of a cell ``@START+LENGTH: v1 v2; ...``; ValueError(message, offset)."""
    slots = forecast.Builder()
    at = 0
    for run in text.split(";"):
        body = run.strip()
        head, colon, values = body.partition(":")
        start, plus, length = head[1:].partition("+")
        try:
            if body[:1] != "@" or not colon or not plus:
                raise ValueError
            start, length = float(start), float(length)
        except ValueError:
            raise ValueError("a forecast is runs of slots like '@0+900: 0.31 0.29; @7200+3600: 0.25', not '%s'" % body[:40], at)
        if length <= 0:
            raise ValueError("a forecast's slots need a length above 0 s", at)
        for word in values.split():
            try:
                value = float(word)
            except ValueError:
                raise ValueError("'%s' in a forecast is not a number" % word[:20], at)
            before = slots.skipped
            slots.add(start, start + length, value)
            if slots.skipped != before:
                raise ValueError("a forecast's slots go forward in time and number at most %d" % forecast.MAX_SLOTS, at)
            start += length
        at += len(run) + 1
    return slots.forecast()


def forecast_text(fc):
    """A Forecast as a trace cell (what forecast_cell reads)."""
    runs = []
    k = 0
    n = len(fc)
    while k < n:
        start, length = fc.starts[k], fc.ends[k] - fc.starts[k]
        words = []
        while k < n and fc.starts[k] == start + length * len(words) and fc.ends[k] - fc.starts[k] == length:
            words.append(_number_text(fc.values[k]))
            k += 1
        runs.append("@%d+%d: %s" % (start, length, " ".join(words)))
    return "; ".join(runs)


def _number_text(value):
    text = "%.4f" % value
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cell_value(text):
    """parse_cell(text), sooner for the common cells (true, false, 12, 45.0)."""
    if text == "true":
        return True
    if text == "false":
        return False
    if "." in text:  # never an int
        try:
            value = float(text)
        except ValueError:
            return parse_cell(text)
        return value if value - value == 0 else parse_cell(text)
    try:
        return int(text)
    except ValueError:
        return parse_cell(text)


_KINDS = {bool: "true/false", int: "numbers", float: "numbers", str: "text", forecast.Forecast: "forecasts"}


def _valid_signal(name):
    if not name or name[0] == "." or name[-1] == "." or ".." in name:
        return False
    for c in name:
        if not (("a" <= c <= "z") or ("A" <= c <= "Z") or ("0" <= c <= "9") or c in "_."):
            return False
    return "." in name


class Trace:
    """A trace file, read row by row: ``for t, samples in trace.rows(): ...``."""

    def __init__(self, path):
        self.path = path
        self.columns = []
        self._read_header()

    def error(self, line, col, message):
        """A TraceError naming this file, ``line`` and ``col``."""
        return TraceError("%s:%d:%d: %s" % (self.path, line, col, message))

    def _lines(self):
        try:
            f = open(self.path, "rb")
        except OSError:
            raise TraceError("%s: cannot open the trace file" % self.path)
        number = 0
        with f:
            for raw in f:
                number += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeError:
                    raise self.error(number, 1, "this line is not UTF-8 text")
                text = text.rstrip("\r\n")
                if number == 1 and text.startswith("\ufeff"):
                    text = text[1:]  # a byte-order mark from a spreadsheet
                yield number, text

    def _cells(self, number, text):
        try:
            return split_cells(text)
        except ValueError as e:
            raise self.error(number, e.args[0], "a quoted cell is not closed properly")

    def _read_header(self):
        for number, text in self._lines():
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            cells = self._cells(number, text)
            if cells[0][0] != "t":
                raise self.error(number, 1, "the first column must be 't' (seconds from the start), not '%s'" % cells[0][0])
            seen = []
            for name, col in cells[1:]:
                if not _valid_signal(name):
                    raise self.error(number, col, "'%s' is not a signal name (like envoy.net_consumption)" % name)
                if name in seen:
                    raise self.error(number, col, "column '%s' appears twice" % name)
                seen.append(name)
            self.columns = seen
            self.column_cols = [col for _, col in cells[1:]]  # where each column's name starts, for warnings
            self.header_line = number
            return
        raise self.error(1, 1, "the trace is empty; it needs a header like t,envoy.net_consumption")

    def rows(self):
        """Yield (t, [(signal, value)]) for every data row, checking as it goes."""
        names = [None] + self.columns  # by cell index; cell 0 is t
        width = len(names)
        kinds = [None] * width
        # A day of 1-s samples repeats most cells from the row before: each
        # column remembers its last cell text and the (signal, value) it gave,
        # which has passed the column's kind check already.
        seen = [None] * width
        pairs = [None] * width
        last_t = None
        header = self.header_line
        for number, text in self._lines():
            if number <= header:
                continue
            if not ("0" <= text[:1] <= "9") and (not text.strip() or text.lstrip().startswith("#")):
                continue
            quoted = '"' in text
            if quoted:
                # Quoted cells keep their spaces; other lines' cells lose them below.
                parts = [cell for cell, _ in self._cells(number, text)]
                seen = [None] * width
            else:
                parts = text.split(",")
            if len(parts) != width:
                cells = self._cells(number, text)
                if len(cells) > width:
                    raise self.error(number, cells[width][1], "this row has %d cells; the header has %d" % (len(cells), width))
                raise self.error(number, len(text) + 1, "this row has %d cells; the header has %d (write an empty cell for no sample)" % (len(cells), width))
            cell = parts[0] if quoted else parts[0].strip()
            t = _cell_value(cell)
            if type(t) is not int and type(t) is not float:
                raise self.error(number, 1, "t must be a number of seconds, not '%s'" % cell)
            t = float(t)
            if last_t is not None and t < last_t:
                raise self.error(number, 1, "time goes backwards: %s after %s" % (cell, _seconds(last_t)))
            last_t = t
            samples = []
            for k in range(1, width):
                raw = parts[k]
                if raw == seen[k]:
                    samples.append(pairs[k])
                    continue
                cell = raw if quoted else raw.strip()
                if cell == "":
                    continue
                if cell[0] == "@":
                    try:
                        value = forecast_cell(cell)
                    except ValueError as e:
                        col = self._cells(number, text)[k][1]
                        raise self.error(number, col + e.args[1], e.args[0])
                else:
                    value = _cell_value(cell)
                kind = _KINDS[type(value)]
                if kinds[k] is None:
                    kinds[k] = kind
                elif kinds[k] != kind:
                    col = self._cells(number, text)[k][1]
                    raise self.error(number, col, "column '%s' holds %s, but this cell is '%s'" % (names[k], kinds[k], cell))
                pair = (names[k], value)
                if not quoted:
                    seen[k] = raw
                    pairs[k] = pair
                samples.append(pair)
            yield t, samples

    def check(self):
        """Read the whole trace once, raising its first error; returns the number of rows."""
        count = 0
        for _ in self.rows():
            count += 1
        return count


def _seconds(t):
    return str(int(t)) if t == int(t) else str(t)
