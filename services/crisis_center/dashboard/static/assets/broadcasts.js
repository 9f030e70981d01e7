// The messages panel of the selected crisis (issue 23): follow-up messages and the all-clear under the two-person
// rule. A coordinator writes a follow-up in a dialog (texts per language pre-filled from
// GET /v1/crises/{id}/broadcasts/templates, each language written or explicitly sent the English text; the
// audience), sees the send planner's figures (POST .../broadcasts/plan: nothing is written) and only then submits
// it; the crisis's broadcasts are listed (GET .../broadcasts, read every few seconds while the tab is visible) with
// their status. A pending one written by someone else shows its texts and plan (GET /v1/broadcasts/{id}) with
// Approve (of the version read) and Reject (with a reason); one's own can be edited and waits for another
// coordinator. The signed-in coordinator is the token's subject. The audience "People in an area I draw": the dialog
// steps aside for the crisis map's draw mode (each click a corner inside the crisis area, a drag still pans; Finish
// with at least 3 corners, Clear, Cancel), then comes back with the polygon, which is planned and sent as drawn.
// Draw mode works with the keyboard alone: the map takes the focus (arrows pan, + and - zoom, Enter or Space adds the
// cross at its centre, Backspace removes the last corner, Escape cancels), and the draw bar's "Add a corner at the
// map's centre" does what Enter does for whoever does not use the map's keys.
import { formatDateTime, formatNumber, LANGUAGES, t } from "./i18n.js";
import { WorldMap } from "./map.js";

const REFRESH_MS = 5000;
const AUDIENCES = ["everyone", "not_answered", "needs_help", "area"];
const STATUSES = ["pending", "approved", "rejected", "expired"];
const OWN_TEXT_LANGUAGES = LANGUAGES.filter((l) => l !== "en"); // English is the fallback: always written

const $ = (id) => document.getElementById(id);

/** A duration in seconds as the planner gives it: "< 0.1 s", "0.3 s", "42 s", "3 min 20 s", "1 h 05 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Number(seconds) || 0);
  if (s > 0 && s < 0.05) return t("dash.bc.duration.s", { s: `< ${formatNumber(0.1)}` }); // not "0 s": something is sent
  if (s < 10) return t("dash.bc.duration.s", { s: formatNumber(Math.round(s * 10) / 10) });
  if (s < 60) return t("dash.bc.duration.s", { s: formatNumber(Math.round(s)) });
  const whole = Math.round(s);
  if (whole < 3600) return t("dash.bc.duration.min", { m: Math.floor(whole / 60), s: whole % 60 });
  const minutes = Math.round(whole / 60);
  return t("dash.bc.duration.h", { h: Math.floor(minutes / 60), m: String(minutes % 60).padStart(2, "0") });
}

/** The send planner's figures as DOM nodes (shared by the compose dialog and a pending broadcast's review). */
export function planNodes(node, plan) {
  const people = node("p", { className: "bc-people", text: t("dash.bc.plan.people", { n: formatNumber(plan.people) }) });
  const channels = ["sms", "email"];
  const total = (channel) => LANGUAGES.reduce((n, l) => n + (plan.recipients?.[channel]?.[l] || 0), 0);
  const table = node("table", { className: "bc-table" }, [
    node("caption", { text: t("dash.bc.plan.recipients") }),
    node("thead", {}, [node("tr", {}, [
      node("th", { text: t("dash.bc.plan.channel"), attrs: { scope: "col" } }),
      ...LANGUAGES.map((l) => node("th", { text: l.toUpperCase(), attrs: { scope: "col", title: t(`dash.bc.lang.${l}`) } })),
      node("th", { text: t("dash.bc.plan.total"), attrs: { scope: "col" } }),
    ])]),
    node("tbody", {}, channels.map((channel) => node("tr", { attrs: { "data-channel": channel } }, [
      node("th", { text: t(`dash.bc.channel.${channel}`), attrs: { scope: "row" } }),
      ...LANGUAGES.map((l) => node("td", { text: formatNumber(plan.recipients?.[channel]?.[l] || 0), attrs: { "data-lang": l } })),
      node("td", { className: "bc-total", text: formatNumber(total(channel)) }),
    ]))),
  ]);
  const sms = node("ul", { className: "bc-sms" }, LANGUAGES.filter((l) => plan.sms?.[l]).map((l) => {
    const info = plan.sms[l];
    return node("li", { attrs: { "data-lang": l, "data-encoding": info.encoding, "data-segments": String(info.segments) } }, [
      node("span", { className: "bc-lang", text: `${t(`dash.bc.lang.${l}`)}: ` }),
      t("dash.bc.plan.sms_line", { encoding: info.encoding, units: formatNumber(info.units), n: formatNumber(info.segments) }),
    ]);
  }));
  const current = plan.current || {};
  const senders = (plan.senders || []).map((s) => `${s.name} ${formatNumber(s.rate_per_second)}/s`).join(", ");
  const time = node("p", { className: "bc-time", attrs: { "data-seconds": String(current.seconds_to_last ?? "") } }, [
    t("dash.bc.plan.time", { time: formatDuration(current.seconds_to_last) }), " ",
    node("span", { className: "hint", text: t("dash.bc.plan.senders", {
      n: formatNumber(current.senders || 0), rate: formatNumber(current.sms_per_second || 0), senders }) }),
  ]);
  const more = node("ul", { className: "bc-more" }, (plan.more_senders || []).map((s) => node("li", {
    attrs: { "data-senders": String(s.senders), "data-seconds": String(s.seconds_to_last) },
    text: t("dash.bc.plan.more", { n: formatNumber(s.senders), rate: formatNumber(s.sms_per_second),
      time: formatDuration(s.seconds_to_last) }),
  })));
  return [
    people, table,
    node("p", { className: "bc-subtitle", text: t("dash.bc.plan.sms", { n: formatNumber(plan.sms_segments || 0) }) }), sms,
    time, node("p", { className: "bc-subtitle", text: t("dash.bc.plan.if_more") }), more,
  ];
}

