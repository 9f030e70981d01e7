// The coordinators' dashboard: crises live from GET /v1/crises/events (server-sent events), the map, delivery
// progress (through /dashboard/api/notifications), the welfare of the people (welfare.js), the follow-up messages and
// the all-clear under the two-person rule (broadcasts.js), the audit trail, and the coordinators' actions.
import "./welfare-messages.js";
import "./watch-messages.js";
import "./broadcasts-messages.js";
import "./exercise-messages.js";
import { request } from "./api.js";
import {
  applyTranslations, bindLanguageSelect, countryName, formatDateTime, formatNumber, has, onLanguageChange, t,
} from "./i18n.js";
import { Session } from "./session.js";
import { setupSignIn } from "./signin.js";
import { loadWorld, WorldMap } from "./map.js";
import { splitTrail } from "./trail.js";
import { WelfarePanel } from "./welfare.js";
import { BroadcastsPanel } from "./broadcasts.js";
import { sourceLabel, WatchPanel } from "./watch.js";

const KINDS = ["earthquake", "flood", "storm", "fire", "unrest", "attack", "epidemic", "transport", "other"];
const SEVERITIES = ["minor", "moderate", "severe", "extreme"];
// The notifier's states in the order shown; throttled, expired and deduplicated are its carriers' limits (issue 23).
const DELIVERY = ["delivered", "sent", "queued", "throttled", "failed", "undeliverable", "opted_out", "expired",
  "deduplicated"];
const LIMITS = new Set(["throttled", "expired", "deduplicated"]); // also given on their own in the progress
const DELIVERY_REFRESH_MS = 10000;
const PEOPLE_REFRESH_MS = 5000;
const VIEW_SETTLE_MS = 250; // the people layer is read again once the zoom or pan has paused this long

const $ = (id) => document.getElementById(id);
const session = new Session("consular.dashboard.token", "coordinator");
const state = {
  crises: new Map(),
  selected: null,
  showClosed: false,
  stream: null,
  reconnect: null,
  deliveryTimer: null,
  map: null,
  details: new Map(), // crisis_id -> {timeline, audit, delivery}
  people: new Map(), // crisis_id -> {layer, at, loading, again, gone}: the affected travellers for the map's view
  viewTimer: null, // the read of the people layer owed to a zoom or pan
  peopleTimers: new Map(), // crisis_id -> timer of a read owed to a change inside the refresh interval
  welfare: null, // the welfare panel of the selected active crisis
  broadcasts: null, // the messages panel of the selected crisis
  watch: null, // the watch list of open incidents and proposals
};

function node(tag, { className, text, attrs } = {}, children = []) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

// --- sign-in ------------------------------------------------------------------------------------------------
const signIn = setupSignIn({ session, loginPath: "/dashboard/login", onSignedIn: start });

function signOut(reasonKey = null) {
  session.clear();
  stopStream();
  clearInterval(state.deliveryTimer);
  for (const timer of state.peopleTimers.values()) clearTimeout(timer);
  state.peopleTimers.clear();
  state.crises.clear();
  state.selected = null;
  state.welfare?.show(null);
  state.broadcasts?.show(null);
  state.watch?.stop();
  $("app").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
  $("live").hidden = true;
  signIn.show(reasonKey);
}

async function api(path, options = {}) {
  try {
    return await request(path, { ...options, token: session.token });
  } catch (err) {
    if (err.status === 401) signOut("signin.expired");
    throw err;
  }
}

// --- live stream ----------------------------------------------------------------------------------------------
function setLive(key) {
  const live = $("live");
  live.hidden = false;
  live.dataset.state = key;
  live.textContent = t(`dash.live.${key}`);
}

function stopStream() {
  clearTimeout(state.reconnect);
  if (state.stream) state.stream.close();
  state.stream = null;
}

