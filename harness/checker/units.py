"""Read a unit written in text (``cm``, ``m/s^2``, ``MeV``, ``kg m^{-3}``) into a
sympy.physics.units expression, and split a quantity into SI magnitude and unit.

A small grammar over a table of unit names and SI prefixes: nothing is evaluated.
"""

from __future__ import annotations

import functools
import re

import sympy
from sympy.physics import units as u
from sympy.physics.units import convert_to

SI_BASE = (u.meter, u.kilogram, u.second, u.ampere, u.kelvin, u.mole, u.candela)

_c = u.speed_of_light
# Units sympy.physics.units lacks, defined by their exact SI values.
_calorie = sympy.Rational(4184, 1000) * u.joule
_gauss = sympy.Rational(1, 10**4) * u.tesla
_dyne = sympy.Rational(1, 10**5) * u.newton
_erg = sympy.Rational(1, 10**7) * u.joule
_barn = sympy.Rational(1, 10**28) * u.meter**2
UNITS: dict[str, sympy.Expr] = {
    "m": u.meter,
    "g": u.gram,
    "s": u.second,
    "A": u.ampere,
    "K": u.kelvin,
    "mol": u.mole,
    "cd": u.candela,
    "N": u.newton,
    "J": u.joule,
    "W": u.watt,
    "Pa": u.pascal,
    "C": u.coulomb,
    "V": u.volt,
    "Ω": u.ohm,
    "ohm": u.ohm,
    "Ohm": u.ohm,
    "S": u.siemens,
    "F": u.farad,
    "H": u.henry,
    "T": u.tesla,
    "Wb": u.weber,
    "Hz": u.hertz,
    "eV": u.electronvolt,
    "L": u.liter,
    "l": u.liter,
    "Å": u.angstrom,
    "angstrom": u.angstrom,
    "atm": u.atmosphere,
    "bar": u.bar,
    "cal": _calorie,
    "Cal": 1000 * _calorie,
    "G": _gauss,
    "gauss": _gauss,
    "min": u.minute,
    "h": u.hour,
    "hr": u.hour,
    "hour": u.hour,
    "hours": u.hour,
    "d": u.day,
    "day": u.day,
    "days": u.day,
    "yr": u.year,
    "year": u.year,
    "years": u.year,
    "y": u.year,
    "sec": u.second,
    "rad": u.radian,
    "sr": u.steradian,
    "deg": u.degree,
    "°": u.degree,
    "Bq": u.becquerel,
    "Ci": 37 * 10**9 * u.becquerel,
    "Gy": u.gray,
    "Sv": u.gray,
    "dyn": _dyne,
    "dyne": _dyne,
    "erg": _erg,
    "b": _barn,
    "barn": _barn,
    "fermi": u.femto * u.meter,
    "u": u.atomic_mass_unit,
    "amu": u.atomic_mass_unit,
    "Da": u.dalton,
    "AU": u.astronomical_unit,
    "au": u.astronomical_unit,
    "ly": u.lightyear,
    "pc": sympy.Float("3.0856775814913673e16") * u.meter,
    "torr": u.torr,
    "Torr": u.torr,
    "mmHg": u.mmHg,
    "psi": u.psi,
    "lb": u.pound,
    "ft": u.foot,
    "in": u.inch,
    "mi": u.mile,
    "c": _c,
    "kWh": 1000 * u.watt * u.hour,
    "Wh": u.watt * u.hour,
    "rpm": 1 / u.minute,
    "kmh": u.kilometer / u.hour,
    "M": u.mole / u.liter,
    "D": 3.33564e-30 * u.coulomb * u.meter,
    "Gauss": _gauss,
    "Gs": _gauss,  # the PHYSICS data set's gauss (eight gold answers), never a gigasecond there
    "Tesla": u.tesla,
    "kWhr": 1000 * u.watt * u.hour,
    "ergs": _erg,
    "dynes": _dyne,
    "Joule": u.joule,
    "Joules": u.joule,
    "K^{-1}": 1 / u.kelvin,
    "ton": 1000 * u.kilogram,  # the metric ton (tonne)
    "tonne": 1000 * u.kilogram,
    # things counted are numbers: "6.5 \times 10^4 \text{neutrinos/cm}^2/\text{s}" is a flux in cm^-2 s^-1
    **dict.fromkeys(
        ("particles", "photons", "neutrinos", "electrons", "atoms", "nuclei", "molecules", "events", "counts", "decays"), sympy.Integer(1)
    ),
    "hp": sympy.Float("745.69987158227022") * u.watt,  # mechanical horsepower
}
# Units spelled out in words ("51.5 \\text{ kilometers}"), singular and plural.
_WORDS = {
    "meter": u.meter,
    "metre": u.meter,
    "kilometer": u.kilometer,
    "kilometre": u.kilometer,
    "centimeter": u.centimeter,
    "centimetre": u.centimeter,
    "millimeter": u.millimeter,
    "millimetre": u.millimeter,
    "nanometer": u.nanometer,
    "nanometre": u.nanometer,
    "second": u.second,
    "gram": u.gram,
    "kilogram": u.kilogram,
    "joule": u.joule,
    "watt": u.watt,
    "volt": u.volt,
    "newton": u.newton,
    "ampere": u.ampere,
    "kelvin": u.kelvin,
    "hertz": u.hertz,
    "ohm": u.ohm,
    "coulomb": u.coulomb,
    "tesla": u.tesla,
    "pascal": u.pascal,
    "minute": u.minute,
    "radian": u.radian,
    "degree": u.degree,
    "electronvolt": u.electronvolt,
    "liter": u.liter,
    "litre": u.liter,
}
UNITS.update({w: v for word, v in _WORDS.items() for w in (word, word + "s", word.capitalize(), word.capitalize() + "s")})

