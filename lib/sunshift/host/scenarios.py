"""Built-in days for `demo`, `sim --scenario` and `scenario`: the weather, a
house, a car, a hot-water tank and a home battery that answer what the rules
write.

A trace file is open loop: a recorded car charged the way it did that day,
whatever new rules would have told it.  A scenario is closed loop: ``Home``
keeps the physics of the site, ``step`` gives the signals the devices would
report, and a target write (evcc's mode, the hot-water setpoint, ...) changes
what the car, the heat pump and the battery draw from then on.  So two rule
sets can be compared on the same weather, by how often they switch and by how
much of the sun's energy the house keeps.

The model is deliberately small (each part is a few lines below) and
deterministic: clouds and the house's small loads come from a fixed-seed
generator, so a day is the same on every run and every interpreter.

Every day runs from midnight to midnight:

* the car is plugged in overnight, leaves at 07:30 and is plugged in again at
  noon; while it is away the charger reports it disconnected;
* there are showers at 07:15 and 19:30 (hot-water draws);
* the Envoy stops answering from 13:20 to 13:26.
"""

import math

from .. import forecast
from ..units import format_clock

HOUR = 3600
DAY = 86400

# The car (evcc's loadpoint 1): charging from 6 A on one phase to 16 A on three.
CAR_MIN_W = 1380
CAR_MAX_W = 11040
CAR_WH = 60000
CAR_LIMIT = 80  # evcc's limitSoc
# evcc in pv mode starts after a minute above the minimum power and keeps
# charging at the minimum for three minutes below it (its enable and disable delays).
ENABLE_DELAY = 60
DISABLE_DELAY = 180

# The home battery: it charges from what the house and the car leave, and
# covers the house (never the car) when the sun does not.
BATTERY_WH = 10000
BATTERY_MAX_W = 3000
BATTERY_MIN_SOC = 10

# The heat pump heating the hot-water tank: it starts when the tank is 5 K
# below the setpoint and heats it by 0.45 K a minute.
HEAT_PUMP_W = 2000
TANK_HYSTERESIS = 5
TANK_HEAT_PER_S = 0.0075
TANK_LOSS_PER_S = 0.4 / HOUR
SHOWER_K_PER_S = 1.2 / 60  # a ten-minute shower takes 12 K off the tank
SHOWERS = ((7 * HOUR + 900, 600), (19 * HOUR + 1800, 600))

CAR_AWAY = (7 * HOUR + 1800, 12 * HOUR)
DROPOUT = (13 * HOUR + 1200, 360)

# What the house draws beyond its base load: (from, length s, W).
APPLIANCES = (
    (7 * HOUR, 300, 2000),  # kettle and coffee
    (12 * HOUR, 1800, 1500),  # cooking
    (18 * HOUR, 2700, 2500),  # the oven
    (19 * HOUR, 4 * HOUR, 300),  # lights and television
)

# The targets the model answers, and what each device holds before anyone writes.
DEFAULTS = {
    "evcc.loadpoints.1.mode": "off",
    "evcc.site.prioritySoc": 0,
    "evcc.site.batteryDischargeControl": False,
    "emsesp.boiler.dhw.seltemp": 50,
}

# The signals a scenario reports, in the order of an exported trace's columns.
SIGNALS = (
    "envoy.production",
    "envoy.total_consumption",
    "envoy.net_consumption",
    "evcc.loadpoints.1.chargePower",
    "evcc.loadpoints.1.connected",
    "evcc.loadpoints.1.charging",
    "evcc.loadpoints.1.vehicleSoc",
    "evcc.site.battery.soc",
    "emsesp.boiler.dhw.curtemp",
    "emsesp.boiler.dhw.seltemp",
    "emsesp.boiler.hpcurrpower",
)
ENVOY = ("envoy.production", "envoy.total_consumption", "envoy.net_consumption")
# What a picture of the day shows besides what the rules read (the house's
# total is production + net, and would only crowd the power panel).
PICTURE = tuple(name for name in SIGNALS if name != "envoy.total_consumption")


# A dynamic tariff: the grid price of each hour of the day (per kWh, in EUR),
# quarter-hours a little apart; the next day's prices are published at 13:00
# (as day-ahead markets do) and the house gets the day before's too, as a
# runner that kept them would have.
PUBLISHED = 13 * HOUR
SLOT = 900
GRID = "evcc.tariff.grid"
FEEDIN = "evcc.tariff.feedin"


