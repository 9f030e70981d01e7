// The world map, drawn offline from Natural Earth (world-atlas, 1:50m) with d3-geo and topojson-client
// (loaded as classic scripts: window.d3, window.topojson). Each crisis's area is drawn as a circle, a polygon
// or its whole country, with the affected count at its centre, and the affected travellers' rounded positions
// (GET /v1/crises/{id}/people/map for the current zoom and view) as dots, merged into one larger dot per few
// pixels when they crowd; beyond a few thousand people the server sends grid clusters instead, drawn as bubbles
// labelled with their count ("20k"). A dot is coloured by the person's welfare once they were asked (a group or a
// cluster by the most urgent welfare in it). The wheel zooms around the pointer, a drag pans; selecting a crisis
// fits the view to its area. In draw mode (startDrawing) a click without a drag adds a corner of an area (the
// broadcast composer's drawn audience), drawn above everything; the map is then also a keyboard control (focusable,
// role "application", a cross at the view's centre while it has focus): the arrows pan, + and - zoom, Enter or Space
// adds the centre as a corner, Backspace or Delete removes the last one, Escape cancels. WorldMap.of(svg) finds the
// map of an SVG.
import { language, t } from "./i18n.js";
import { ISO_NUMERIC, BY_NAME } from "./iso-numeric.js";
import { WELFARE } from "./welfare.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 800;
const HEIGHT = 460;
const KM_PER_DEGREE = 111.32;
const CLUSTER_PX = 7; // positions closer than this on screen are drawn as one dot sized by their number
const MAX_ZOOM_FACTOR = 4096; // how far the wheel zooms in from the fitted view
const TEXT_EM = 0.62; // a conservative width of a digit or letter of the labels, in em (bold sans-serif)
const MAPS = new WeakMap(); // svg -> its WorldMap
const KEY_PAN = 0.1; // an arrow key moves the view by a tenth of its width or height
const KEY_ZOOM = 2; // + and - zoom by one web-map zoom level around the centre
const PAN_KEYS = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }; // content moves
const ZOOM_KEYS = { "+": KEY_ZOOM, "=": KEY_ZOOM, Add: KEY_ZOOM, "-": 1 / KEY_ZOOM, _: 1 / KEY_ZOOM, Subtract: 1 / KEY_ZOOM };

/** A count short enough for a bubble: 950, 1.2k, 20k, 100k, 1.5M, the same in every language (Intl's compact
 * notation writes 20.000 in German) but with the language's decimal separator. */
export function compactCount(value) {
  const n = Math.max(0, Math.round(Number(value) || 0));
  const decimal = (v, digits) => new Intl.NumberFormat(language(), { maximumFractionDigits: digits }).format(v);
  if (n < 1000) return String(n);
  if (n < 999_500) return `${decimal(n / 1000, n < 9950 ? 1 : 0)}k`;
  return `${decimal(n / 1_000_000, n < 9_950_000 ? 1 : 0)}M`;
}

