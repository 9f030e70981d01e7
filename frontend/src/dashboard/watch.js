// The watch list (issue 22): every open incident before it is a crisis, from GET /v1/watch (read every few seconds
// while the tab is visible) with its count of people inside against its threshold and its source; a proposal to
// open a crisis (activation mode "proposed") is confirmed (POST /v1/proposals/{id}/confirm) after a confirmation
// dialog, or dismissed with a reason (POST /v1/proposals/{id}/dismiss). Nothing here uses innerHTML.
import { countryName, formatDateTime, formatNumber, t } from "./i18n.js";

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);

/** An http(s) link only (the event page at its source); anything else is not linked. */
function safeLink(link) {
  try {
    const url = new URL(link);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** "GDACS" / "USGS" / "external system" / "manual", with a link to the event page when there is one. */
export function sourceLabel(node, source, link) {
  const label = node("span", { className: `source source-${source || "external"}`,
    text: t(`dash.source.${source || "external"}`) });
  const href = link ? safeLink(link) : null;
  if (!href) return label;
  return node("span", { className: "source-wrap" }, [label, " (", node("a", {
    text: t("dash.source.page"), attrs: { href, rel: "noopener noreferrer", target: "_blank", class: "source-link" },
  }), ")"]);
}

export class WatchPanel {
  /** api, node: the dashboard's helpers; confirmAction(text) -> Promise<bool>; flash(text); onChanged(): the
   * audit trail has a new entry. */
  constructor({ api, node, confirmAction, flash, onChanged = () => {} }) {
    Object.assign(this, { api, node, confirmAction, flash, onChanged });
    this.items = null;
    this.failed = false;
    this.timer = null;
    this.setupDismiss();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && this.timer) this.refresh();
    });
  }

  start() {
    clearInterval(this.timer);
    this.timer = setInterval(() => { if (document.visibilityState !== "hidden") this.refresh(); }, REFRESH_MS);
    return this.refresh();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.items = null;
    this.render();
  }

  async refresh() {
    try {
      this.items = await this.api("/v1/watch");
      this.failed = false;
    } catch {
      this.failed = true;
    }
    this.render();
  }

  render() {
    const list = $("watch-list");
    const shown = (this.items || []).filter((w) => w.status !== "crisis");
    $("watch-empty").hidden = this.items === null || shown.length > 0 || this.failed;
    $("watch-unavailable").hidden = !this.failed;
    list.replaceChildren(...shown.map((w) => this.item(w)));
  }

  item(w) {
    const node = this.node;
    const meter = node("meter", { attrs: { min: "0", max: String(w.threshold), value: String(Math.min(w.affected_count, w.threshold)),
      "aria-hidden": "true" } });
    const children = [
      node("span", { className: "card-top" }, [
        node("span", { className: "card-title", text: w.title }),
        node("span", { className: `badge badge-watch badge-watch-${w.status}`, text: t(`dash.watch.status.${w.status}`) }),
      ]),
      node("span", { className: "watch-count" }, [
        meter, " ", node("strong", { className: "watch-affected", text: t("dash.watch.count", {
          n: formatNumber(w.affected_count), threshold: formatNumber(w.threshold) }) }),
      ]),
      node("span", { className: "card-meta" }, [
        sourceLabel(node, w.source, w.link), ` · ${countryName(w.area?.country)} · ${t(`severity.${w.severity}`)}`
          + ` · ${t(`dash.watch.mode.${w.mode}`)}`,
      ]),
    ];
    const proposal = w.proposal;
    if (proposal && w.status === "proposed") {
      const when = [t("dash.watch.proposed_at", { at: formatDateTime(proposal.proposed_at) })];
      if (proposal.escalated_at) when.push(t("dash.watch.escalated", { at: formatDateTime(proposal.escalated_at) }));
      children.push(node("span", { className: "card-meta", text: when.join(" · ") }));
      const confirm = node("button", { className: "danger small", text: t("dash.watch.confirm"),
        attrs: { type: "button", "data-action": "confirm" } });
      const dismiss = node("button", { className: "secondary small", text: t("dash.watch.dismiss"),
        attrs: { type: "button", "data-action": "dismiss" } });
      confirm.addEventListener("click", () => this.confirm(w));
      dismiss.addEventListener("click", () => this.openDismiss(w));
      children.push(node("span", { className: "tools" }, [confirm, dismiss]));
    }
    return node("li", { className: "watch-item", attrs: { "data-incident-id": w.incident_id, "data-status": w.status } },
      children);
  }

  async confirm(w) {
    if (!(await this.confirmAction(t("dash.watch.confirm_text", { title: w.title, n: formatNumber(w.affected_count) })))) return;
    try {
      await this.api(`/v1/proposals/${encodeURIComponent(w.incident_id)}/confirm`, { method: "POST", body: {} });
      this.flash(t("dash.watch.confirmed_ok", { title: w.title }));
      this.onChanged();
    } catch (err) {
      this.flash(err.describe ? err.describe() : String(err));
    }
    await this.refresh();
  }

  setupDismiss() {
    const dialog = $("dismiss-dialog");
    const form = $("dismiss-form");
    for (const button of dialog.querySelectorAll(".dialog-cancel")) button.addEventListener("click", () => dialog.close("cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.checkValidity()) { form.reportValidity(); return; }
      const w = this.dismissing;
      const error = $("dismiss-error");
      error.hidden = true;
      try {
        await this.api(`/v1/proposals/${encodeURIComponent(w.incident_id)}/dismiss`, {
          method: "POST", body: { reason: form.elements.reason.value.trim() } });
        dialog.close("ok");
        this.flash(t("dash.watch.dismissed_ok", { title: w.title }));
        this.onChanged();
        await this.refresh();
      } catch (err) {
        error.textContent = err.describe ? err.describe() : String(err);
        error.hidden = false;
      }
    });
  }

  openDismiss(w) {
    this.dismissing = w;
    const form = $("dismiss-form");
    form.reset();
    $("dismiss-error").hidden = true;
    $("dismiss-text").textContent = t("dash.watch.dismiss_text", { title: w.title });
    $("dismiss-dialog").showModal();
    form.elements.reason.focus();
  }
}