PREFIXES: dict[str, sympy.Expr] = {
    "Y": sympy.Integer(10) ** 24,
    "Z": sympy.Integer(10) ** 21,
    "E": sympy.Integer(10) ** 18,
    "P": sympy.Integer(10) ** 15,
    "T": sympy.Integer(10) ** 12,
    "G": sympy.Integer(10) ** 9,
    "M": sympy.Integer(10) ** 6,
    "k": sympy.Integer(10) ** 3,
    "h": sympy.Integer(10) ** 2,
    "da": sympy.Integer(10),
    "d": sympy.Rational(1, 10),
    "c": sympy.Rational(1, 100),
    "m": sympy.Rational(1, 1000),
    "μ": sympy.Rational(1, 10**6),
    "µ": sympy.Rational(1, 10**6),
    "u": sympy.Rational(1, 10**6),
    "n": sympy.Rational(1, 10**9),
    "p": sympy.Rational(1, 10**12),
    "f": sympy.Rational(1, 10**15),
    "a": sympy.Rational(1, 10**18),
}
# Prefixes only go on units that take them (no "mmin", "kh" as kilo-hour is fine but rare).
_PREFIXABLE = {
    "m",
    "g",
    "s",
    "A",
    "K",
    "mol",
    "N",
    "J",
    "W",
    "Pa",
    "C",
    "V",
    "Ω",
    "ohm",
    "S",
    "F",
    "H",
    "T",
    "Wb",
    "Hz",
    "eV",
    "L",
    "l",
    "bar",
    "cal",
    "G",
    "rad",
    "Bq",
    "Ci",
    "Gy",
    "Sv",
    "b",
    "Wh",
    "M",
    "yr",
}

_FACTOR = re.compile(r"([A-Za-zÅΩμµ°]+)\s*(?:\^\s*\{?\s*([+-]?\d+(?:\.\d+)?)\s*\}?|([²³]))?")
_SUPERSCRIPT = {"²": 2, "³": 3}


class UnitParseError(ValueError):
    pass


