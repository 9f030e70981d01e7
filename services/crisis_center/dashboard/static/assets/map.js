// The world map, drawn offline from Natural Earth (world-atlas, 1:50m) with d3-geo and topojson-client
// (loaded as classic scripts: window.d3, window.topojson). Each crisis's area is drawn as a circle, a polygon
// or its whole country, with the affected count at its centre, and the affected travellers' rounded positions
// (GET /v1/crises/{id}/people) as dots, merged into one larger dot per few pixels when they crowd. A dot is
// coloured by the person's welfare once they were asked (a group of dots by the most urgent welfare in it).
import { ISO_NUMERIC, BY_NAME } from "./iso-numeric.js";
import { WELFARE } from "./welfare.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 460;
const KM_PER_DEGREE = 111.32;
const CLUSTER_PX = 7; // positions closer than this on screen are drawn as one dot sized by their number

function el(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function closedRing(points) {
  const ring = points.map(([lon, lat]) => [Number(lon), Number(lat)]);
  const [first, last] = [ring[0], ring[ring.length - 1]];
  if (first[0] !== last[0] || first[1] !== last[1]) ring.push([...first]);
  return ring;
}

export async function loadWorld(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`world map: HTTP ${response.status}`);
  const topology = await response.json();
  return window.topojson.feature(topology, topology.objects.countries).features;
}

export class WorldMap {
  constructor(svg, countries) {
    this.svg = svg;
    this.countries = countries;
    this.byId = new Map(countries.filter((c) => c.id).map((c) => [String(c.id), c]));
    this.byName = new Map(countries.map((c) => [c.properties?.name, c]));
    this.focus = null;
    this.crises = [];
    this.selected = null;
    this.people = new Map(); // crisis_id -> [{lat, lon, source, welfare}]
  }

  /** The affected travellers' positions of one crisis (an empty list or null: none drawn). */
  setPeople(crisisId, points) {
    if (points && points.length) this.people.set(crisisId, points);
    else this.people.delete(crisisId);
  }

  /** Positions grouped by screen cell: [{x, y, count, reports, welfare}], the mean position of each cell and its
   * most urgent welfare (null: nobody in it was asked). */
  static clusters(points, projection) {
    const cells = new Map();
    for (const point of points) {
      const xy = projection([Number(point.lon), Number(point.lat)]);
      if (!xy || !Number.isFinite(xy[0]) || !Number.isFinite(xy[1])) continue;
      const key = `${Math.floor(xy[0] / CLUSTER_PX)},${Math.floor(xy[1] / CLUSTER_PX)}`;
      const cell = cells.get(key) || { x: 0, y: 0, count: 0, reports: 0, welfare: null };
      cell.x += xy[0]; cell.y += xy[1]; cell.count += 1;
      if (point.source === "report") cell.reports += 1;
      const rank = WELFARE.indexOf(point.welfare);
      if (rank >= 0 && (cell.welfare === null || rank < WELFARE.indexOf(cell.welfare))) cell.welfare = point.welfare;
      cells.set(key, cell);
    }
    return [...cells.values()].map((c) => ({ ...c, x: c.x / c.count, y: c.y / c.count }));
  }

  countryFeature(alpha2) {
    const code = String(alpha2 || "").toUpperCase();
    return (ISO_NUMERIC[code] && this.byId.get(ISO_NUMERIC[code])) || this.byName.get(BY_NAME[code]) || null;
  }

  /** The area of a crisis as a GeoJSON feature (d3 winding: clockwise exterior rings), or null. */
  areaFeature(area) {
    if (!area) return null;
    if (area.circle) {
      const { lat, lon, radius_km: radius } = area.circle;
      const geometry = window.d3.geoCircle().center([Number(lon), Number(lat)]).radius(Number(radius) / KM_PER_DEGREE)();
      return { type: "Feature", properties: { shape: "circle" }, geometry };
    }
    if (Array.isArray(area.polygon) && area.polygon.length >= 3) {
      let ring = closedRing(area.polygon);
      let feature = { type: "Feature", properties: { shape: "polygon" }, geometry: { type: "Polygon", coordinates: [ring] } };
      if (window.d3.geoArea(feature) > 2 * Math.PI) { // counter-clockwise in d3's sense: the rest of the world
        ring = ring.slice().reverse();
        feature = { ...feature, geometry: { type: "Polygon", coordinates: [ring] } };
      }
      return feature;
    }
    const country = this.countryFeature(area.country);
    return country ? { type: "Feature", properties: { shape: "country" }, geometry: country.geometry } : null;
  }