class Tariff:
    """Hourly grid prices and a fixed feed-in price, with a fixed-seed wobble per quarter-hour."""

    def __init__(self, hourly, feedin, seed, currency="EUR"):
        self.hourly = hourly
        self.feedin = feedin
        self.seed = seed
        self.currency = currency  # as evcc reports it

    def grid(self, first, last):
        """The grid price forecast of the days ``first`` to ``last`` (0 is the scenario's day)."""
        rnd = Lcg(self.seed)
        slots = []
        for day in range(first, last + 1):
            for q in range(96):
                price = self.hourly[q // 4] + rnd.between(-0.01, 0.01) + 0.005 * (day - first)
                start = day * DAY + q * SLOT
                slots.append((start, start + SLOT, round(price, 4)))
        return forecast.build(slots)

    def feed(self, first, last):
        """The feed-in price: the same in every hour."""
        return forecast.build([(first * DAY, (last + 1) * DAY, self.feedin)])

    def published(self, t, step):
        """[(signal, Forecast)] the house learns in the step from ``t``: at the start and at 13:00."""
        if t == 0:
            return [(GRID, self.grid(-1, 0)), (FEEDIN, self.feed(-1, 0))]
        if t <= PUBLISHED < t + step:
            return [(GRID, self.grid(-1, 1)), (FEEDIN, self.feed(-1, 1))]
        return []


class Lcg:
    """A tiny fixed-seed generator: the same numbers on every Python."""

    def __init__(self, seed):
        self.state = seed

    def random(self):
        """A number in [0, 1)."""
        self.state = (self.state * 1103515245 + 12345) % (1 << 31)
        return self.state / (1 << 31)

    def between(self, low, high):
        """A number in [low, high)."""
        return low + (high - low) * self.random()


class Scenario:
    """The weather and the household of one built-in day."""

    def __init__(self, name, title, sunrise, sunset, peak, clear, cloudy, depth, base, heating, night_soc, noon_soc, tank, battery, seed, tariff=None):
        self.name = name
        self.title = title
        self.sunrise = sunrise
        self.sunset = sunset
        self.peak = peak  # W at noon under a clear sky
        self.clear = clear  # (shortest, longest) clear spell, s
        self.cloudy = cloudy  # (shortest, longest) cloud, s
        self.depth = depth  # share of the sun a cloud lets through
        self.base = base  # the house's base load, W
        self.heating = heating  # the heat pump's space heating, W (winter)
        self.night_soc = night_soc  # the car's charge at midnight, %
        self.noon_soc = noon_soc  # ... when it comes back at noon
        self.tank = tank  # the hot-water tank at midnight, °C
        self.battery = battery  # the home battery at midnight, %
        self.seed = seed
        self.tariff = tariff  # a dynamic Tariff, or None: no prices

    def variant(self, name, title, tariff, **changes):
        """This day under another name, on ``tariff``, with ``changes`` to its figures."""
        fields = dict(self.__dict__)
        fields.update(name=name, title=title, tariff=tariff)
        fields.update(changes)
        return Scenario(**fields)

    def signals(self):
        """The signals its day reports, in a trace's order: SIGNALS and its prices."""
        return SIGNALS + ((GRID, FEEDIN) if self.tariff else ())

    def clouds(self):
        """[(from, to)] of the day's clouds, drawn once from the seed."""
        rnd = Lcg(self.seed)
        spans = []
        t = self.sunrise
        cloudy = rnd.random() < 0.5
        while t < self.sunset:
            low, high = self.cloudy if cloudy else self.clear
            length = int(rnd.between(low, high))
            if cloudy:
                spans.append((t, t + length))
            t += length
            cloudy = not cloudy
        return spans


# The grid price of each hour of the dynamic-tariff days, in EUR per kWh.
# fmt: off
WINTER_HOURLY = (
    # 00   01     02     03     04     05     06     07     08     09     10     11
     0.27,  0.24,  0.19,  0.17,  0.18,  0.21,  0.29,  0.38,  0.40,  0.33,  0.29,  0.27,
    # 12   13     14     15     16     17     18     19     20     21     22     23
     0.26,  0.26,  0.28,  0.31,  0.37,  0.44,  0.47,  0.45,  0.39,  0.33,  0.30,  0.28,
)
SPRING_HOURLY = (
    # 00   01     02     03     04     05     06     07     08     09     10     11
     0.24,  0.22,  0.21,  0.20,  0.21,  0.23,  0.28,  0.31,  0.25,  0.15,  0.05, -0.02,
    # 12   13     14     15     16     17     18     19     20     21     22     23
    -0.06, -0.05,  0.01,  0.09,  0.20,  0.32,  0.38,  0.36,  0.31,  0.28,  0.26,  0.25,
)
# fmt: on


WINTER = Scenario(
    "winter",
    "Winter day: little sun, the heat pump heating the house",
    sunrise=8 * HOUR + 15 * 60,
    sunset=16 * HOUR + 30 * 60,
    peak=2600,
    clear=(10 * 60, 40 * 60),
    cloudy=(10 * 60, 50 * 60),
    depth=0.35,
    base=450,
    heating=1200,
    night_soc=35,
    noon_soc=40,
    tank=47.0,
    battery=30,
    seed=3,
)


SCENARIOS = {
    "sunny": Scenario(
        "sunny",
        "Sunny summer day",
        sunrise=5 * HOUR + 30 * 60,
        sunset=21 * HOUR + 30 * 60,
        peak=8000,
        clear=(40 * 60, 150 * 60),
        cloudy=(2 * 60, 6 * 60),
        depth=0.55,
        base=350,
        heating=0,
        night_soc=60,
        noon_soc=45,
        tank=49.0,
        battery=40,
        seed=1,
    ),
    "broken_clouds": Scenario(
        "broken_clouds",
        "Broken clouds: the surplus flickers around the threshold",
        sunrise=6 * HOUR,
        sunset=21 * HOUR,
        peak=4800,
        clear=(2 * 60, 6 * 60),
        cloudy=(2 * 60, 5 * 60),
        depth=0.22,
        base=400,
        heating=0,
        night_soc=60,
        noon_soc=40,
        tank=49.0,
        battery=40,
        seed=7,
    ),
    "winter": WINTER,
    "winter_prices": WINTER.variant(
        "winter_prices",
        "Winter day on a dynamic tariff: cheap night hours, peaks at breakfast and in the evening",
        Tariff(
            WINTER_HOURLY,
            feedin=0.08,
            seed=11,
        ),
        noon_soc=80,  # a short trip: it needs no charge in the evening
        battery=60,
    ),
    "spring_prices": Scenario(
        "spring_prices",
        "Spring day on a dynamic tariff: negative prices at midday, a peak in the evening",
        sunrise=6 * HOUR + 30 * 60,
        sunset=20 * HOUR,
        peak=6500,
        clear=(30 * 60, 120 * 60),
        cloudy=(5 * 60, 15 * 60),
        depth=0.5,
        base=400,
        heating=0,
        night_soc=45,
        noon_soc=80,
        tank=48.0,
        battery=50,
        seed=5,
        tariff=Tariff(
            SPRING_HOURLY,
            feedin=0.07,
            seed=13,
        ),
    ),
}
DEFAULT = "sunny"  # the demo's day: every rule gets to act


def get(name):
    """The scenario called ``name``; ValueError naming the choices otherwise."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ValueError("no scenario '%s' (choices: %s)" % (name, ", ".join(sorted(SCENARIOS))))
    return scenario


def _within(spans, tod):
    for start, length in spans:
        if start <= tod < start + length:
            return True
    return False


class Home:
    """The physics of a scenario's day, advanced in steps by ``step``.

    ``settings`` holds what the devices were last told (see DEFAULTS); ``set``
    is a device write.  ``step`` returns every signal's true value, including
    those the Envoy does not report while it drops out (``envoy_answers``).
    """

    def __init__(self, scenario):
        self.scenario = scenario
        self.clouds = scenario.clouds()
        self.rnd = Lcg(scenario.seed * 7919 + 1)
        self.settings = dict(DEFAULTS)
        self.vehicle_soc = float(scenario.night_soc)
        self.battery_soc = float(scenario.battery)
        self.tank = float(scenario.tank)
        self.heat_pump = False
        self.charging = False
        self.enable_timer = 0
        self.disable_timer = 0
        self.car_was_home = True

    def set(self, target, value):
        """A device write; targets the model does not know are held but change nothing."""
        self.settings[target] = value

    def production(self, tod):
        """What the panels make at ``tod`` (W): a clear-sky bell under the clouds."""
        sc = self.scenario
        if not sc.sunrise < tod < sc.sunset:
            return 0
        sun = sc.peak * math.sin(math.pi * (tod - sc.sunrise) / (sc.sunset - sc.sunrise)) ** 1.3
        for start, end in self.clouds:
            if start <= tod < end:
                return sun * sc.depth
            if start > tod:
                break
        return sun

    def house(self, tod):
        """The house's own load (W): base, small loads, appliances, space heating."""
        load = self.scenario.base + self.scenario.heating + 80 * self.rnd.random()
        for start, length, watts in APPLIANCES:
            if start <= tod < start + length:
                load += watts
        return load

    def car_home(self, tod):
        """True while the car is plugged in."""
        return not (CAR_AWAY[0] <= tod < CAR_AWAY[1])

    def envoy_answers(self, tod):
        """False while the Envoy has dropped out."""
        return not _within((DROPOUT,), tod)

    def _charger(self, spare, dt, home):
        """What evcc lets the car draw (W), given ``spare`` W after the house."""
        mode = self.settings["evcc.loadpoints.1.mode"]
        if not home or self.vehicle_soc >= CAR_LIMIT or mode not in ("pv", "minpv", "now"):
            self.charging = False
            self.enable_timer = self.disable_timer = 0
            return 0
        if mode == "now":
            self.charging = True
            return CAR_MAX_W
        if mode == "minpv":
            self.charging = True
            return max(CAR_MIN_W, min(CAR_MAX_W, spare))
        # pv: surplus only, with evcc's own enable and disable delays.
        if not self.charging:
            self.enable_timer = self.enable_timer + dt if spare >= CAR_MIN_W else 0
            if self.enable_timer < ENABLE_DELAY:
                return 0
            self.charging = True
            self.disable_timer = 0
        if spare >= CAR_MIN_W:
            self.disable_timer = 0
            return min(CAR_MAX_W, spare)
        self.disable_timer += dt
        if self.disable_timer >= DISABLE_DELAY:
            self.charging = False
            self.enable_timer = 0
            return 0
        return CAR_MIN_W

    def step(self, tod, dt):
        """Advance ``dt`` seconds from time of day ``tod``; the signals' true values."""
        tod = tod % DAY
        home = self.car_home(tod)
        if home and not self.car_was_home:
            self.vehicle_soc = float(self.scenario.noon_soc)  # back from a drive
        self.car_was_home = home
        production = self.production(tod)
        house = self.house(tod)
        # The tank: the heat pump keeps it near the setpoint with its own hysteresis.
        seltemp = self.settings["emsesp.boiler.dhw.seltemp"]
        if self.heat_pump and self.tank >= seltemp:
            self.heat_pump = False
        elif not self.heat_pump and self.tank < seltemp - TANK_HYSTERESIS:
            self.heat_pump = True
        heat_pump = HEAT_PUMP_W if self.heat_pump else 0
        self.tank += dt * ((TANK_HEAT_PER_S if self.heat_pump else 0) - TANK_LOSS_PER_S - (SHOWER_K_PER_S if _within(SHOWERS, tod) else 0))
        spare = production - house - heat_pump
        # The battery fills first while it is below evcc's prioritySoc, else after the car.
        battery = 0
        full = self.battery_soc >= 100
        if spare > 0 and not full and self.battery_soc < _number(self.settings["evcc.site.prioritySoc"]):
            battery = min(BATTERY_MAX_W, spare)
        car = self._charger(spare - battery, dt, home)
        left = spare - battery - car
        if left > 0 and not full:
            battery += min(BATTERY_MAX_W - battery, left)
        elif left < 0 and self.battery_soc > BATTERY_MIN_SOC:
            # It covers the house; the car too while it charges in "now" (evcc's
            # fast mode), unless batteryDischargeControl keeps it out of the car,
            # which stops it while the car charges at all.
            if car == 0 or self.settings["evcc.site.batteryDischargeControl"] is not True:
                short = -left if self.settings["evcc.loadpoints.1.mode"] == "now" else max(0, -spare)
                battery = -min(BATTERY_MAX_W, short)
        self.battery_soc = min(100.0, max(float(BATTERY_MIN_SOC), self.battery_soc + battery * dt / 36.0 / BATTERY_WH))
        self.vehicle_soc = min(100.0, self.vehicle_soc + car * dt / 36.0 / CAR_WH)
        net = house + heat_pump + car + battery - production
        return {
            "envoy.production": round(production),
            "envoy.total_consumption": round(production + net),
            "envoy.net_consumption": round(net),
            "evcc.loadpoints.1.chargePower": round(car),
            "evcc.loadpoints.1.connected": home,
            "evcc.loadpoints.1.charging": car > 0,
            "evcc.loadpoints.1.vehicleSoc": round(self.vehicle_soc, 1),
            "evcc.site.battery.soc": round(self.battery_soc, 1),
            "emsesp.boiler.dhw.curtemp": round(self.tank, 1),
            "emsesp.boiler.dhw.seltemp": seltemp,
            "emsesp.boiler.hpcurrpower": heat_pump,  # the compressor's electric power, W (EMS-ESP's hpcurrpower)
        }


def _number(value):
    t = type(value)
    return value if t is int or t is float else 0


def describe(scenario):
    """Two lines about a scenario's day for the demo's header."""
    return "%s: sunrise %s, sunset %s, up to %.1f kW of sun; car away %s-%s; Envoy silent %s-%s" % (
        scenario.title,
        format_clock(scenario.sunrise),
        format_clock(scenario.sunset),
        scenario.peak / 1000,
        format_clock(CAR_AWAY[0]),
        format_clock(CAR_AWAY[1]),
        format_clock(DROPOUT[0]),
        format_clock(DROPOUT[0] + DROPOUT[1]),
    )