def _constants() -> dict[str, tuple[sympy.Expr, str]]:
    """Symbol name -> (CODATA value in SI units, what it is), from scipy.constants."""
    from scipy import constants as k

    J, s, m, kg, C, K = u.joule, u.second, u.meter, u.kilogram, u.coulomb, u.kelvin
    table = {
        "c": (k.c * m / s, "speed of light"),
        "h": (k.h * J * s, "Planck constant"),
        "hbar": (k.hbar * J * s, "reduced Planck constant"),
        "e": (k.e * C, "elementary charge"),
        "k_B": (k.k * J / K, "Boltzmann constant"),
        "G": (k.G * m**3 / (kg * s**2), "gravitational constant"),
        "m_e": (k.m_e * kg, "electron mass"),
        "m_p": (k.m_p * kg, "proton mass"),
        "m_n": (k.m_n * kg, "neutron mass"),
        "epsilon_0": (k.epsilon_0 * u.farad / m, "vacuum permittivity"),
        "mu_0": (k.mu_0 * u.newton / u.ampere**2, "vacuum permeability"),
        "N_A": (k.N_A / u.mole, "Avogadro constant"),
        "sigma_B": (k.sigma * u.watt / (m**2 * K**4), "Stefan-Boltzmann constant"),
        "a_0": (k.physical_constants["Bohr radius"][0] * m, "Bohr radius"),
        "g": (k.g * m / s**2, "standard gravity"),
    }
    table["k"] = table["k_B"]
    table["sigma_SB"] = table["sigma_B"]
    return table


# Named physical constants a numeric answer may be written with (``\frac{hc}{\lambda}`` with λ given).
CONSTANTS: dict[str, tuple[sympy.Expr, str]] = _constants()


def _unit_word(word: str) -> sympy.Expr:
    if word in UNITS:
        return UNITS[word]
    for length in (2, 1):
        prefix, rest = word[:length], word[length:]
        if prefix in PREFIXES and rest in _PREFIXABLE:
            return PREFIXES[prefix] * UNITS[rest]
    raise UnitParseError(f"unknown unit {word!r}")


def _product(text: str) -> sympy.Expr:
    text = text.strip()
    result: sympy.Expr = sympy.Integer(1)
    pos = 0
    while pos < len(text):
        if text[pos] in " ·*.-" or text.startswith("\\cdot", pos):
            pos += 5 if text.startswith("\\cdot", pos) else 1
            continue
        m = _FACTOR.match(text, pos)
        if m is None:
            raise UnitParseError(f"cannot read unit {text!r}")
        power = sympy.Rational(m.group(2)) if m.group(2) else _SUPERSCRIPT.get(m.group(3) or "", 1)
        result = result * _unit_word(m.group(1)) ** power
        pos = m.end()
    return result


def parse_unit(text: str) -> sympy.Expr:
    """``"m/s^2"`` -> meter/second**2. Raises UnitParseError for anything else."""
    text = text.replace("\\mu", "μ").replace("\\Omega", "Ω").replace("\\AA", "Å").replace("\\circ", "°")
    text = re.sub(r"\\cdot(?![A-Za-z])", "·", text)  # "J/mol\cdot K"
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)  # "cm/\\sec": a unit word typed as a command
    text = re.sub(r"^\s*(?:H\.\s*P\.?|HP)\s*$", "hp", text)  # horsepower, "4.5 H.P."
    text = re.sub(r"(?i)light[\s-]*years?", "ly", text)
    for junk in ("\\,", "\\ ", "\\;", "{", "}", "(", ")"):
        text = text.replace(junk, " ")
    text = re.sub(r"([μµ])\s+", r"\1", text).strip()
    if not text or len(text) > 40:
        raise UnitParseError(f"not a unit: {text!r}")
    numerator, *denominators = text.split("/")
    result = _product(numerator) if numerator.strip() not in ("", "1") else sympy.Integer(1)
    for d in denominators:
        if not d.strip():
            raise UnitParseError(f"cannot read unit {text!r}")
        result = result / _product(d)
    if result == 1:
        raise UnitParseError(f"not a unit: {text!r}")
    return result


def has_units(expr) -> bool:
    return isinstance(expr, sympy.Basic) and bool(expr.atoms(u.Quantity))