// EventSource cannot send the bearer token in a header, and a token in a URL ends up in logs: the dashboard trades
// it for a ticket of a few seconds, good for the stream only. The server ends the stream when the token expires;
// the reconnection below asks for a fresh ticket (or the sign-in page, once the session is over).
async function connect() {
  stopStream();
  setLive("connecting");
  let ticket;
  try {
    ticket = (await api("/v1/crises/events/ticket", { method: "POST" })).ticket;
  } catch {
    setLive("off");
    if (session.valid()) state.reconnect = setTimeout(connect, 5000);
    return;
  }
  const stream = new EventSource(`/v1/crises/events?ticket=${encodeURIComponent(ticket)}`);
  state.stream = stream;
  stream.addEventListener("open", () => setLive("on"));
  stream.addEventListener("snapshot", (event) => {
    setLive("on");
    for (const crisis of JSON.parse(event.data)) merge(crisis, false);
    render();
  });
  for (const type of ["activated", "updated", "closed"]) {
    stream.addEventListener(type, (event) => {
      const crisis = JSON.parse(event.data);
      const known = state.crises.get(crisis.crisis_id);
      merge(crisis, true);
      if (type !== "closed") peopleChanged(crisis.crisis_id);
      render();
      // The stream carries the wire event (no kind, severity or counts by source): the selected crisis is read
      // again in full, and so is a crisis seen for the first time.
      if (crisis.crisis_id === state.selected) refreshSelected(true);
      else if (!known?.counts) hydrate(crisis.crisis_id);
      if (type !== "updated") loadRecent();
    });
  }
  stream.addEventListener("error", () => {
    setLive("off");
    if (stream.readyState === EventSource.CLOSED) { // refused (401/403/5xx): check the token, then retry
      stopStream();
      api("/v1/crises?status=active").then(() => {
        state.reconnect = setTimeout(connect, 3000);
      }).catch(() => {
        if (session.valid()) state.reconnect = setTimeout(connect, 5000);
      });
    }
  });
}

function merge(crisis, changed) {
  const previous = state.crises.get(crisis.crisis_id) || {};
  const merged = { ...previous, ...crisis };
  if (!crisis.counts && previous.counts) merged.counts = previous.counts;
  merged.changed = changed && previous.affected_count !== undefined && previous.affected_count !== crisis.affected_count;
  state.crises.set(crisis.crisis_id, merged);
}

// --- rendering ----------------------------------------------------------------------------------------------
function visibleCrises() {
  return [...state.crises.values()]
    .filter((c) => state.showClosed || c.status === "active")
    .sort((a, b) => (a.status === b.status ? b.affected_count - a.affected_count : a.status === "active" ? -1 : 1));
}

function statusBadge(status) {
  return node("span", { className: `badge badge-${status}`, text: t(`dash.status.${status}`) });
}

/** The EXERCISE mark of an exercise crisis (issue 23): nobody may take it for a real one. */
function exerciseBadge() {
  return node("span", { className: "badge badge-exercise", text: t("dash.exercise"), attrs: { title: t("dash.exercise.hint") } });
}

function renderList(crises) {
  const list = $("crisis-list");
  list.replaceChildren(...crises.map((crisis) => {
    const button = node("button", {
      className: `crisis-card${crisis.changed ? " changed" : ""}${crisis.exercise ? " exercise" : ""}`,
      attrs: { type: "button", "aria-pressed": String(crisis.crisis_id === state.selected), "data-crisis-id": crisis.crisis_id,
        "data-exercise": String(Boolean(crisis.exercise)) },
    }, [
      node("span", { className: "card-top" }, [
        node("span", { className: "card-title", text: crisis.title }),
        node("span", { className: "card-badges" }, [...(crisis.exercise ? [exerciseBadge()] : []), statusBadge(crisis.status)]),
      ]),
      node("span", { className: "card-numbers" }, [
        node("span", { className: "affected" }, [
          node("strong", { className: "affected-count", text: formatNumber(crisis.affected_count) }),
          ` ${t("dash.affected")} · ${t("dash.threshold")} ${formatNumber(crisis.threshold)}`,
        ]),
      ]),
      node("span", { className: "card-hotline" }, [
        `${t("dash.hotline")} `, node("strong", { className: "hotline-number", text: crisis.hotline_number || t("none") }),
      ]),
      node("span", { className: "card-meta", text: [
        crisis.kind ? t(`kind.${crisis.kind}`) : null, countryName(crisis.area?.country),
        `${t("dash.activated_at")} ${formatDateTime(crisis.activated_at)}`,
      ].filter(Boolean).join(" · ") }),
      node("span", { className: "card-meta card-source", text: `${t("dash.source")}: ${t(`dash.source.${crisis.source
        || (crisis.incident_id ? "external" : "manual")}`)}` }),
    ]);
    button.addEventListener("click", () => select(crisis.crisis_id));
    return node("li", {}, [button]);
  }));
  $("no-crises").hidden = crises.length > 0;
}

