"""An Enphase Envoy on loopback, serving one firmware variant of the corpus.

    python3 tools/simulators/envoy.py --variant 7.6.175_with_cts [--port 8080] [--token T]

It answers what the captured Envoy answered, byte for byte, with the status
the real one gave (404 for its "Page Not Found" and `{"error": "404 - Not
Found"}` bodies, 401 for "Error: 401" and HTML 401 pages).  Like pyenphase's
test harness it answers `/production.json?details=1` with the `production.json`
capture.  Firmware 7 and later want HTTPS and a bearer token on everything
but `/info`, as the real gateways do.

``set_power(production, consumption)`` turns it into a live Envoy: the
production and consumption sections and the CTs' readings then carry those
figures (net = consumption - production), for the end-to-end tests and the demo.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from simulators.base import Simulator, serve_forever
from simulators.corpus import CORPUS, answer, file_for, firmware, variants

__all__ = ["CORPUS", "EnvoySimulator", "variants"]

NGINX_401 = (
    b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class EnvoySimulator(Simulator):
    """One corpus variant on loopback.  ``token`` defaults to the variant's need:
    firmware 7+ requires one (and HTTPS), older firmware none."""

    name = "envoy"

    def __init__(self, variant="7.6.175_with_cts", token="test-envoy-token", port=0, tls=None, hide=(), details_file="production.json"):
        modern = firmware(variant) >= 7
        Simulator.__init__(self, port, modern if tls is None else tls)
        self.variant = variant
        self.token = token if modern else None
        self.power = None  # (production W, consumption W) in live mode
        # Files answered 404, as if this firmware had no such endpoint.
        self.hide = set(hide)
        # The capture answered for /production.json (pyenphase's harness: production.json).
        self.details_file = details_file

    def set_power(self, production, consumption):
        """Serve these figures from now on (W); net is consumption - production."""
        self.power = (production, consumption)

    def unauthorized(self, request):
        return 401, "text/html", NGINX_401

    def handle(self, request):
        if self.token and request.path != "/info" and request.bearer() != self.token:
            return self.unauthorized(request)
        status, kind, body = answer(self.variant, request.path, self.hide, self.details_file)
        if self.power is not None and status == 200:
            body = self.live(file_for(request.path), body)
        return status, kind, body

    def live(self, name, body):
        """The captured body with the live figures written in."""
        production, consumption = self.power
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if name in ("production.json", "production") and isinstance(data, dict):
            for entry in data.get("production", []):
                if entry.get("type") == "eim":
                    _set_watts(entry, production)
                elif entry.get("type") == "inverters":
                    entry["wNow"] = production
            for entry in data.get("consumption", []):
                if entry.get("measurementType") == "total-consumption":
                    _set_watts(entry, consumption)
                elif entry.get("measurementType") == "net-consumption":
                    _set_watts(entry, consumption - production)
        elif name == "api_v1_production" and isinstance(data, dict):
            data["wattsNow"] = production
        elif name == "ivp_meters_readings" and isinstance(data, list):
            watts = {"production": production, "net-consumption": consumption - production, "total-consumption": consumption}
            kinds = self.meter_kinds()
            for meter in data:
                kind = kinds.get(meter.get("eid")) if isinstance(meter, dict) else None
                if kind in watts:
                    _set_reading(meter, watts[kind])
        else:
            return body
        return json.dumps(data, indent=2).encode()

    def meter_kinds(self):
        """{eid: measurementType} of the capture's /ivp/meters."""
        status, _, body = answer(self.variant, "/ivp/meters", self.hide)
        try:
            meters = json.loads(body) if status == 200 else []
        except ValueError:
            meters = []
        return {m.get("eid"): m.get("measurementType") for m in meters if isinstance(m, dict)}


def _set_reading(meter, watts):
    meter["activePower"] = meter["instantaneousDemand"] = watts
    meter["timestamp"] = int(time.time())
    channels = [c for c in meter.get("channels") or () if isinstance(c, dict) and c.get("voltage")]
    for channel in channels:  # the phases the CT measures (a split-phase unit's third is empty)
        channel["activePower"] = channel["instantaneousDemand"] = watts / len(channels)
        channel["timestamp"] = meter["timestamp"]


def _set_watts(entry, watts):
    entry["wNow"] = watts
    entry["readingTime"] = int(time.time())
    lines = entry.get("lines")
    if lines:
        for line in lines:
            line["wNow"] = watts / len(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="7.6.175_with_cts", choices=variants())
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default="test-envoy-token")
    args = parser.parse_args()
    sim = EnvoySimulator(args.variant, args.token, args.port)
    serve_forever(sim, "Envoy %s at %%s%s" % (args.variant, " (token %s)" % sim.token if sim.token else ""))


if __name__ == "__main__":
    main()
