// The welfare panel of the selected active crisis: the counts of GET /v1/crises/{id}/welfare (read every few
// seconds while the tab is visible), a round started with POST /v1/crises/{id}/welfare-checks after a
// confirmation in a dialog, and the people an officer has to act on (GET .../welfare/people, paged by person id):
// those who need help with their case, those to phone, and the unclear answers to read. The same counts give the
// people sought by their families in the crisis (intake's inquiries: how many, matched, answered safe).
import { formatDateTime, formatNumber, language, t } from "./i18n.js";

/** The welfare of a person on the map, most urgent first (a group of dots takes its most urgent one). */
export const WELFARE = ["needs_help", "unreachable", "unclear", "no_answer", "safe"];
const COUNTS = ["safe", "needs_help", "unclear", "no_answer", "unreachable", "checked_in",
  "sought", "sought_matched", "sought_safe"];
const LISTS = ["needs_help", "unreachable", "unclear"];
const REFRESH_MS = 5000;
const LIST_REFRESH_MS = 15000; // a list whose count did not change is still read again this often
const PAGE = 25;
const MAX_PAGE = 1000; // the API's largest page: a refresh reads again at most this many of a list

const $ = (id) => document.getElementById(id);

function languageName(code) {
  if (!code) return "";
  try { return new Intl.DisplayNames([language()], { type: "language" }).of(code) || code; } catch { return code; }
}