  /** Zoom on one crisis's area (null: the whole world). */
  zoomTo(crisis) {
    this.focus = crisis ? this.areaFeature(crisis.area) : null;
    this.render(this.crises, this.selected);
  }

  projection() {
    const projection = window.d3.geoNaturalEarth1();
    if (!this.focus) return projection.fitExtent([[6, 6], [WIDTH - 6, HEIGHT - 6]], { type: "Sphere" });
    // Frame the area with its surroundings: at least ~5 degrees around its centre, so a small circle is placed.
    const [lon, lat] = window.d3.geoCentroid(this.focus);
    const context = window.d3.geoCircle().center([lon, lat]).radius(5)();
    const frame = { type: "GeometryCollection", geometries: [this.focus.geometry, context] };
    return projection.fitExtent([[30, 30], [WIDTH - 30, HEIGHT - 30]], frame);
  }

  render(crises, selectedId = null) {
    this.crises = crises;
    this.selected = selectedId;
    const d3 = window.d3;
    const projection = this.projection();
    const path = d3.geoPath(projection);
    const svg = this.svg;
    const desc = svg.querySelector("desc");
    svg.replaceChildren(desc);
    el("path", { d: path({ type: "Sphere" }), class: "ocean" }, svg);
    el("path", { d: path(d3.geoGraticule10()), class: "graticule" }, svg);
    const land = el("g", { class: "countries" }, svg);
    const hit = new Set(crises.filter((c) => c.status === "active").map((c) => String(c.area?.country || "").toUpperCase()));
    for (const country of this.countries) {
      const affected = [...hit].some((code) => this.countryFeature(code) === country);
      el("path", { d: path(country) || "", class: affected ? "country affected-country" : "country" }, land);
    }
    const areas = el("g", { class: "areas" }, svg);
    const people = el("g", { class: "people" }, svg);
    const labels = el("g", { class: "labels" }, svg);
    for (const crisis of crises) {
      const feature = this.areaFeature(crisis.area);
      if (!feature) continue;
      const points = crisis.status === "active" ? this.people.get(crisis.crisis_id) : null;
      if (points) {
        const group = el("g", { class: "people-of", "data-crisis-id": crisis.crisis_id, "data-people": points.length }, people);
        for (const cell of WorldMap.clusters(points, projection)) {
          const source = cell.reports * 2 > cell.count ? "report" : "registration";
          const circle = el("circle", {
            cx: cell.x.toFixed(1), cy: cell.y.toFixed(1), r: (cell.count === 1 ? 2.2 : Math.min(11, 2.2 + 1.4 * Math.sqrt(cell.count))).toFixed(1),
            class: `person person-${source}${cell.welfare ? ` welfare-${cell.welfare}` : ""}`, "data-count": cell.count,
          }, group);
          if (cell.welfare) circle.setAttribute("data-welfare", cell.welfare);
        }
      }
      const classes = ["area", `area-${crisis.status}`, crisis.crisis_id === selectedId ? "selected" : ""].join(" ").trim();
      const shape = el("path", {
        d: path(feature) || "", class: classes, "data-crisis-id": crisis.crisis_id, "data-shape": feature.properties.shape,
      }, areas);
      el("title", {}, shape).textContent = `${crisis.title} — ${crisis.affected_count}`;
      // The count sits on a large area, beside a small one (so the circle itself stays visible).
      const [[x0, y0], [x1, y1]] = path.bounds(feature);
      const small = x1 - x0 < 60 && y1 - y0 < 60;
      const centre = small ? [x1 + 12, y0 - 8] : path.centroid(feature);
      if (!Number.isFinite(centre[0])) continue;
      const group = el("g", { class: "count", "data-crisis-id": crisis.crisis_id, transform: `translate(${centre[0].toFixed(1)},${centre[1].toFixed(1)})` }, labels);
      el("circle", { r: crisis.crisis_id === selectedId ? 17 : 14 }, group);
      el("text", { "text-anchor": "middle", dy: "0.35em" }, group).textContent = String(crisis.affected_count);
    }
  }
}
