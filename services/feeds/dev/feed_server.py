"""A local stand-in for the public alert feeds (GDACS and USGS cannot be reached from here), for `make run`, the
tests and people trying failures by hand.

It serves recorded documents in the feeds' real shape (`samples/`): the GDACS RSS feed (`gdacs:` items with event
type, id, episode, alert level, severity, country, dates, `geo:Point`, `georss:point`...), the USGS summary GeoJSON
(features with mag, place, time, updated, url, title, type, alert and a Point [lon, lat, depth]) and GDACS event
geometries. The recorded times are moved so that the newest item is ten minutes old when the server starts
(`--as-recorded` keeps them), so that `make run` always has current events.

- `GET /gdacs/rss.xml`: the GDACS RSS feed; `GET /gdacs/gdacsapi/api/polygons/getgeometry?eventtype=&eventid=
  &episodeid=`: an event's geometry (GeoJSON), 404 when it has none;
- `GET /usgs/<any name>.geojson`: the USGS feed (config/local.env points at `/usgs/4.5_week.geojson`).

Not the feeds (for people, tests and `make run`):
- `PUT /_dev/gdacs/events/{eventtype}/{eventid}` adds or replaces an event; JSON body, all optional:
  `alertlevel` (Green, Orange, Red; default Orange), `lat`, `lon`, `country`, `iso3`, `eventname`, `episodeid`,
  `severity` and `severity_unit` (the magnitude and "M" for an earthquake), `fromdate`, `todate` (RFC 3339;
  default now), `polygon` ([[lon, lat], ...]: served as its geometry and linked from the item);
- `PUT /_dev/gdacs/events/{eventtype}/{eventid}/alert` `{"alertlevel": "Red"}`: raises (or lowers) its alert
  level in a new episode (episodeid + 1, todate now);
- `PUT /_dev/usgs/events/{id}` adds or replaces a quake: `mag`, `lat`, `lon`, `depth`, `place`, `time` (RFC 3339
  or epoch ms; default now), `alert` (PAGER), `type` (default earthquake);
  `PUT /_dev/usgs/events/{id}/magnitude` `{"mag": 6.8}` revises its magnitude;
- `PUT /_dev/{feed}/events/.../remove` (or `DELETE /_dev/{feed}/events/...`): the event leaves the feed;
- `PUT /_dev/{feed}/break` `{"mode": "500" | "503" | "slow" | "garbage" | "truncated" | "partial" | "empty" | "ok",
  "seconds": 30, "times": 2}`: the feed answers an error, slowly (`seconds`), an HTML error page with 200, the
  document cut in half, a USGS document missing half its features (its `metadata.count` unchanged), or an empty
  body; for the next `times` requests (default: until `ok`);
- `PUT /_dev/reset` `{"samples": true}`: back to the recorded documents (`false`: empty feeds), no breaks;
- `GET /_dev/state` (the events and breaks), `GET /_dev/stats` (requests per feed), `GET /healthz`.

Run: `python -m services.feeds.dev.feed_server --port 8091`.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web

log = logging.getLogger("feed_dev_server")

SAMPLES = Path(__file__).parent / "samples"
GDACS_SAMPLE = "gdacs_rss.xml"
USGS_SAMPLE = "usgs_4.5_week.geojson"
NS = {"gdacs": "http://www.gdacs.org", "georss": "http://www.georss.org/georss",
      "geo": "http://www.w3.org/2003/01/geo/wgs84_pos#", "dc": "http://purl.org/dc/elements/1.1/",
      "glide": "http://glidenumber.net", "asgard": "http://asgard.jrc.it", "atom": "http://www.w3.org/2005/Atom"}


def _register_prefixes() -> None:
    """ElementTree's prefixes are process-wide: another module (the crisis center's Atom feed, in the same test
    process) may have made Atom the default namespace; the RSS must keep its `atom:` prefix."""
    for prefix, uri in NS.items():
        ET.register_namespace(prefix, uri)


_register_prefixes()
GDACS_ORIGIN = "https://www.gdacs.org"
GDACS_DATE_TAGS = ("pubDate", "gdacs:fromdate", "gdacs:todate", "gdacs:datemodified")
TITLE_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4}) (\d{2}):(\d{2}) UTC")
HAZARDS = {"EQ": "earthquake", "TC": "tropical cyclone", "FL": "flood", "VO": "volcanic eruption",
           "DR": "drought", "WF": "forest fire", "TS": "tsunami"}
MODES = {"500", "503", "slow", "garbage", "truncated", "partial", "empty", "ok"}
GARBAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
           b"<hr><center>nginx</center></body></html>\n")


def _q(name: str) -> str:
    """gdacs:eventid -> {http://www.gdacs.org}eventid (ElementTree's qualified names)."""
    prefix, _, local = name.rpartition(":")
    return f"{{{NS[prefix]}}}{local}" if prefix else name


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _parse_time(value: Any, default: datetime) -> datetime:
    if value is None or value == "":
        return default
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class Break:
    mode: str
    seconds: float = 30.0
    times: int | None = None


class FeedServer:
    def __init__(self, *, samples: bool = True, rebase: bool = True,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.rebase = rebase
        self.requests: dict[str, int] = {"gdacs": 0, "usgs": 0, "geometry": 0}
        self.breaks: dict[str, Break] = {}
        self.reset(samples=samples)

    # ----------------------------------------------------------------------------------------------- the state
    def reset(self, *, samples: bool = True) -> None:
        root = ET.parse(SAMPLES / GDACS_SAMPLE).getroot()  # noqa: S314 - our own recorded sample
        channel = root.find("channel")
        assert channel is not None
        items = channel.findall("item")
        for item in items:
            channel.remove(item)
        self._rss, self._channel = root, channel
        self.gdacs: dict[str, ET.Element] = {}
        usgs = json.loads((SAMPLES / USGS_SAMPLE).read_text())
        self.usgs_metadata: dict[str, Any] = usgs["metadata"]
        self.usgs: dict[str, dict[str, Any]] = {}
        self.geometries: dict[str, dict[str, Any]] = {}
        self.breaks.clear()
        if not samples:
            return
        for item in items:
            self.gdacs[f"{self._text(item, 'gdacs:eventtype')}:{self._text(item, 'gdacs:eventid')}"] = item
        for feature in usgs["features"]:
            self.usgs[feature["id"]] = feature
        for path in SAMPLES.glob("gdacs_geometry_*_*.geojson"):
            _, _, kind, event_id = path.stem.split("_", 3)
            self.geometries[f"{kind}:{event_id}"] = json.loads(path.read_text())
        if self.rebase:
            self._move_to_now()

    def _move_to_now(self) -> None:
        times = [parsedate_to_datetime(self._text(i, tag)) for i in self.gdacs.values() for tag in GDACS_DATE_TAGS
                 if self._text(i, tag)]
        times += [datetime.fromtimestamp(f["properties"][k] / 1000, tz=UTC) for f in self.usgs.values()
                  for k in ("time", "updated")]
        if not times:
            return
        shift = self.clock() - timedelta(minutes=10) - max(times)
        shift = timedelta(seconds=round(shift.total_seconds()))  # whole seconds, as GDACS's dates have
        for item in self.gdacs.values():
            for tag in GDACS_DATE_TAGS:
                if self._text(item, tag):
                    self._set(item, tag, rfc822(parsedate_to_datetime(self._text(item, tag)) + shift))
            for tag in ("title", "description"):
                node = item.find(tag)
                if node is not None and node.text:
                    node.text = TITLE_DATE.sub(lambda m: (datetime(int(m[3]), int(m[2]), int(m[1]), int(m[4]),
                                                                   int(m[5]), tzinfo=UTC) + shift)
                                               .strftime("%d/%m/%Y %H:%M UTC"), node.text)
        for feature in self.usgs.values():
            for key in ("time", "updated"):
                feature["properties"][key] += int(shift.total_seconds() * 1000)

    @staticmethod
    def _text(item: ET.Element, tag: str) -> str:
        node = item.find(_q(tag))
        return (node.text or "").strip() if node is not None else ""

    @staticmethod
    def _set(item: ET.Element, tag: str, value: str) -> None:
        node = item.find(_q(tag))
        if node is None:
            node = ET.SubElement(item, _q(tag))
        node.text = value

    # ------------------------------------------------------------------------------------------ the documents
    def gdacs_document(self, base: str) -> bytes:
        rss = copy.deepcopy(self._rss)
        channel = rss.find("channel")
        assert channel is not None
        self._set(channel, "pubDate", rfc822(self.clock()))
        for item in self.gdacs.values():
            channel.append(copy.deepcopy(item))
        _register_prefixes()
        text = ET.tostring(rss, encoding="unicode")
        text = text.replace(f"{GDACS_ORIGIN}/gdacsapi/api/polygons/getgeometry", f"{base}/gdacs/gdacsapi/api/"
                            "polygons/getgeometry")
        return b'<?xml version="1.0" encoding="utf-8"?>\n' + text.encode()

    def usgs_document(self, *, partial: bool = False) -> bytes:
        features = sorted(self.usgs.values(), key=lambda f: -f["properties"]["time"])
        metadata = {**self.usgs_metadata, "generated": int(self.clock().timestamp() * 1000), "count": len(features)}
        if partial:
            features = features[: len(features) // 2]
        coordinates = [f["geometry"]["coordinates"] for f in features]
        bbox = ([min(c[0] for c in coordinates), min(c[1] for c in coordinates), min(c[2] for c in coordinates),
                 max(c[0] for c in coordinates), max(c[1] for c in coordinates), max(c[2] for c in coordinates)]
                if coordinates else [])
        return json.dumps({"type": "FeatureCollection", "metadata": metadata, "features": features, "bbox": bbox},
                          separators=(",", ":")).encode()

    # -------------------------------------------------------------------------------------------- the changes
    def put_gdacs(self, kind: str, event_id: str, fields: dict[str, Any]) -> ET.Element:
        kind = kind.upper()
        now = self.clock()
        alert = str(fields.get("alertlevel", "Orange")).capitalize()
        lat, lon = float(fields.get("lat", 27.7)), float(fields.get("lon", 85.3))
        country = str(fields.get("country", "Nepal"))
        iso3 = str(fields.get("iso3", "NPL" if country == "Nepal" else ""))
        name = str(fields.get("eventname", ""))
        episode = str(fields.get("episodeid", 1))
        start = _parse_time(fields.get("fromdate"), now)
        end = _parse_time(fields.get("todate"), max(start, now) if kind != "EQ" else start)
        unit = str(fields.get("severity_unit", "M" if kind == "EQ" else ""))
        severity = fields.get("severity", 6.5 if kind == "EQ" else 0)
        hazard = HAZARDS.get(kind, "disaster")
        severity_text = (f"Magnitude {severity}M, Depth:10km" if kind == "EQ" else f"{hazard.capitalize()} {severity}"
                         f" {unit}".strip())
        named = f" {name}" if name else ""
        title = f"{alert} {hazard} alert{named} in {country} {start.strftime('%d/%m/%Y %H:%M UTC')}"
        resources = ""
        if fields.get("polygon"):
            ring = [list(map(float, p)) for p in fields["polygon"]]
            if ring[0] != ring[-1]:
                ring.append(ring[0])
            self.geometries[f"{kind}:{event_id}"] = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                 "properties": {"eventtype": kind, "eventid": int(event_id), "Class": f"Poly_{alert}"}}]}
            resources = (f'<gdacs:resource id="geometry" version="{episode}" source="GDACS" type="application/geo+json"'
                         f' url="{GDACS_ORIGIN}/gdacsapi/api/polygons/getgeometry?eventtype={kind}&amp;eventid='
                         f'{event_id}&amp;episodeid={episode}"><gdacs:title>Event geometry</gdacs:title>'
                         "</gdacs:resource>")
        else:
            self.geometries.pop(f"{kind}:{event_id}", None)
        map_url = (f"{GDACS_ORIGIN}/gdacsapi/api/polygons/getmap?eventtype={kind}&amp;eventid={event_id}"
                   f"&amp;episodeid={episode}")
        score = {"Green": 1, "Orange": 2, "Red": 3}.get(alert, 1)
        xml = f"""<item xmlns:gdacs="{NS['gdacs']}" xmlns:geo="{NS['geo']}" xmlns:georss="{NS['georss']}"
          xmlns:dc="{NS['dc']}"><title>{_escape(title)}</title>
          <description>{_escape(title)}.</description>
          <enclosure type="image/png" length="1" url="{map_url}" />
          <gdacs:temporary>false</gdacs:temporary>
          <link>{GDACS_ORIGIN}/report.aspx?eventtype={kind}&amp;eventid={event_id}</link>
          <pubDate>{rfc822(end)}</pubDate><gdacs:datemodified>{rfc822(now)}</gdacs:datemodified>
          <gdacs:iscurrent>true</gdacs:iscurrent><gdacs:fromdate>{rfc822(start)}</gdacs:fromdate>
          <gdacs:todate>{rfc822(end)}</gdacs:todate><gdacs:durationinweek>0</gdacs:durationinweek>
          <gdacs:year>{start.year}</gdacs:year><dc:subject>{kind}{score}</dc:subject>
          <guid isPermaLink="false">{kind}{event_id}</guid>
          <geo:Point><geo:lat>{lat}</geo:lat><geo:long>{lon}</geo:long></geo:Point>
          <georss:point>{lat} {lon}</georss:point>
          <gdacs:bbox>{lon - 4} {lon + 4} {lat - 4} {lat + 4}</gdacs:bbox>
          <gdacs:version>{episode}</gdacs:version><gdacs:eventtype>{kind}</gdacs:eventtype>
          <gdacs:alertlevel>{alert}</gdacs:alertlevel><gdacs:episodealertlevel>{alert}</gdacs:episodealertlevel>
          <gdacs:eventname>{_escape(name)}</gdacs:eventname><gdacs:eventid>{event_id}</gdacs:eventid>
          <gdacs:episodeid>{episode}</gdacs:episodeid>
          <gdacs:severity unit="{_escape(unit)}" value="{severity}">{_escape(severity_text)}</gdacs:severity>
          <gdacs:population unit="Pop100" value="0">No people within 100km</gdacs:population>
          <gdacs:iso3>{_escape(iso3)}</gdacs:iso3><gdacs:country>{_escape(country)}</gdacs:country>
          <gdacs:resources>{resources}</gdacs:resources></item>"""
        item = ET.fromstring(xml)  # noqa: S314 - built here from escaped values
        self.gdacs[f"{kind}:{event_id}"] = item
        return item

    def raise_gdacs(self, kind: str, event_id: str, alert: str) -> ET.Element:
        item = self.gdacs[f"{kind.upper()}:{event_id}"]
        alert = alert.capitalize()
        episode = str(int(self._text(item, "gdacs:episodeid") or "0") + 1)
        now = rfc822(self.clock())
        for tag, value in (("gdacs:alertlevel", alert), ("gdacs:episodealertlevel", alert),
                           ("gdacs:episodeid", episode), ("gdacs:version", episode), ("gdacs:datemodified", now),
                           ("pubDate", now)):
            self._set(item, tag, value)
        if kind.upper() != "EQ":
            self._set(item, "gdacs:todate", now)
        title = item.find("title")
        if title is not None and title.text:
            title.text = re.sub(r"^(Green|Orange|Red)", alert, title.text)
        resources = item.find(_q("gdacs:resources"))
        for resource in resources if resources is not None else []:
            url = resource.get("url", "")
            resource.set("url", re.sub(r"episodeid=\d+", f"episodeid={episode}", url))
        return item

    def put_usgs(self, event_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        when = _parse_time(fields.get("time"), now)
        mag = float(fields.get("mag", 6.5))
        place = str(fields.get("place", "12 km NNE of Kathmandu, Nepal"))
        net = re.match(r"^[a-z]+", event_id)
        feature = {"type": "Feature", "properties": {
            "mag": mag, "place": place, "time": int(when.timestamp() * 1000), "updated": int(now.timestamp() * 1000),
            "tz": None, "url": f"https://earthquake.usgs.gov/earthquakes/eventpage/{event_id}",
            "detail": f"https://earthquake.usgs.gov/earthquakes/feed/v1.0/detail/{event_id}.geojson", "felt": None,
            "cdi": None, "mmi": None, "alert": fields.get("alert"), "status": "automatic", "tsunami": 0,
            "sig": int(mag * 100), "net": net[0] if net else "us", "code": event_id[len(net[0]) if net else 0:],
            "ids": f",{event_id},", "sources": f",{net[0] if net else 'us'},", "types": ",origin,phase-data,",
            "nst": None, "dmin": None, "rms": 0.8, "gap": 40, "magType": "mww",
            "type": str(fields.get("type", "earthquake")), "title": f"M {mag:.1f} - {place}"},
            "geometry": {"type": "Point", "coordinates": [float(fields.get("lon", 85.33)),
                                                          float(fields.get("lat", 27.79)),
                                                          float(fields.get("depth", 10.0))]},
            "id": event_id}
        self.usgs[event_id] = feature
        return feature

    def revise_usgs(self, event_id: str, mag: float) -> dict[str, Any]:
        feature = self.usgs[event_id]
        properties = feature["properties"]
        properties["mag"] = mag
        properties["updated"] = int(self.clock().timestamp() * 1000)
        properties["title"] = f"M {mag:.1f} - {properties['place']}"
        return feature

    def state(self) -> dict[str, Any]:
        return {
            "gdacs": [{"eventtype": self._text(i, "gdacs:eventtype"), "eventid": self._text(i, "gdacs:eventid"),
                       "episodeid": self._text(i, "gdacs:episodeid"), "alertlevel": self._text(i, "gdacs:alertlevel"),
                       "country": self._text(i, "gdacs:country"), "title": (i.findtext("title") or "")}
                      for i in self.gdacs.values()],
            "usgs": [{"id": f["id"], "mag": f["properties"]["mag"], "place": f["properties"]["place"],
                      "time": f["properties"]["time"]} for f in self.usgs.values()],
            "breaks": {feed: b.__dict__ for feed, b in self.breaks.items()},
        }

    # -------------------------------------------------------------------------------------------------- HTTP
    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/gdacs/rss.xml", self.serve_gdacs)
        app.router.add_get("/gdacs/gdacsapi/api/polygons/getgeometry", self.serve_geometry)
        app.router.add_get("/usgs/{name}.geojson", self.serve_usgs)
        app.router.add_put("/_dev/gdacs/events/{kind}/{event_id}", self.dev_put_gdacs)
        app.router.add_put("/_dev/gdacs/events/{kind}/{event_id}/alert", self.dev_raise_gdacs)
        app.router.add_put("/_dev/gdacs/events/{kind}/{event_id}/remove", self.dev_remove_gdacs)
        app.router.add_delete("/_dev/gdacs/events/{kind}/{event_id}", self.dev_remove_gdacs)
        app.router.add_put("/_dev/usgs/events/{event_id}", self.dev_put_usgs)
        app.router.add_put("/_dev/usgs/events/{event_id}/magnitude", self.dev_revise_usgs)
        app.router.add_put("/_dev/usgs/events/{event_id}/remove", self.dev_remove_usgs)
        app.router.add_delete("/_dev/usgs/events/{event_id}", self.dev_remove_usgs)
        app.router.add_put("/_dev/{feed}/break", self.dev_break)
        app.router.add_put("/_dev/reset", self.dev_reset)
        app.router.add_get("/_dev/state", self.dev_state)
        app.router.add_get("/_dev/stats", self.dev_stats)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def _serve(self, feed: str, document: Callable[[bool], bytes], content_type: str) -> web.StreamResponse:
        self.requests[feed] += 1
        brk = self.breaks.get(feed)
        mode = "ok"
        if brk is not None:
            mode = brk.mode
            if brk.times is not None:
                brk.times -= 1
                if brk.times <= 0:
                    del self.breaks[feed]
        if mode in ("500", "503"):
            return web.Response(status=int(mode), text=f"<html><body><h1>{mode} Server Error</h1></body></html>",
                                content_type="text/html")
        if mode == "slow":
            await asyncio.sleep(brk.seconds if brk is not None else 30.0)
        if mode == "garbage":
            return web.Response(body=GARBAGE, content_type=content_type)
        if mode == "empty":
            return web.Response(body=b"", content_type=content_type)
        body = document(mode == "partial")
        if mode == "truncated" or (mode == "partial" and feed == "gdacs"):
            body = body[: len(body) // 2]
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    async def serve_gdacs(self, request: web.Request) -> web.StreamResponse:
        base = f"{request.scheme}://{request.host}"
        return await self._serve("gdacs", lambda _partial: self.gdacs_document(base), "application/rss+xml")

    async def serve_usgs(self, _request: web.Request) -> web.StreamResponse:
        return await self._serve("usgs", lambda partial: self.usgs_document(partial=partial), "application/geo+json")

    async def serve_geometry(self, request: web.Request) -> web.Response:
        self.requests["geometry"] += 1
        key = f"{request.query.get('eventtype', '').upper()}:{request.query.get('eventid', '')}"
        geometry = self.geometries.get(key)
        if geometry is None or key not in self.gdacs:
            return web.json_response({"error": "no geometry for this event"}, status=404)
        return web.json_response(geometry, content_type="application/geo+json")

    async def dev_put_gdacs(self, request: web.Request) -> web.Response:
        fields = await _body(request)
        item = self.put_gdacs(request.match_info["kind"], request.match_info["event_id"], fields)
        return web.json_response({"eventid": request.match_info["event_id"],
                                  "episodeid": self._text(item, "gdacs:episodeid")})

    async def dev_raise_gdacs(self, request: web.Request) -> web.Response:
        fields = await _body(request)
        try:
            item = self.raise_gdacs(request.match_info["kind"], request.match_info["event_id"],
                                    str(fields.get("alertlevel", "Red")))
        except KeyError:
            return web.json_response({"error": "no such event"}, status=404)
        return web.json_response({"episodeid": self._text(item, "gdacs:episodeid"),
                                  "alertlevel": self._text(item, "gdacs:alertlevel")})

    async def dev_remove_gdacs(self, request: web.Request) -> web.Response:
        removed = self.gdacs.pop(f"{request.match_info['kind'].upper()}:{request.match_info['event_id']}", None)
        return web.json_response({"removed": removed is not None}, status=200 if removed is not None else 404)

    async def dev_put_usgs(self, request: web.Request) -> web.Response:
        feature = self.put_usgs(request.match_info["event_id"], await _body(request))
        return web.json_response(feature)

    async def dev_revise_usgs(self, request: web.Request) -> web.Response:
        fields = await _body(request)
        try:
            feature = self.revise_usgs(request.match_info["event_id"], float(fields["mag"]))
        except KeyError:
            return web.json_response({"error": "no such event, or no mag"}, status=404)
        return web.json_response(feature)

    async def dev_remove_usgs(self, request: web.Request) -> web.Response:
        removed = self.usgs.pop(request.match_info["event_id"], None)
        return web.json_response({"removed": removed is not None}, status=200 if removed is not None else 404)

    async def dev_break(self, request: web.Request) -> web.Response:
        feed = request.match_info["feed"]
        fields = await _body(request)
        mode = str(fields.get("mode", "500"))
        if feed not in ("gdacs", "usgs") or mode not in MODES:
            return web.json_response({"error": f"feed gdacs or usgs, mode one of {sorted(MODES)}"}, status=400)
        if mode == "ok":
            self.breaks.pop(feed, None)
        else:
            times = fields.get("times")
            self.breaks[feed] = Break(mode, float(fields.get("seconds", 30.0)), int(times) if times else None)
        return web.json_response({"feed": feed, "mode": mode})

    async def dev_reset(self, request: web.Request) -> web.Response:
        fields = await _body(request)
        self.reset(samples=bool(fields.get("samples", True)))
        return web.json_response(self.state())

    async def dev_state(self, _request: web.Request) -> web.Response:
        return web.json_response(self.state())

    async def dev_stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self.requests)

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="a JSON object, please") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object, please")
    return body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--empty", action="store_true", help="start with empty feeds (no recorded events)")
    parser.add_argument("--as-recorded", action="store_true", help="keep the recorded times (not moved to now)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    server = FeedServer(samples=not args.empty, rebase=not args.as_recorded)
    print(f"feed dev server on http://{args.host}:{args.port} (GDACS /gdacs/rss.xml, USGS /usgs/4.5_week.geojson;"
          f" GET /_dev/state)", flush=True)
    web.run_app(server.build_app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