export class WelfarePanel {
  /**
   * api(path, options): the dashboard's authenticated fetch; node(tag, options, children): its DOM helper;
   * onRefresh(crisisId): after each reading of the counts (the map's dots may have changed colour);
   * onStarted(crisisId): after a round was started (the audit trail has a new entry).
   */
  constructor({ api, node, onRefresh = () => {}, onStarted = () => {} }) {
    this.api = api;
    this.node = node;
    this.onRefresh = onRefresh;
    this.onStarted = onStarted;
    this.crisis = null;
    this.counts = null; // the last counts read, null before the first answer
    this.failed = false;
    this.lists = new Map(); // status -> {people, next, seq, error, loaded, at}
    this.timer = null;
    this.reading = false;
    this.again = false;
    this.setupDialog();
    for (const status of LISTS) $(`wl-${status}-more`).addEventListener("click", () => this.loadList(status, true));
    $("welfare-start").addEventListener("click", () => this.openDialog());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.crisis) this.refresh();
    });
  }

  /** The crisis whose welfare is shown (an active crisis), or null: the panel is hidden and stops reading. */
  show(crisis) {
    const id = crisis && crisis.status === "active" ? crisis.crisis_id : null;
    $("welfare").hidden = id === null;
    if (id === (this.crisis?.crisis_id ?? null)) { this.crisis = crisis && id ? crisis : null; return; }
    clearInterval(this.timer);
    this.timer = null;
    this.crisis = id ? crisis : null;
    this.counts = null;
    this.failed = false;
    for (const status of LISTS) this.lists.set(status, { people: [], next: null, seq: 0, error: false, loaded: false, at: 0 });
    $("welfare-result").hidden = true;
    $("welfare-error").hidden = true;
    if ($("welfare-dialog").open) $("welfare-dialog").close("cancel");
    this.render();
    if (id) {
      this.refresh();
      this.timer = setInterval(() => { if (document.visibilityState === "visible") this.refresh(); }, REFRESH_MS);
    }
  }

  /** Reads the counts (once more after the current reading when asked meanwhile, e.g. for another crisis). */
  async refresh() {
    if (this.reading) { this.again = true; return; }
    this.reading = true;
    try {
      do { this.again = false; await this.readCounts(); } while (this.again);
    } finally {
      this.reading = false;
    }
  }

  /** The counts; a list whose count changed (or that was never read, or failed) is read again. */
  async readCounts() {
    const id = this.crisis?.crisis_id;
    if (!id) return;
    let counts;
    try {
      counts = await this.api(`/v1/crises/${encodeURIComponent(id)}/welfare`);
    } catch {
      if (id === this.crisis?.crisis_id) { this.failed = true; this.renderCounts(); }
      return;
    }
    if (id !== this.crisis?.crisis_id) return;
    const before = this.counts;
    this.counts = counts;
    this.failed = false;
    this.renderCounts();
    for (const status of LISTS) {
      const list = this.lists.get(status);
      const stale = counts[status] > 0 && Date.now() - list.at >= LIST_REFRESH_MS; // e.g. a case reference came
      if (!list.loaded || list.error || !before || before[status] !== counts[status] || stale) this.loadList(status, false);
      else this.renderList(status);
    }
    this.onRefresh(id);
  }

  /** A list read again from its start (as many as are shown, so that "more" is not undone), or its next page.
   * One person more than wanted is asked for, so that "more" is offered only when there is more. */
  async loadList(status, more) {
    const id = this.crisis?.crisis_id;
    const list = this.lists.get(status);
    if (!id || !list || (more && (!list.next || list.reloading))) return;
    const seq = more ? list.seq : ++list.seq; // a reload started meanwhile makes a page of "more" outdated
    if (!more) list.reloading = true;
    const want = more ? PAGE : Math.min(MAX_PAGE, Math.max(PAGE, list.people.length));
    const params = new URLSearchParams({ status, limit: String(Math.min(MAX_PAGE, want + 1)) });
    if (more) params.set("after", list.next);
    const button = $(`wl-${status}-more`);
    if (more) button.disabled = true;
    try {
      const page = await this.api(`/v1/crises/${encodeURIComponent(id)}/welfare/people?${params}`);
      if (id !== this.crisis?.crisis_id || seq !== list.seq) return; // another crisis, or read again meanwhile
      const people = (Array.isArray(page?.people) ? page.people : []).slice(0, want);
      list.people = more ? [...list.people, ...people] : people;
      const beyond = (page?.people?.length || 0) > want || (want === MAX_PAGE && page?.next_after);
      list.next = beyond && people.length ? people[people.length - 1].person_id : null;
      list.error = false;
      list.loaded = true;
      if (!more) list.at = Date.now();
    } catch {
      if (id !== this.crisis?.crisis_id || seq !== list.seq) return;
      list.error = true;
    } finally {
      if (seq === list.seq) list.reloading = false;
      if (more) button.disabled = false;
    }
    this.renderList(status);
  }

  // --- rendering ------------------------------------------------------------------------------------------
  render() {
    this.renderCounts();
    for (const status of LISTS) this.renderList(status);
  }

  renderCounts() {
    for (const status of COUNTS) {
      const text = this.counts ? formatNumber(this.counts[status] ?? 0) : t("none");
      const cell = $(`w-${status}`);
      if (cell.textContent !== text) cell.textContent = text; // unchanged counts are not announced again
    }
    $("welfare-unavailable").hidden = !this.failed;
  }

  renderList(status) {
    const list = this.lists.get(status);
    if (!list) return;
    const total = this.counts?.[status];
    $(`wl-${status}-count`).textContent = total === undefined ? "" : ` (${formatNumber(total)})`;
    const box = $(`wl-${status}`);
    const node = this.node;
    if (list.error && !list.people.length) {
      box.replaceChildren(node("li", { className: "hint", text: t("dash.welfare.list_unavailable") }));
    } else if (!list.people.length) {
      box.replaceChildren(node("li", { className: "hint", text: list.loaded ? t("dash.welfare.empty") : t("none") }));
    } else {
      box.replaceChildren(...list.people.map((person) => this.personItem(status, person)));
    }
    $(`wl-${status}-more`).hidden = !list.next;
  }

  personItem(status, p) {
    const node = this.node;
    const phone = p.phone
      ? node("a", { className: "phone", text: p.phone, attrs: { href: `tel:${p.phone}` } })
      : node("span", { className: "hint", text: t("dash.welfare.no_phone") });
    const facts = [phone];
    if (!p.phone && p.email) facts.push(" · ", node("a", { text: p.email, attrs: { href: `mailto:${p.email}` } }));
    if (p.language) facts.push(` · ${languageName(p.language)}`);
    const when = p.answered_at
      ? t("dash.welfare.answered", { at: formatDateTime(p.answered_at), channel: channelName(p.channel) })
      : p.asked_at ? t("dash.welfare.asked", { at: formatDateTime(p.asked_at) }) : "";
    const lines = [];
    if (status === "needs_help") {
      lines.push(p.case_reference
        ? node("strong", { className: "case-reference", text: t("dash.welfare.case", { reference: p.case_reference }) })
        : node("span", { className: "hint", text: t("dash.welfare.case_pending") }));
    }
    if (status === "unclear" || (status === "needs_help" && p.text)) {
      lines.push(node("q", { className: "answer-text", text: p.text || t("dash.welfare.no_text") }));
    }
    lines.push(node("span", { className: "person-facts" }, facts));
    lines.push(node("span", { className: "person-meta", text: [t("dash.welfare.person", { id: p.person_id }), when].filter(Boolean).join(" · ") }));
    return node("li", { attrs: { "data-person-id": p.person_id, "data-status": status } }, lines);
  }

  // --- starting a round ---------------------------------------------------------------------------------------
  /** The people a new round would ask: every contact of the crisis, once (the counts by status add up to them). */
  contacts() {
    if (!this.counts) return null;
    return ["safe", "needs_help", "unclear", "no_answer", "unreachable"].reduce((n, s) => n + (this.counts[s] || 0), 0);
  }

  openDialog() {
    const crisis = this.crisis;
    if (!crisis) return;
    const dialog = $("welfare-dialog");
    const form = $("welfare-form");
    form.reset(); // 60 minutes unless changed this time
    form.elements.minutes.removeAttribute("aria-invalid");
    const contacts = this.contacts();
    $("welfare-confirm-text").textContent = t("dash.welfare.confirm", {
      title: crisis.title, n: contacts === null ? t("none") : formatNumber(contacts),
      affected: formatNumber(crisis.affected_count ?? 0),
    });
    dialog.dataset.crisisId = crisis.crisis_id;
    dialog.returnValue = "cancel";
    dialog.showModal();
  }

  setupDialog() {
    const dialog = $("welfare-dialog");
    const form = $("welfare-form");
    for (const button of dialog.querySelectorAll(".dialog-cancel")) button.addEventListener("click", () => dialog.close("cancel"));
    form.elements.minutes.addEventListener("input", (event) => {
      if (event.target.checkValidity()) event.target.removeAttribute("aria-invalid");
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const minutes = form.elements.minutes;
      if (!form.checkValidity()) {
        minutes.setAttribute("aria-invalid", "true");
        form.reportValidity();
        return;
      }
      minutes.removeAttribute("aria-invalid");
      const id = dialog.dataset.crisisId;
      dialog.close("ok");
      await this.start(id, Number(minutes.value));
    });
  }

  async start(id, minutes) {
    const result = $("welfare-result");
    const error = $("welfare-error");
    result.hidden = true;
    error.hidden = true;
    const button = $("welfare-start");
    button.disabled = true;
    try {
      const started = await this.api(`/v1/crises/${encodeURIComponent(id)}/welfare-checks`, {
        method: "POST", body: { escalate_after_minutes: minutes },
      });
      if (id !== this.crisis?.crisis_id) return;
      result.textContent = t("dash.welfare.started", { n: formatNumber(started.recipients) });
      result.dataset.recipients = String(started.recipients);
      result.hidden = false;
      this.onStarted(id);
      this.refresh();
    } catch (err) {
      if (id !== this.crisis?.crisis_id) return;
      error.textContent = err.describe ? err.describe() : String(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }
}

function channelName(channel) {
  const key = `dash.welfare.channel.${channel}`;
  const text = t(key);
  return text === key ? String(channel || "") : text;
}