/** A bubble that holds its label: the radius from the count, widened (and the font narrowed) until the text fits. */
function bubble(label, minRadius, maxFont) {
  const font = maxFont;
  const half = (label.length * TEXT_EM * font) / 2 + 3;
  return { r: Math.max(minRadius, half, font * 0.75 + 2), font };
}

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
    this.people = new Map(); // crisis_id -> {kind: "points"|"clusters", points, clusters, total}
    this.view = { k: 1, x: 0, y: 0 }; // the user's zoom and pan on top of the fitted projection
    this.onViewChange = null; // called after the view changed (zoom, pan, zoomTo)
    this.frame = 0;
    this.drawing = null; // {corners: [[lon, lat]], active, within (a feature or null), onChange(corners, refused), onCancel}
    this.idle = null; // the SVG's role and name outside draw mode, put back by stopDrawing
    MAPS.set(svg, this);
    this.bindGestures();
    this.svg.setAttribute("data-zoom", String(this.zoomLevel()));
  }

  /** The WorldMap drawn in an SVG element, or null. */
  static of(svg) { return (svg && MAPS.get(svg)) || null; }

  /** Draw mode: each click (not a drag) or Enter/Space on the focused map (its centre) adds a corner [lon, lat]
   * (rounded to 1e-5 degrees) inside `area` (a crisis area as the API gives it; a whole country is not checked here)
   * and calls onChange(corners); a point outside calls onChange(corners, true). Backspace/Delete removes the last
   * corner (onChange(corners)), Escape calls onCancel(). Starts from `corners`. While drawing, the SVG is in the tab
   * order as an "application" (screen readers pass the keys through) named by the message `labelKey` and described
   * by the element `describedBy` (the instructions). The cross at the centre shows while the map or one of
   * `crossWith` (controls adding the centre, which call redraw on focus and blur) has the focus. */
  startDrawing(corners, { area = null, onChange = () => {}, onCancel = () => {}, labelKey = null, describedBy = null,
    crossWith = [] } = {}) {
    const feature = area && (area.circle || area.polygon) ? this.areaFeature(area) : null;
    this.drawing = { corners: corners.map(([lon, lat]) => [lon, lat]), active: true, within: feature, onChange, onCancel,
      crossWith };
    const svg = this.svg;
    if (!this.idle) {
      this.idle = Object.fromEntries(["role", "aria-labelledby", "aria-describedby", "aria-label", "tabindex"]
        .map((name) => [name, svg.getAttribute(name)]));
    }
    svg.setAttribute("data-drawing", "true");
    svg.setAttribute("tabindex", "0");
    svg.setAttribute("role", "application");
    if (labelKey) {
      svg.removeAttribute("aria-labelledby");
      svg.setAttribute("aria-label", t(labelKey));
      svg.setAttribute("data-i18n-aria-label", labelKey); // follows the language
    }
    if (describedBy) svg.setAttribute("aria-describedby", describedBy);
    if (svg.style) svg.style.cursor = "crosshair";
    this.redraw(false);
  }

  /** Replace the corners drawn (still in draw mode if it was). */
  setCorners(corners) {
    if (!this.drawing) return;
    this.drawing.corners = corners.map(([lon, lat]) => [lon, lat]);
    this.redraw(false);
  }

  /** Leave draw mode, still showing `corners` (null or empty: nothing drawn). */
  stopDrawing(corners = null) {
    this.drawing = corners?.length ? { corners: corners.map(([lon, lat]) => [lon, lat]), active: false, within: null,
      onChange: () => {} } : null;
    const svg = this.svg;
    svg.removeAttribute("data-drawing");
    svg.removeAttribute("data-i18n-aria-label");
    if (this.idle) {
      for (const [name, value] of Object.entries(this.idle)) {
        if (value === null) svg.removeAttribute(name); else svg.setAttribute(name, value);
      }
      this.idle = null;
    }
    if (svg.style) svg.style.cursor = "";
    this.redraw(false);
  }

  /** A corner at a point of the view box (a click) or, by default, at the view's centre (the keyboard, the draw
   * bar's button); refused (onChange(corners, true)) outside the crisis area or off the globe. */
  addCorner(xy = [WIDTH / 2, HEIGHT / 2]) {
    const drawing = this.drawing;
    if (!drawing?.active) return;
    const position = this.projection().invert(xy);
    if (!position || !Number.isFinite(position[0]) || !Number.isFinite(position[1])) {
      drawing.onChange(drawing.corners.map(([lon, lat]) => [lon, lat]), true);
      return;
    }
    const corner = [Math.round(position[0] * 1e5) / 1e5, Math.round(position[1] * 1e5) / 1e5];
    if (drawing.within && !window.d3.geoContains(drawing.within, corner)) { drawing.onChange(drawing.corners, true); return; }
    drawing.corners.push(corner);
    drawing.onChange(drawing.corners.map(([lon, lat]) => [lon, lat]), false);
    this.redraw(false);
  }

  /** Remove the last corner drawn (nothing when there is none). */
  removeLastCorner() {
    const drawing = this.drawing;
    if (!drawing?.active) return;
    drawing.corners.pop();
    drawing.onChange(drawing.corners.map(([lon, lat]) => [lon, lat]), false);
    this.redraw(false);
  }

  /** The keys of draw mode on the focused map; true when the key was one of them (its default then prevented). */
  drawKey(event) {
    if (!this.drawing?.active || event.ctrlKey || event.altKey || event.metaKey) return false;
    const { key } = event;
    if (PAN_KEYS[key]) {
      const [dx, dy] = PAN_KEYS[key];
      this.view = { ...this.view, x: this.view.x + dx * WIDTH * KEY_PAN, y: this.view.y + dy * HEIGHT * KEY_PAN };
      this.redraw(true);
    } else if (ZOOM_KEYS[key]) {
      this.zoomBy(ZOOM_KEYS[key]);
    } else if (key === "Enter" || key === " " || key === "Spacebar") {
      if (!event.repeat) this.addCorner(); // held down: one corner, not one per repeat
    } else if (key === "Backspace" || key === "Delete") {
      this.removeLastCorner();
    } else if (key === "Escape" || key === "Esc") {
      this.drawing.onCancel();
    } else {
      return false;
    }
    return true;
  }

  /** The affected travellers of one crisis: a people layer ({kind, points, clusters, total}), a list of points,
   * or null (none drawn). */
  setPeople(crisisId, layer) {
    const normalised = Array.isArray(layer) ? { kind: "points", points: layer, clusters: [], total: layer.length } : layer;
    if (normalised && normalised.total > 0) this.people.set(crisisId, normalised);
    else this.people.delete(crisisId);
  }

  /** The web-map zoom level of the current view (the world 256 * 2^zoom pixels wide), from the projection's
   * pixels per degree of longitude at the centre of the view: the server's clusters are then ~32 pixels wide. */
  zoomLevel() {
    const projection = this.projection();
    const centre = projection.invert([WIDTH / 2, HEIGHT / 2]);
    if (!centre || !Number.isFinite(centre[0])) return 1;
    const [lon, lat] = centre;
    const a = projection([lon - 0.05, lat]);
    const b = projection([lon + 0.05, lat]);
    const perDegree = Math.hypot(b[0] - a[0], b[1] - a[1]) / 0.1;
    if (!Number.isFinite(perDegree) || perDegree <= 0) return 1;
    return Math.max(0, Math.min(20, Math.round(Math.log2((perDegree * 360) / 256))));
  }

  /** The view's box in degrees ({west, south, east, north}), or null when the view shows the whole world, the
   * edge of the globe or the antimeridian (the server then sends the whole area). */
  bounds() {
    if (!this.focus && this.view.k <= 1.01) return null;
    const projection = this.projection();
    const lons = [];
    const lats = [];
    for (let i = 0; i <= 8; i += 1) {
      for (const [x, y] of [[(WIDTH * i) / 8, 0], [(WIDTH * i) / 8, HEIGHT], [0, (HEIGHT * i) / 8], [WIDTH, (HEIGHT * i) / 8]]) {
        const position = projection.invert([x, y]);
        if (!position || !Number.isFinite(position[0]) || !Number.isFinite(position[1])) return null;
        const back = projection(position); // outside the globe, invert answers a point that does not project back
        if (!back || Math.abs(back[0] - x) > 1 || Math.abs(back[1] - y) > 1) return null;
        lons.push(position[0]); lats.push(position[1]);
      }
    }
    const west = Math.min(...lons);
    const east = Math.max(...lons);
    if (east - west > 180) return null;
    const round = (v) => Math.round(v * 1e4) / 1e4;
    return { west: round(west), south: round(Math.max(-90, Math.min(...lats))), east: round(east),
      north: round(Math.min(90, Math.max(...lats))) };
  }

  /** Wheel: zoom around the pointer; drag: pan. Drawn at the next frame; onViewChange says the view moved. */
  bindGestures() {
    const svg = this.svg;
    if (!svg?.addEventListener) return;
    const toViewBox = (event) => {
      const box = svg.getBoundingClientRect();
      return [((event.clientX - box.left) * WIDTH) / box.width, ((event.clientY - box.top) * HEIGHT) / box.height];
    };
    svg.addEventListener("wheel", (event) => {
      event.preventDefault();
      const factor = Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.002));
      this.zoomBy(factor, toViewBox(event));
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { from: toViewBox(event), x: this.view.x, y: this.view.y, moved: false };
      svg.setPointerCapture?.(event.pointerId);
    });
    svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const [x, y] = toViewBox(event);
      const [dx, dy] = [x - drag.from[0], y - drag.from[1]];
      if (!drag.moved && Math.hypot(dx, dy) < 3) return;
      drag.moved = true;
      this.view = { ...this.view, x: drag.x + dx, y: drag.y + dy };
      this.redraw(false);
    });
    const end = (event) => {
      if (drag?.moved) this.viewChanged();
      else if (drag && event.type === "pointerup" && this.drawing?.active) this.addCorner(toViewBox(event));
      drag = null;
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("keydown", (event) => { if (this.drawKey(event)) event.preventDefault(); });
    const refocus = () => { if (this.drawing?.active) this.redraw(false); }; // the cross follows the focus
    svg.addEventListener("focus", refocus);
    svg.addEventListener("blur", refocus);
  }

  /** Zoom by a factor around a point of the view box (the centre by default). */
  zoomBy(factor, [cx, cy] = [WIDTH / 2, HEIGHT / 2]) {
    const k = Math.max(1, Math.min(MAX_ZOOM_FACTOR, this.view.k * factor));
    const f = k / this.view.k;
    if (f === 1) return;
    this.view = { k, x: cx - f * (cx - this.view.x), y: cy - f * (cy - this.view.y) };
    this.redraw(true);
  }

  redraw(changed) {
    if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render(this.crises, this.selected);
      });
    }
    if (changed) this.viewChanged();
  }

  viewChanged() {
    const zoom = this.zoomLevel();
    this.svg.setAttribute("data-zoom", String(zoom)); // the zoom the people layer is asked for
    this.onViewChange?.({ zoom, bounds: this.bounds() });
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

  /** Fit the view to one crisis's area, a circle or a polygon or its country (null: the whole world). */
  zoomTo(crisis) {
    this.focus = crisis ? this.areaFeature(crisis.area) : null;
    this.view = { k: 1, x: 0, y: 0 };
    this.render(this.crises, this.selected);
    this.viewChanged();
  }

  /** The fitted projection (the world, or the focused area with a margin) moved by the user's zoom and pan. */
  projection() {
    const projection = window.d3.geoNaturalEarth1();
    if (!this.focus) projection.fitExtent([[6, 6], [WIDTH - 6, HEIGHT - 6]], { type: "Sphere" });
    else projection.fitExtent([[40, 40], [WIDTH - 40, HEIGHT - 40]], this.focus);
    const { k, x, y } = this.view;
    if (k === 1 && x === 0 && y === 0) return projection;
    const [tx, ty] = projection.translate();
    return projection.scale(projection.scale() * k).translate([tx * k + x, ty * k + y]);
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
      const layer = crisis.status === "active" ? this.people.get(crisis.crisis_id) : null;
      if (layer?.kind === "clusters") {
        this.drawClusters(el("g", {
          class: "people-of", "data-crisis-id": crisis.crisis_id, "data-people": layer.total, "data-kind": "clusters",
          "data-zoom": layer.zoom ?? "",
        }, people), layer.clusters, projection);
      } else if (layer) {
        const points = layer.points;
        const group = el("g", {
          class: "people-of", "data-crisis-id": crisis.crisis_id, "data-people": points.length, "data-kind": "points",
          "data-zoom": layer.zoom ?? "",
        }, people);
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
      const group = el("g", { class: "count", "data-crisis-id": crisis.crisis_id, "data-count": crisis.affected_count,
        transform: `translate(${centre[0].toFixed(1)},${centre[1].toFixed(1)})` }, labels);
      const label = compactCount(crisis.affected_count);
      const { r, font } = bubble(label, crisis.crisis_id === selectedId ? 17 : 14, 12);
      el("circle", { r: r.toFixed(1) }, group);
      el("text", { "text-anchor": "middle", dy: "0.35em", "font-size": font }, group).textContent = label;
      el("title", {}, group).textContent = `${crisis.title} — ${crisis.affected_count}`;
    }
    if (this.drawing) this.drawCorners(projection);
    if (this.drawing?.active && this.hasFocus()) this.drawCrosshair();
  }

  hasFocus() {
    const focused = typeof document !== "undefined" ? document.activeElement : null;
    return Boolean(focused) && (focused === this.svg || Boolean(this.drawing?.crossWith?.includes(focused)));
  }

  /** The cross at the view's centre, where Enter adds a corner: dark on a white halo (visible on land and sea). */
  drawCrosshair() {
    const [x, y] = [WIDTH / 2, HEIGHT / 2];
    const group = el("g", { class: "draw-crosshair", "pointer-events": "none", "aria-hidden": "true" }, this.svg);
    const d = `M${x - 16},${y}H${x - 5}M${x + 5},${y}H${x + 16}M${x},${y - 16}V${y - 5}M${x},${y + 5}V${y + 16}`;
    el("path", { d, stroke: "#ffffff", "stroke-width": "5", "stroke-linecap": "round", fill: "none" }, group);
    el("path", { d, stroke: "#111827", "stroke-width": "2", "stroke-linecap": "round", fill: "none" }, group);
    el("circle", { cx: x, cy: y, r: "2.5", fill: "#111827", stroke: "#ffffff", "stroke-width": "1.5" }, group);
  }

  /** The area being drawn (or drawn): its outline and corners, above everything, styled by attributes. */
  drawCorners(projection) {
    const { corners, active } = this.drawing;
    const group = el("g", { class: "drawn-area", "data-corners": corners.length, "data-active": String(active),
      "pointer-events": "none" }, this.svg);
    const points = corners.map((c) => projection(c)).filter((xy) => xy && Number.isFinite(xy[0]) && Number.isFinite(xy[1]));
    const list = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
    if (points.length >= 2) {
      el(points.length >= 3 ? "polygon" : "polyline", { points: list, fill: points.length >= 3 ? "#1d4ed8" : "none",
        "fill-opacity": "0.18", stroke: "#1d4ed8", "stroke-width": "2", "stroke-dasharray": active ? "5 3" : "none",
        "stroke-linejoin": "round" }, group);
    }
    for (const [x, y] of points) {
      el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: "4", fill: "#ffffff", stroke: "#1d4ed8", "stroke-width": "2",
        class: "drawn-corner" }, group);
    }
  }

  /** The server's clusters as bubbles: area growing with the count, labelled with it when more than one. */
  drawClusters(group, clusters, projection) {
    const largest = Math.max(1, ...clusters.map((c) => c.count));
    for (const cluster of clusters) {
      const xy = projection([Number(cluster.lon), Number(cluster.lat)]);
      if (!xy || !Number.isFinite(xy[0]) || !Number.isFinite(xy[1])) continue;
      const source = cluster.reports * 2 > cluster.count ? "report" : "registration";
      const item = el("g", {
        class: "cluster", transform: `translate(${xy[0].toFixed(1)},${xy[1].toFixed(1)})`, "data-count": cluster.count,
      }, group);
      if (cluster.welfare) item.setAttribute("data-welfare", cluster.welfare);
      const classes = `person person-${source}${cluster.welfare ? ` welfare-${cluster.welfare}` : ""}`;
      if (cluster.count === 1) { el("circle", { r: 2.6, class: classes }, item); continue; }
      const label = compactCount(cluster.count);
      const grown = 5 + 9 * Math.sqrt(cluster.count / largest); // 5 to 14: cells are ~32 pixels apart
      const { r, font } = bubble(label, grown, 10);
      el("circle", { r: r.toFixed(1), class: classes }, item);
      el("text", { "text-anchor": "middle", dy: "0.35em", "font-size": font }, item).textContent = label;
      el("title", {}, item).textContent = String(cluster.count);
    }
  }
}