function render() {
  const crises = visibleCrises();
  renderList(crises);
  if (state.map) {
    state.map.render(crises, state.selected);
    const drawn = crises.reduce((n, c) => n + (c.status === "active" ? state.people.get(c.crisis_id)?.layer?.total || 0 : 0), 0);
    $("map-desc").textContent = t("dash.map_label", { n: crises.length }) + ": " + crises.map((c) => c.title).join(", ")
      + (drawn ? `. ${t("dash.map_people", { n: formatNumber(drawn) })}` : "");
    $("people-legend").hidden = drawn === 0;
    $("welfare-legend").hidden = !crises.some((c) => c.status === "active"
      && [...(state.people.get(c.crisis_id)?.layer?.points || []), ...(state.people.get(c.crisis_id)?.layer?.clusters || [])]
        .some((p) => p.welfare));
  }
  renderDetail();
  for (const crisis of crises) if (crisis.status === "active") loadPeople(crisis.crisis_id);
}

/** The stream reported a change of this crisis: its people are read again now, or once the refresh interval
 * has passed (a change that lands inside the interval must not leave the dots behind the count). */
function peopleChanged(id) {
  const entry = state.people.get(id);
  if (entry?.gone || state.peopleTimers.has(id)) return;
  const wait = entry ? PEOPLE_REFRESH_MS - (Date.now() - entry.at) : 0;
  if (wait <= 0 && !entry?.loading) { loadPeople(id); return; }
  state.peopleTimers.set(id, setTimeout(() => {
    state.peopleTimers.delete(id);
    if (state.crises.get(id)?.status === "active") peopleChanged(id);
  }, Math.max(wait, 500)));
}

/** The query of the people layer for the map's current view: its zoom level and, when zoomed in, its box. */
function peopleQuery() {
  const params = new URLSearchParams({ zoom: String(state.map ? state.map.zoomLevel() : 2) });
  const bounds = state.map?.bounds();
  if (bounds) for (const edge of ["west", "south", "east", "north"]) params.set(edge, String(bounds[edge]));
  return params.toString();
}

function usable(layer) {
  const finite = (p) => Number.isFinite(p?.lat) && Number.isFinite(p?.lon);
  const points = (Array.isArray(layer?.points) ? layer.points : []).filter(finite);
  const clusters = (Array.isArray(layer?.clusters) ? layer.clusters : []).filter((c) => finite(c) && c.count > 0);
  const kind = layer?.kind === "clusters" ? "clusters" : "points";
  return { kind, points, clusters, total: Number(layer?.total) || (kind === "clusters" ? 0 : points.length),
    zoom: layer?.zoom };
}

/** The affected travellers of an active crisis for the map's view (points, or the server's clusters beyond a few
 * thousand people), at most every few seconds unless the view moved (`now`); a 404 (the crisis center does not
 * expose them, or not for this crisis) leaves the map with the area and its count, silently. */