export class BroadcastsPanel {
  /**
   * api(path, options): the dashboard's authenticated fetch; node(tag, options, children): its DOM helper;
   * me(): the signed-in coordinator (the token's subject); confirmAction(text): the dashboard's confirmation;
   * onChanged(crisisId): after a submission or decision (the audit trail has a new entry).
   */
  constructor({ api, node, me, confirmAction, onChanged = () => {} }) {
    this.api = api;
    this.node = node;
    this.me = me;
    this.confirmAction = confirmAction;
    this.onChanged = onChanged;
    this.crisis = null;
    this.list = null; // the crisis's broadcasts as last read, null before the first answer
    this.listKey = "";
    this.failed = false;
    this.details = new Map(); // broadcast_id -> {version, detail} of pending broadcasts to review
    this.templates = new Map(); // crisis_id -> templates
    this.timer = null;
    this.outsideTimer = null; // the outside alert emptied to be announced again
    this.reading = false;
    this.again = false;
    this.compose = null; // {crisisId, broadcastId (edit), polygon, plannedKey, plan}
    this.setupCompose();
    this.setupReject();
    $("bc-compose").addEventListener("click", () => this.openCompose(null));
    $("bc-all-clear").addEventListener("click", () => this.allClear());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.crisis) this.refresh();
    });
  }

  /** The crisis whose messages are shown, or null: the panel is hidden and stops reading. */
  show(crisis) {
    const id = crisis ? crisis.crisis_id : null;
    $("broadcasts").hidden = id === null;
    if (id === (this.crisis?.crisis_id ?? null)) {
      const statusChanged = crisis && this.crisis && crisis.status !== this.crisis.status;
      this.crisis = crisis;
      if (statusChanged) { this.renderTools(); this.refresh(); }
      return;
    }
    clearInterval(this.timer);
    this.timer = null;
    this.crisis = crisis;
    this.list = null;
    this.listKey = "";
    this.failed = false;
    this.details.clear();
    this.message(null);
    if (this.compose) this.endCompose();
    for (const dialog of [$("bc-dialog"), $("bc-reject-dialog")]) if (dialog.open) dialog.close("cancel");
    this.renderTools();
    this.renderList();
    if (id) {
      this.refresh();
      this.timer = setInterval(() => { if (document.visibilityState === "visible") this.refresh(); }, REFRESH_MS);
    }
  }

  active() { return this.crisis?.status === "active"; }

  message(text, bad = false) {
    $("bc-result").hidden = bad || !text;
    $("bc-error").hidden = !bad || !text;
    if (text) $(bad ? "bc-error" : "bc-result").textContent = text;
  }

  async refresh() {
    if (this.reading) { this.again = true; return; }
    this.reading = true;
    try {
      do { this.again = false; await this.read(); } while (this.again);
    } finally {
      this.reading = false;
    }
  }

  async read() {
    const id = this.crisis?.crisis_id;
    if (!id) return;
    if (!this.templates.has(id)) {
      try { this.templates.set(id, await this.api(`/v1/crises/${encodeURIComponent(id)}/broadcasts/templates`)); } catch { /* later */ }
    }
    let list;
    try {
      list = await this.api(`/v1/crises/${encodeURIComponent(id)}/broadcasts`);
    } catch {
      if (id === this.crisis?.crisis_id) { this.failed = true; this.renderList(); }
      return;
    }
    if (id !== this.crisis?.crisis_id) return;
    this.failed = false;
    const me = this.me();
    const review = (Array.isArray(list) ? list : []).filter((b) => b.status === "pending" && b.author !== me);
    await Promise.allSettled(review.map((b) => this.loadDetail(b)));
    if (id !== this.crisis?.crisis_id) return;
    const key = JSON.stringify([list, review.map((b) => this.details.get(b.broadcast_id)?.version)]);
    this.list = list;
    if (key !== this.listKey) { this.listKey = key; this.renderList(); } // unchanged: focus and reading stay put
  }

  /** The texts, plan and version of a pending broadcast to review (read again when its version changes). */
  async loadDetail(b) {
    const known = this.details.get(b.broadcast_id);
    if (known && known.version === b.version) return;
    const detail = await this.api(`/v1/broadcasts/${encodeURIComponent(b.broadcast_id)}`);
    this.details.set(b.broadcast_id, { version: detail.version, detail });
  }

  // --- rendering ------------------------------------------------------------------------------------------
  render() {
    this.renderTools();
    this.listKey = "";
    this.renderList();
  }

  renderTools() {
    $("bc-tools").hidden = !this.active();
  }

  renderList() {
    const box = $("bc-list");
    const node = this.node;
    $("bc-unavailable").hidden = !this.failed;
    if (!this.list) { box.replaceChildren(node("li", { className: "hint", text: t("none") })); return; }
    if (!this.list.length) { box.replaceChildren(node("li", { className: "hint", text: t("dash.bc.empty") })); return; }
    box.replaceChildren(...this.list.map((b) => this.item(b)));
  }

  item(b) {
    const node = this.node;
    const status = STATUSES.includes(b.status) ? b.status : "pending";
    const mine = b.author === this.me();
    const head = node("div", { className: "bc-head" }, [
      node("strong", { className: "bc-kind", text: t(`dash.bc.kind.${b.kind}`) }),
      node("span", { className: `badge bc-status bc-status-${status}`, text: t(`dash.bc.status.${status}`) }),
    ]);
    const meta = [t("dash.bc.by", { author: b.author }), formatDateTime(b.created_at)];
    if (b.version > 1) meta.push(t("dash.bc.version", { n: b.version }));
    const lines = [head, node("span", { className: "bc-meta", text: meta.join(" · ") })];
    if (status === "pending") {
      lines.push(node("span", { className: "bc-expiry", text: t("dash.bc.expires", { at: formatDateTime(b.expires_at) }) }));
    } else if (status === "approved") {
      lines.push(node("span", { className: "bc-decision", text: t("dash.bc.sent", {
        who: b.decided_by || "", at: formatDateTime(b.decided_at), people: formatNumber(b.sent_people ?? 0),
        messages: formatNumber(b.sent_messages ?? 0) }) }));
    } else if (status === "rejected") {
      lines.push(node("span", { className: "bc-decision", text: t("dash.bc.rejected", {
        who: b.decided_by || "", at: formatDateTime(b.decided_at) }) }));
      if (b.reason) lines.push(node("q", { className: "bc-reason", text: b.reason }));
    } else {
      lines.push(node("span", { className: "bc-decision", text: t("dash.bc.expired", { at: formatDateTime(b.expires_at) }) }));
    }
    lines.push(node("span", { className: "bc-audience", text: `${t("dash.bc.audience")}: ${t(`dash.bc.audience.${b.audience}`)}` }));
    lines.push(this.textsNode(b));
    if (status === "pending" && mine) {
      lines.push(node("p", { className: "bc-note", text: t("dash.bc.own_note") }));
      if (b.kind === "followup") {
        const edit = node("button", { className: "secondary small bc-edit", text: t("dash.bc.edit"), attrs: { type: "button" } });
        edit.addEventListener("click", () => this.openCompose(b));
        lines.push(node("div", { className: "tools" }, [edit]));
      }
    } else if (status === "pending") {
      lines.push(...this.reviewNodes(b));
    }
    return node("li", { className: "bc-item", attrs: {
      "data-broadcast-id": b.broadcast_id, "data-status": status, "data-kind": b.kind, "data-mine": String(mine),
    } }, lines);
  }

  textsNode(b) {
    const node = this.node;
    const texts = b.kind === "all_clear" ? this.templates.get(b.crisis_id)?.all_clear_sms || {} : b.texts || {};
    const items = [];
    if (b.kind === "all_clear") items.push(node("p", { className: "hint", text: t("dash.bc.all_clear_text") }));
    const list = node("dl", { className: "bc-texts" });
    for (const l of LANGUAGES) {
      const text = texts[l];
      if (b.kind === "all_clear" && !text) continue;
      list.append(node("dt", { text: t(`dash.bc.lang.${l}`) }),
        text ? node("dd", { text, attrs: { lang: l, "data-lang": l } })
          : node("dd", { className: "hint", text: t("dash.bc.uses_english"), attrs: { "data-lang": l } }));
    }
    items.push(list);
    return node("div", { className: "bc-body" }, items);
  }

  reviewNodes(b) {
    const node = this.node;
    const known = this.details.get(b.broadcast_id);
    const out = [];
    if (known?.detail?.plan) {
      out.push(node("div", { className: "bc-plan", attrs: { "data-version": String(known.version) } }, planNodes(node, known.detail.plan)));
    } else {
      out.push(node("p", { className: "hint", text: t("dash.bc.plan_unavailable") }));
    }
    const approve = node("button", { className: "bc-approve", text: t("dash.bc.approve"), attrs: { type: "button" } });
    approve.disabled = !known;
    approve.addEventListener("click", () => this.approve(b));
    const reject = node("button", { className: "danger bc-reject", text: t("dash.bc.reject"), attrs: { type: "button" } });
    reject.addEventListener("click", () => this.openReject(b));
    out.push(node("div", { className: "tools" }, [approve, reject]));
    return out;
  }

  // --- deciding -----------------------------------------------------------------------------------------------
  async approve(b) {
    const known = this.details.get(b.broadcast_id);
    if (!known) return;
    const people = known.detail?.plan?.people ?? 0;
    const text = t(b.kind === "all_clear" ? "dash.bc.confirm_approve_all_clear" : "dash.bc.confirm_approve", {
      author: b.author, n: formatNumber(people), version: known.version, title: this.crisis?.title || "" });
    if (!(await this.confirmAction(text))) return;
    await this.decide(b, `/v1/broadcasts/${encodeURIComponent(b.broadcast_id)}/approve`, { version: known.version },
      (done) => t("dash.bc.approved_ok", { people: formatNumber(done.sent_people ?? 0), messages: formatNumber(done.sent_messages ?? 0) }));
  }

  async decide(b, path, body, success) {
    const id = this.crisis?.crisis_id;
    this.message(null);
    try {
      const done = await this.api(path, { method: "POST", body });
      if (id !== this.crisis?.crisis_id) return;
      this.message(success(done));
      this.onChanged(id);
    } catch (err) {
      if (id !== this.crisis?.crisis_id) return;
      this.message(err.describe ? err.describe() : String(err), true);
      this.details.delete(b.broadcast_id); // edited or decided meanwhile: read it again
    }
    this.refresh();
  }

  openReject(b) {
    const dialog = $("bc-reject-dialog");
    const form = $("bc-reject-form");
    form.reset();
    form.elements.reason.removeAttribute("aria-invalid");
    $("bc-reject-text").textContent = t("dash.bc.reject_text", { kind: t(`dash.bc.kind.${b.kind}`), author: b.author });
    dialog.dataset.broadcastId = b.broadcast_id;
    dialog.returnValue = "cancel";
    dialog.showModal();
  }

  setupReject() {
    const dialog = $("bc-reject-dialog");
    const form = $("bc-reject-form");
    for (const button of dialog.querySelectorAll(".dialog-cancel")) button.addEventListener("click", () => dialog.close("cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const reason = form.elements.reason;
      if (reason.value.trim().length < 3) {
        reason.setAttribute("aria-invalid", "true");
        reason.setCustomValidity(t("dash.bc.reason_short"));
        form.reportValidity();
        reason.setCustomValidity("");
        return;
      }
      reason.removeAttribute("aria-invalid");
      const b = this.list?.find((x) => x.broadcast_id === dialog.dataset.broadcastId);
      dialog.close("ok");
      if (!b) return;
      await this.decide(b, `/v1/broadcasts/${encodeURIComponent(b.broadcast_id)}/reject`, { reason: reason.value.trim() },
        () => t("dash.bc.rejected_ok"));
    });
  }

  async allClear() {
    const crisis = this.crisis;
    if (!crisis || !this.active()) return;
    if (!(await this.confirmAction(t("dash.bc.confirm_all_clear", { title: crisis.title })))) return;
    this.message(null);
    try {
      const created = await this.api(`/v1/crises/${encodeURIComponent(crisis.crisis_id)}/all-clear`, { method: "POST" });
      if (crisis.crisis_id !== this.crisis?.crisis_id) return;
      this.message(t("dash.bc.submitted", { at: formatDateTime(created.expires_at) }));
      this.onChanged(crisis.crisis_id);
    } catch (err) {
      if (crisis.crisis_id !== this.crisis?.crisis_id) return;
      this.message(err.describe ? err.describe() : String(err), true);
    }
    this.refresh();
  }

  // --- composing ------------------------------------------------------------------------------------------
  /** The compose dialog, for a new follow-up (b null: pre-filled from the templates) or to edit one's own. */
  async openCompose(b) {
    const crisis = this.crisis;
    if (!crisis) return;
    const form = $("bc-form");
    form.reset();
    $("bc-form-error").hidden = true;
    let texts = {};
    if (!this.templates.has(crisis.crisis_id)) {
      try { this.templates.set(crisis.crisis_id, await this.api(`/v1/crises/${encodeURIComponent(crisis.crisis_id)}/broadcasts/templates`)); } catch { /* empty texts */ }
    }
    const prefill = this.templates.get(crisis.crisis_id)?.followup || {};
    texts = b ? b.texts || {} : prefill;
    for (const l of LANGUAGES) {
      const area = $(`bc-text-${l}`);
      area.value = texts[l] ?? (b ? prefill[l] || "" : "");
      area.removeAttribute("aria-invalid");
      if (l !== "en") form.elements[`mode-${l}`].value = b && texts[l] == null ? "en" : "own";
    }
    const audience = $("bc-audience");
    const area = b?.audience === "area";
    audience.replaceChildren(...AUDIENCES.map((a) => {
      const key = a === "area" ? "dash.bc.audience.area_option" : `dash.bc.audience.${a}`;
      return this.node("option", { text: t(key), attrs: { value: a, "data-i18n": key } });
    }));
    audience.value = b ? b.audience : "everyone";
    this.compose = { crisisId: crisis.crisis_id, broadcastId: b?.broadcast_id || null,
      polygon: area ? b.polygon : null, plannedKey: null, plan: null };
    for (const [id, key] of [["bc-dialog-title", b ? "dash.bc.edit_title" : "dash.bc.compose_title"],
      ["bc-submit", b ? "dash.bc.submit_edit" : "dash.bc.submit"]]) {
      $(id).dataset.i18n = key; // kept when the language changes
      $(id).textContent = t(key);
    }
    this.syncModes();
    this.syncArea();
    this.renderPlan();
    $("bc-dialog").returnValue = "cancel";
    $("bc-dialog").showModal();
  }

  syncModes() {
    for (const l of OWN_TEXT_LANGUAGES) {
      const english = $("bc-form").elements[`mode-${l}`].value === "en";
      const area = $(`bc-text-${l}`);
      area.disabled = english;
      area.closest(".bc-lang-text").hidden = english;
    }
  }

  /** The request body of the dialog as it stands, or null with the empty texts marked. */
  body() {
    const form = $("bc-form");
    const texts = {};
    let ok = true;
    for (const l of LANGUAGES) {
      const area = $(`bc-text-${l}`);
      if (l !== "en" && form.elements[`mode-${l}`].value === "en") { texts[l] = null; area.removeAttribute("aria-invalid"); continue; }
      const value = area.value.trim();
      if (!value) { area.setAttribute("aria-invalid", "true"); ok = false; } else area.removeAttribute("aria-invalid");
      texts[l] = value;
    }
    if (!ok) return null;
    const body = { texts, audience: $("bc-audience").value };
    if (body.audience === "area") body.polygon = this.compose?.polygon;
    return body;
  }

  renderPlan() {
    const box = $("bc-plan");
    const c = this.compose;
    const submit = $("bc-submit");
    if (!c?.plan) {
      box.replaceChildren(this.node("p", { className: "hint", text: t(c?.plannedKey === "changed" ? "dash.bc.plan_again" : "dash.bc.plan_first") }));
      submit.disabled = true;
      return;
    }
    box.replaceChildren(this.node("h3", { text: t("dash.bc.plan") }), ...planNodes(this.node, c.plan));
    submit.disabled = false;
  }

  changed() {
    if (!this.compose) return;
    if (this.compose.plan) { this.compose.plan = null; this.compose.plannedKey = "changed"; this.renderPlan(); }
  }

  async plan() {
    const c = this.compose;
    const error = $("bc-form-error");
    error.hidden = true;
    const body = this.body();
    if (!c) return;
    if (!body) { error.textContent = t("dash.bc.texts_missing"); error.hidden = false; return; }
    if (body.audience === "area" && !(body.polygon?.length >= 3)) {
      error.textContent = t("dash.bc.area.missing"); error.hidden = false; return;
    }
    const button = $("bc-plan-button");
    button.disabled = true;
    try {
      const plan = await this.api(`/v1/crises/${encodeURIComponent(c.crisisId)}/broadcasts/plan`, { method: "POST", body });
      if (c !== this.compose) return;
      c.plan = plan;
      c.plannedKey = JSON.stringify(body);
      this.renderPlan();
    } catch (err) {
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  async submit() {
    const c = this.compose;
    const error = $("bc-form-error");
    error.hidden = true;
    const body = this.body();
    if (!c || !body) return;
    if (!c.plan || c.plannedKey !== JSON.stringify(body)) { this.changed(); return; } // the plan shown is of this text
    const button = $("bc-submit");
    button.disabled = true;
    try {
      const done = c.broadcastId
        ? await this.api(`/v1/broadcasts/${encodeURIComponent(c.broadcastId)}`, { method: "PUT", body })
        : await this.api(`/v1/crises/${encodeURIComponent(c.crisisId)}/broadcasts`, { method: "POST", body });
      $("bc-dialog").close("ok");
      this.compose = null;
      if (c.crisisId === this.crisis?.crisis_id) {
        this.message(t(c.broadcastId ? "dash.bc.edited" : "dash.bc.submitted", { at: formatDateTime(done.expires_at), n: done.version }));
        this.onChanged(c.crisisId);
        this.refresh();
      }
    } catch (err) {
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
      button.disabled = false;
    }
  }

  // --- the drawn area -----------------------------------------------------------------------------------------
  worldMap() { return WorldMap.of($("map")); }

  /** The compose dialog is done (sent, cancelled, or its crisis left): draw mode ends, the drawn area goes. */
  endCompose(sent = false) {
    if (!sent) this.compose = null;
    $("bc-draw-bar").hidden = true;
    this.worldMap()?.stopDrawing(null);
  }

  /** The dialog's area line (shown for the audience "area"): the corners drawn and the Draw button. */
  syncArea() {
    const area = $("bc-audience").value === "area";
    const corners = this.compose?.polygon?.length || 0;
    $("bc-area").hidden = !area;
    $("bc-draw-bar").hidden = true;
    $("bc-area-status").textContent = corners ? t("dash.bc.area.drawn", { n: corners }) : t("dash.bc.area.none");
    this.worldMap()?.stopDrawing(area ? this.compose?.polygon : null);
  }

  /** Draw mode: the dialog closes (keeping what was written), the map takes clicks as corners. */
  startDraw() {
    const c = this.compose;
    const map = this.worldMap();
    const error = $("bc-form-error");
    if (!c) return;
    if (!map) { error.textContent = t("dash.bc.draw.unavailable"); error.hidden = false; return; }
    c.drawn = (c.polygon || []).map(([lon, lat]) => [lon, lat]);
    $("bc-dialog").close("draw");
    const count = () => {
      $("bc-draw-count").textContent = t("dash.bc.draw.count", { n: c.drawn.length });
      $("bc-draw-finish").disabled = c.drawn.length < 3;
    };
    map.startDrawing(c.drawn, {
      area: this.crisis?.area, labelKey: "dash.bc.draw.map_label", describedBy: "bc-draw-hint", crossWith: [$("bc-draw-add")],
      onChange: (corners, refused) => {
        if (refused) this.outside(); else { $("bc-draw-outside").hidden = true; c.drawn = corners; }
        count();
      },
      onCancel: () => this.endDraw(false),
    });
    $("bc-draw-outside").hidden = true;
    count();
    $("bc-draw-bar").hidden = false;
    $("bc-draw-bar").scrollIntoView?.({ block: "nearest" });
    map.svg.focus({ preventScroll: true }); // the keys draw at once; Tab reaches the draw bar's buttons
  }

  /** "Outside the crisis area", announced again by its alert when it was already shown (a second point refused). */
  outside() {
    const alert = $("bc-draw-outside");
    clearTimeout(this.outsideTimer);
    if (alert.hidden) { alert.textContent = t("dash.bc.draw.outside"); alert.hidden = false; return; }
    alert.textContent = "";
    this.outsideTimer = setTimeout(() => { alert.textContent = t("dash.bc.draw.outside"); }, 120);
  }

  /** Back to the dialog: with the corners drawn (finish) or as it was (cancel). */
  endDraw(finish) {
    const c = this.compose;
    if ($("bc-draw-bar").hidden) return; // Escape on the map and in the bar, or a second click: once
    $("bc-draw-bar").hidden = true;
    if (!c) { this.worldMap()?.stopDrawing(null); return; }
    if (finish && c.drawn?.length >= 3) c.polygon = c.drawn;
    c.drawn = null;
    this.syncArea();
    this.changed();
    $("bc-dialog").returnValue = "cancel";
    $("bc-dialog").showModal();
    $("bc-draw").focus();
  }

  setupArea() {
    const node = this.node;
    const draw = node("button", { className: "secondary small", text: t("dash.bc.area.draw"),
      attrs: { type: "button", id: "bc-draw", "data-i18n": "dash.bc.area.draw" } });
    draw.addEventListener("click", () => this.startDraw());
    $("bc-audience").closest(".field").after(node("div", { className: "field", attrs: { id: "bc-area", hidden: "" } }, [
      node("p", { className: "hint", attrs: { id: "bc-area-status", role: "status" } }), draw,
    ]));
    const button = (id, key, className, handler) => {
      const b = node("button", { className, text: t(key), attrs: { type: "button", id, "data-i18n": key } });
      b.addEventListener("click", handler);
      return b;
    };
    // The keyboard's Enter as a button: the centre of the view (the cross, shown while the button has the focus too).
    const add = button("bc-draw-add", "dash.bc.draw.add_centre", "secondary small", () => this.worldMap()?.addCorner());
    for (const type of ["focus", "blur"]) add.addEventListener(type, () => this.worldMap()?.redraw(false));
    const bar = node("div", { className: "notice", attrs: { id: "bc-draw-bar", role: "group", hidden: "",
      "aria-labelledby": "bc-draw-title" } }, [
      node("strong", { text: t("dash.bc.draw.title"), attrs: { id: "bc-draw-title", "data-i18n": "dash.bc.draw.title" } }),
      " ", node("span", { text: t("dash.bc.draw.hint"), attrs: { id: "bc-draw-hint", "data-i18n": "dash.bc.draw.hint" } }),
      node("p", { attrs: { id: "bc-draw-count", role: "status" } }),
      node("p", { className: "bad", text: t("dash.bc.draw.outside"),
        attrs: { id: "bc-draw-outside", role: "alert", hidden: "", "data-i18n": "dash.bc.draw.outside" } }),
      node("div", { className: "tools" }, [
        add,
        button("bc-draw-finish", "dash.bc.draw.finish", "small", () => this.endDraw(true)),
        button("bc-draw-clear", "dash.bc.draw.clear", "secondary small", () => {
          if (!this.compose) return;
          this.compose.drawn = [];
          this.worldMap()?.setCorners([]);
          $("bc-draw-outside").hidden = true;
          $("bc-draw-count").textContent = t("dash.bc.draw.count", { n: 0 });
          $("bc-draw-finish").disabled = true;
        }),
        button("bc-draw-cancel", "dash.bc.draw.cancel", "secondary small", () => this.endDraw(false)),
      ]),
    ]);
    bar.addEventListener("keydown", (event) => { // Escape from the bar's buttons cancels too, as on the map
      if (event.key === "Escape" && !bar.hidden) { event.preventDefault(); this.endDraw(false); }
    });
    const wrap = $("map").closest(".mapwrap"); // below the map, clear of its Whole world button
    if (wrap) wrap.after(bar); else $("map").after(bar);
  }

  setupCompose() {
    const dialog = $("bc-dialog");
    const form = $("bc-form");
    const node = this.node;
    $("bc-texts").replaceChildren(...LANGUAGES.map((l) => {
      const children = [node("legend", { text: t(`dash.bc.lang.${l}`), attrs: { "data-i18n": `dash.bc.lang.${l}` } })];
      if (l !== "en") {
        for (const mode of ["own", "en"]) {
          const input = node("input", { attrs: { type: "radio", name: `mode-${l}`, value: mode, id: `bc-mode-${l}-${mode}` } });
          if (mode === "own") input.checked = true;
          input.addEventListener("change", () => { this.syncModes(); this.changed(); });
          children.push(node("label", { className: "inline", attrs: { for: `bc-mode-${l}-${mode}` } }, [input, " ",
            node("span", { text: t(`dash.bc.mode.${mode}`), attrs: { "data-i18n": `dash.bc.mode.${mode}` } })]));
        }
      }
      const area = node("textarea", { attrs: { id: `bc-text-${l}`, name: `text-${l}`, maxlength: "1000", rows: "3", lang: l } });
      area.addEventListener("input", () => this.changed());
      children.push(node("div", { className: "field bc-lang-text" }, [
        node("label", { className: "visually-hidden", text: t(`dash.bc.text.${l}`), attrs: { for: `bc-text-${l}`, "data-i18n": `dash.bc.text.${l}` } }),
        area,
      ]));
      return node("fieldset", { className: "bc-lang", attrs: { "data-lang": l } }, children);
    }));
    $("bc-audience").addEventListener("change", () => { this.syncArea(); this.changed(); });
    this.setupArea();
    for (const button of dialog.querySelectorAll(".dialog-cancel")) button.addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => { if (dialog.returnValue !== "draw") this.endCompose(dialog.returnValue === "ok"); });
    $("bc-plan-button").addEventListener("click", () => this.plan());
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
  }
}