def is_unit(text: str) -> bool:
    """Does `parse_unit` read `text`?"""
    try:
        parse_unit(text)
    except UnitParseError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def to_si(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    """(magnitude, unit monomial in SI base units). Angles become radians and
    radians are dimensionless, so 30° equals pi/6. Raises UnitParseError when
    the quantity mixes dimensions (``1 m + 1 s``)."""
    expr = expr.xreplace({u.degree: sympy.pi / 180, u.radian: sympy.Integer(1), u.steradian: sympy.Integer(1)})
    si = convert_to(expr, list(SI_BASE))
    base_symbols = {b: sympy.Symbol(f"__si_{b.name}", positive=True) for b in SI_BASE}
    plain = si.xreplace(base_symbols)
    magnitude = plain.xreplace({s: sympy.Integer(1) for s in base_symbols.values()})
    if magnitude == 0:
        return magnitude, sympy.Integer(1)
    unit = sympy.powsimp(sympy.expand_power_base(sympy.cancel(plain / magnitude), force=True), force=True)
    coeff, unit = unit.as_coeff_Mul()
    magnitude = magnitude * coeff
    leftover = unit.free_symbols - set(base_symbols.values())
    if leftover or unit.atoms(u.Quantity):
        raise UnitParseError(f"inconsistent units in {expr}")
    return magnitude, unit


# ------------------------------------------------------------------ siunitx spellings

# fmt: off
_SIUNITX_PREFIXES = {
    "yocto": "y", "zepto": "z", "atto": "a", "femto": "f", "pico": "p", "nano": "n", "micro": "μ", "milli": "m",
    "centi": "c", "deci": "d", "deca": "da", "deka": "da", "hecto": "h", "kilo": "k", "mega": "M", "giga": "G",
    "tera": "T", "peta": "P", "exa": "E",
}
_SIUNITX_UNITS = {
    "meter": "m", "metre": "m", "second": "s", "gram": "g", "kilogram": "kg", "ampere": "A", "kelvin": "K",
    "mole": "mol", "candela": "cd", "newton": "N", "joule": "J", "watt": "W", "volt": "V", "ohm": "Ω",
    "coulomb": "C", "farad": "F", "henry": "H", "tesla": "T", "weber": "Wb", "pascal": "Pa", "hertz": "Hz",
    "electronvolt": "eV", "liter": "L", "litre": "L", "radian": "rad", "steradian": "sr", "degree": "°",
    "angstrom": "Å", "siemens": "S", "becquerel": "Bq", "gray": "Gy", "sievert": "Sv", "atomicmassunit": "u",
    "dalton": "Da", "bar": "bar", "barn": "b", "minute": "min", "hour": "h", "astronomicalunit": "au",
    "parsec": "pc", "gauss": "G", "erg": "erg",
}
# fmt: on
_SIUNITX_TOKEN = re.compile(r"\\([A-Za-z]+)\s*(?:\{([^{}]*)\})?|([^\\\s]+)")
_SIUNITX_POWERS = {"squared": "2", "cubed": "3", "square": "2", "cubic": "3"}


def siunitx_unit(spec: str) -> str:
    """The unit of a siunitx ``\\si{...}``/``\\unit{...}`` argument in plain text
    (``\\kilo\\meter\\per\\second\\squared`` -> ``km s^{-2}``, a literal ``m/s`` or
    ``kg.m^2`` as itself): the text `parse_unit` reads. Raises UnitParseError
    for a command it does not know."""
    if "\\" not in spec:
        return re.sub(r"(?<=[A-Za-z\d}])[.~](?=[A-Za-z])", " ", spec).strip()  # "kg.m/s^2": "." is a product
    factors: list[list[str]] = []  # [symbol, power]
    prefix, before, per = "", "", False
    for m in _SIUNITX_TOKEN.finditer(spec):
        command, argument, literal = m.groups()
        if command in _SIUNITX_PREFIXES:
            prefix += _SIUNITX_PREFIXES[command]
        elif command == "per":
            per = True
        elif command in ("square", "cubic"):
            before = _SIUNITX_POWERS[command]
        elif command == "raiseto" and argument:
            before = argument
        elif command in ("squared", "cubed", "tothe") and factors:
            power = _SIUNITX_POWERS.get(command, argument or "1")
            factors[-1][1] = f"-{power}" if factors[-1][1].startswith("-") else power
        elif command in _SIUNITX_UNITS or literal:
            symbol = _SIUNITX_UNITS[command] if command else literal
            power = before or "1"
            factors.append([prefix + symbol, f"-{power}" if per else power])
            prefix, before, per = "", "", False
        else:
            raise UnitParseError(f"unknown siunitx unit command \\{command}")
    return " ".join(symbol if power == "1" else f"{symbol}^{{{power}}}" for symbol, power in factors)