async function loadPeople(id, now = false) {
  const entry = state.people.get(id);
  if (entry?.gone) return;
  if (entry?.loading) { if (now) entry.again = true; return; }
  if (!now && entry && Date.now() - entry.at < PEOPLE_REFRESH_MS) return;
  state.people.set(id, { layer: entry?.layer || null, at: Date.now(), loading: true });
  let again = false;
  try {
    const layer = usable(await api(`/v1/crises/${encodeURIComponent(id)}/people/map?${peopleQuery()}`));
    again = Boolean(state.people.get(id)?.again);
    state.people.set(id, { layer, at: Date.now() });
    state.map?.setPeople(id, layer);
  } catch (err) {
    const gone = err.status === 404 || err.status === 405;
    state.people.set(id, { layer: entry?.layer || null, at: Date.now(), gone });
    if (gone) state.map?.setPeople(id, null);
    return;
  }
  if (again) { loadPeople(id, true); return; } // the view moved meanwhile: this layer is already behind it
  render(); // loadPeople again from there is a no-op for PEOPLE_REFRESH_MS
}

/** The map was zoomed or panned (or fitted to a crisis): its people are read again for the new view. */
function viewChanged() {
  clearTimeout(state.viewTimer);
  state.viewTimer = setTimeout(() => {
    for (const crisis of visibleCrises()) if (crisis.status === "active") loadPeople(crisis.crisis_id, true);
  }, VIEW_SETTLE_MS);
}

function renderDetail() {
  const crisis = state.crises.get(state.selected);
  $("detail").hidden = !crisis;
  $("detail-empty").hidden = Boolean(crisis);
  $("detail-title").textContent = crisis ? crisis.title : t("dash.details");
  // An exercise is marked in the detail header, the messages panel and its compose dialog (issue 23).
  for (const id of ["d-exercise", "bc-exercise", "bc-dialog-exercise"]) $(id).hidden = !crisis?.exercise;
  state.welfare?.show(crisis || null);
  state.broadcasts?.show(crisis || null);
  if (!crisis) return;
  const hotline = $("d-hotline");
  hotline.replaceChildren(crisis.hotline_number
    ? node("a", { text: crisis.hotline_number, attrs: { href: `tel:${crisis.hotline_number}` } }) : t("none"));
  $("d-status").replaceChildren(statusBadge(crisis.status));
  $("d-source").replaceChildren(sourceLabel(node, crisis.source || (crisis.incident_id ? "external" : "manual"),
    crisis.link));
  $("d-affected").textContent = formatNumber(crisis.affected_count);
  $("d-threshold").textContent = formatNumber(crisis.threshold);
  $("d-registrations").textContent = crisis.counts ? formatNumber(crisis.counts.registrations) : t("none");
  $("d-reports").textContent = crisis.counts ? formatNumber(crisis.counts.reports) : t("none");
  $("d-activated").textContent = formatDateTime(crisis.activated_at)
    + (crisis.incident_id ? "" : ` (${t("dash.manual")})`);
  $("d-closed").textContent = formatDateTime(crisis.closed_at);
  $("close-crisis").hidden = crisis.status !== "active";
  const details = state.details.get(crisis.crisis_id) || {};
  renderDelivery(details.delivery);
  renderTrail(auditEntries(details));
}

function renderDelivery(progress) {
  const box = $("delivery");
  if (progress === undefined) { box.replaceChildren(); return; }
  if (progress === null) { box.replaceChildren(node("p", { className: "hint", text: t("dash.delivery.unavailable") })); return; }
  const total = progress.total || 0;
  const bar = node("div", { className: "bar", attrs: { "aria-hidden": "true" } });
  const countOf = (status) => (LIMITS.has(status) ? progress[status] ?? progress.counts?.[status] : progress.counts?.[status]) || 0;
  for (const status of DELIVERY) {
    const count = countOf(status);
    if (!count) continue;
    const segment = node("span", { className: `seg seg-${status}` });
    segment.style.width = `${(100 * count) / total}%`;
    bar.append(segment);
  }
  // The carriers' limits and the fallbacks carry their explanation as a tooltip (and in #delivery-help, in full).
  const item = (status, count) => node("li", {
    attrs: { "data-status": status, ...(has(`dash.delivery.help.${status}`) ? { title: t(`dash.delivery.help.${status}`) } : {}) },
  }, [node("span", { className: `dot seg-${status}`, attrs: { "aria-hidden": "true" } }),
    `${t(`dash.delivery.${status}`)}: `, node("strong", { text: formatNumber(count) })]);
  const list = node("ul", { className: "delivery-counts" }, [
    ...DELIVERY.map((status) => item(status, countOf(status))),
    item("fallbacks", progress.fallbacks || 0), // already counted in their state: not a segment of the bar
  ]);
  box.replaceChildren(node("p", { className: "total", text: t("dash.delivery.total", { n: formatNumber(total) }) }), bar, list);
}

function auditEntries(details) {
  const timeline = (details.timeline || []).map((e) => ({
    at: e.at, what: e.event, actor: e.actor, extra: e.affected_count != null ? `${formatNumber(e.affected_count)} ${t("dash.affected")}` : "",
  }));
  const audit = (details.audit || []).map((e) => ({ at: e.at, what: e.action, actor: e.actor, extra: "" }));
  return splitTrail([...timeline, ...audit]);
}

function renderAudit(list, entries) {
  if (!entries.length) { list.replaceChildren(node("li", { className: "hint", text: t("dash.audit.empty") })); return; }
  list.replaceChildren(...entries.map((e) => node("li", { attrs: { "data-event": e.what, "data-count": String(e.count || 1) } }, [
    node("time", { text: formatDateTime(e.at), attrs: { datetime: e.at } }), " ",
    node("strong", { text: has(`audit.${e.what}`) ? t(`audit.${e.what}`) : e.what }),
    e.count > 1 ? ` ${t("dash.audit.times", { n: formatNumber(e.count) })}` : "",
    ` — ${e.actor || ""}${e.extra ? ` · ${e.extra}` : ""}`,
  ])));
}

function renderTrail(trail) {
  renderAudit($("audit"), trail.people);
  renderAudit($("audit-system"), trail.system);
}

// --- selection and data ---------------------------------------------------------------------------------------
function select(id) {
  state.selected = state.selected === id ? null : id;
  render();
  state.map?.zoomTo(state.crises.get(state.selected) || null);
  clearInterval(state.deliveryTimer);
  if (state.selected) {
    refreshSelected(true);
    state.deliveryTimer = setInterval(() => loadDelivery(state.selected), DELIVERY_REFRESH_MS);
  }
}

async function refreshSelected(withTrail) {
  const id = state.selected;
  if (!id) return;
  const tasks = [loadDelivery(id)];
  if (withTrail) tasks.push(loadTrail(id));
  await Promise.allSettled(tasks);
}

function detailsOf(id) {
  if (!state.details.has(id)) state.details.set(id, {});
  return state.details.get(id);
}

async function loadTrail(id) {
  const [detail, audit] = await Promise.allSettled([
    api(`/v1/crises/${encodeURIComponent(id)}`), api(`/v1/audit?target=${encodeURIComponent(id)}`),
  ]);
  const entry = detailsOf(id);
  if (detail.status === "fulfilled") {
    entry.timeline = detail.value.timeline;
    const { timeline: _ignored, ...crisis } = detail.value;
    merge(crisis, false);
  }
  if (audit.status === "fulfilled") entry.audit = audit.value;
  if (id === state.selected) render();
}

async function hydrate(id) {
  try {
    const { timeline: _ignored, ...crisis } = await api(`/v1/crises/${encodeURIComponent(id)}`);
    merge(crisis, false);
    render();
  } catch { /* the stream's data stays shown */ }
}

async function loadDelivery(id) {
  const entry = detailsOf(id);
  try {
    entry.delivery = await api(`/dashboard/api/notifications?crisis_id=${encodeURIComponent(id)}`);
  } catch {
    entry.delivery = null;
  }
  if (id === state.selected) renderDetail();
}

async function loadCrises() {
  const crises = await api("/v1/crises");
  for (const crisis of crises) merge(crisis, false);
  render();
}

async function loadRecent() {
  try {
    const entries = await api("/v1/audit");
    const { people } = splitTrail(entries.map((e) => ({
      at: e.at, what: e.action, actor: e.actor, extra: e.target ? (state.crises.get(e.target)?.title || e.target) : "",
    })), { limit: 15 });
    renderAudit($("recent"), people);
  } catch { /* shown as empty */ }
}

// --- actions ----------------------------------------------------------------------------------------------
function confirmAction(text) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

function flash(text) {
  const box = $("flash");
  box.textContent = text;
  box.hidden = false;
}

async function closeSelected() {
  const crisis = state.crises.get(state.selected);
  if (!crisis) return;
  if (!(await confirmAction(t("dash.confirm_close", { title: crisis.title, hotline: crisis.hotline_number })))) return;
  try {
    merge(await api(`/v1/crises/${encodeURIComponent(crisis.crisis_id)}/close`, { method: "POST" }), false);
    flash(t("dash.closed_ok", { title: crisis.title }));
    render();
    await Promise.allSettled([loadTrail(crisis.crisis_id), loadRecent()]);
  } catch (err) {
    flash(err.describe ? err.describe() : String(err));
  }
}

function fillSelect(select, values, labelKey, withEmpty = false) {
  const options = values.map((v) => node("option", { text: t(`${labelKey}.${v}`), attrs: { value: v } }));
  if (withEmpty) options.unshift(node("option", { text: t("none"), attrs: { value: "" } }));
  const current = select.value;
  select.replaceChildren(...options);
  if (current) select.value = current;
}

function dialogCancel(dialog) {
  for (const button of dialog.querySelectorAll(".dialog-cancel")) button.addEventListener("click", () => dialog.close("cancel"));
}

function setupActivate() {
  const dialog = $("activate-dialog");
  const form = $("activate-form");
  const error = $("activate-error");
  dialogCancel(dialog);
  for (const radio of form.elements.shape) {
    radio.addEventListener("change", () => { $("circle-fields").hidden = form.elements.shape.value !== "circle"; });
  }
  // An exercise (issue 23): the confirm button says so, and stays right when the language changes (data-i18n).
  const submit = $("activate-submit");
  const showExercise = () => {
    submit.dataset.i18n = form.elements.exercise.checked ? "dash.submit_exercise" : "dash.submit_activate";
    submit.textContent = t(submit.dataset.i18n);
  };
  form.elements.exercise.addEventListener("change", showExercise);
  $("open-activate").addEventListener("click", () => {
    error.hidden = true;
    showExercise();
    dialog.showModal();
    form.elements.title.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const f = form.elements;
    const area = { country: f.country.value.trim().toUpperCase() };
    if (f.shape.value === "circle") {
      area.circle = { lat: Number(f.lat.value), lon: Number(f.lon.value), radius_km: Number(f.radius_km.value) };
    }
    const exercise = f.exercise.checked;
    const body = { title: f.title.value.trim(), kind: f.kind.value, severity: f.severity.value || null, area,
      ...(exercise ? { exercise: true } : {}) };
    if (!form.checkValidity()) { form.reportValidity(); return; }
    dialog.close("ok");
    const question = exercise ? "dash.confirm_exercise" : "dash.confirm_activate";
    if (!(await confirmAction(t(question, { title: body.title, country: countryName(area.country) })))) {
      dialog.showModal();
      return;
    }
    try {
      const crisis = await api("/v1/crises", { method: "POST", body });
      merge(crisis, false);
      form.reset();
      $("circle-fields").hidden = true;
      showExercise();
      flash(t(crisis.exercise ? "dash.exercise_opened_ok" : "dash.activated_ok", { title: crisis.title }));
      select(crisis.crisis_id);
      loadRecent();
    } catch (err) {
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
      dialog.showModal();
    }
  });
}

function setupThresholds() {
  const dialog = $("thresholds-dialog");
  const form = $("thresholds-form");
  const error = $("thresholds-error");
  dialogCancel(dialog);
  const box = $("th-severities");
  box.replaceChildren(...SEVERITIES.map((s) => node("div", { className: "field" }, [
    node("label", { text: t(`severity.${s}`), attrs: { for: `th-${s}`, "data-i18n": `severity.${s}` } }),
    node("input", { attrs: { id: `th-${s}`, name: s, type: "number", min: "1", max: "100000" } }),
  ])));
  $("open-thresholds").addEventListener("click", async () => {
    error.hidden = true;
    form.reset();  // what the service says now, never what the dialog held last time
    try {
      const current = await api("/v1/thresholds");
      form.elements.default.value = current.default;
      for (const s of SEVERITIES) form.elements[s].value = current.by_severity?.[s] ?? "";
    } catch (err) {
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
    }
    dialog.showModal();
    form.elements.default.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.checkValidity()) { form.reportValidity(); return; }
    const body = { default: Number(form.elements.default.value), by_severity: {} };
    for (const s of SEVERITIES) if (form.elements[s].value) body.by_severity[s] = Number(form.elements[s].value);
    const summary = [`${body.default}`, ...Object.entries(body.by_severity).map(([s, v]) => `${t(`severity.${s}`)} ${v}`)].join(", ");
    dialog.close("ok");
    if (!(await confirmAction(t("dash.confirm_thresholds", { summary })))) { dialog.showModal(); return; }
    try {
      await api("/v1/thresholds", { method: "PUT", body });
      flash(t("dash.thresholds_ok"));
      loadRecent();
    } catch (err) {
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
      dialog.showModal();
    }
  });
}

function translateDynamic() {
  fillSelect($("a-kind"), KINDS, "kind");
  fillSelect($("a-severity"), SEVERITIES, "severity", true);
  if (!$("live").hidden) setLive($("live").dataset.state);
  if (session.claims) $("who").textContent = t("signed_in_as", { name: session.claims.sub });
  if (!$("app").hidden) { render(); loadRecent(); state.welfare?.render(); state.broadcasts?.render(); state.watch?.render(); }
}

// --- start ----------------------------------------------------------------------------------------------
async function start() {
  signIn.hide();
  $("app").hidden = false;
  $("who").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = t("signed_in_as", { name: session.claims?.sub || "?" });
  connect();
  await Promise.allSettled([loadCrises(), loadRecent(), state.watch.start()]);
}

async function main() {
  applyTranslations(document);
  bindLanguageSelect($("language"));
  onLanguageChange(translateDynamic);
  translateDynamic();
  setupActivate();
  setupThresholds();
  state.welfare = new WelfarePanel({
    api, node,
    onRefresh: (id) => peopleChanged(id), // the dots' colours follow the answers
    onStarted: (id) => { loadTrail(id); loadRecent(); },
  });
  state.broadcasts = new BroadcastsPanel({
    api, node, confirmAction,
    me: () => session.claims?.sub || null, // the signed-in coordinator: the token's subject, as the API sees it
    onChanged: (id) => { loadTrail(id); loadRecent(); },
  });
  state.watch = new WatchPanel({ api, node, confirmAction, flash, onChanged: () => loadRecent() });
  $("signout").addEventListener("click", () => signOut());
  $("show-closed").addEventListener("change", (e) => { state.showClosed = e.target.checked; render(); });
  $("close-crisis").addEventListener("click", closeSelected);
  $("map-world").addEventListener("click", () => state.map?.zoomTo(null));
  loadWorld("/dashboard/assets/data/countries-50m.json").then((countries) => {
    state.map = new WorldMap($("map"), countries);
    state.map.onViewChange = viewChanged;
    for (const [id, entry] of state.people) state.map.setPeople(id, entry.layer);
    render();
    if (state.selected) state.map.zoomTo(state.crises.get(state.selected));
  }).catch(() => { $("map-desc").textContent = "map data unavailable"; });
  if (session.valid()) start(); else signIn.show(session.token ? "signin.expired" : null);
}

main();
