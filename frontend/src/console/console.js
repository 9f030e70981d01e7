// The duty officers' console: a report taken on the phone (POST /v1/reports) with inline errors from the 422
// body, the resulting case (reference, officer, reply-due dates, and the responsible post once the directory has
// routed it: GET /v1/reports/{reference} is polled), a case look-up (with, for a missing person, the people matched
// with the one sought), a search and the charter board (the cases whose sought person answered safe first).
import { ApiError, request } from "./api.js";
import {
  applyTranslations, bindLanguageSelect, countryName, formatDate, formatDateTime, has, LANGUAGES,
  language, onLanguageChange, t,
} from "./i18n.js";
import { ISO_NUMERIC } from "./iso-numeric.js";
import { MESSAGES } from "./messages.js";
import { Session } from "./session.js";
import { setupSignIn } from "./signin.js";

const KINDS = ["lost_document", "detention", "missing_person", "serious_difficulty", "information_request", "complaint"];
const CHANNELS = ["phone", "sms", "email", "post", "web", "counter"];
const REFERENCE = /^BE-\d{4}-\d{6}$/;
const POST_POLL_MS = 2000;
const POST_POLL_TRIES = 60;
const ON_CALL_REFRESH_MS = 60000;

// The badge of a case opened in a crisis (to move into common/messages.js with the other "con.*" keys).
Object.assign(MESSAGES.en, { "con.crisis_case": "Crisis" });
Object.assign(MESSAGES.fr, { "con.crisis_case": "Crise" });
Object.assign(MESSAGES.nl, { "con.crisis_case": "Crisis" });
Object.assign(MESSAGES.de, { "con.crisis_case": "Krise" });

const $ = (id) => document.getElementById(id);
const session = new Session("consular.console.token", "duty_officer");
const state = { idempotencyKey: newKey(), pollTimer: null, onCallTimer: null, current: null, errors: [] };

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

function node(tag, { className, text, attrs } = {}, children = []) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  for (const [key, value] of Object.entries(attrs || {})) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

const signIn = setupSignIn({ session, loginPath: "/console/login", onSignedIn: start });

function signOut(reasonKey = null) {
  session.clear();
  clearTimeout(state.pollTimer);
  clearTimeout(state.onCallTimer);
  $("app").hidden = true;
  $("who").hidden = true;
  $("signout").hidden = true;
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

// --- selects ----------------------------------------------------------------------------------------------
function fillSelect(select, values, label, { empty = true } = {}) {
  const current = select.value;
  const options = values.map((v) => node("option", { text: label(v), attrs: { value: v } }));
  if (empty) options.unshift(node("option", { text: t("con.choose"), attrs: { value: "" } }));
  select.replaceChildren(...options);
  select.value = current;
}

function fillSelects() {
  fillSelect($("f-kind"), KINDS, (k) => t(`con.kind.${k}`));
  fillSelect($("f-channel"), CHANNELS, (c) => t(`con.channel.${c}`), { empty: false });
  if (!$("f-channel").value) $("f-channel").value = "phone";
  const names = { fr: "Français", nl: "Nederlands", de: "Deutsch", en: "English" };
  fillSelect($("f-reporter-language"), LANGUAGES, (l) => names[l]);
  const codes = Object.keys(ISO_NUMERIC).sort((a, b) => countryName(a).localeCompare(countryName(b), language()));
  for (const select of document.querySelectorAll("select.countries")) {
    fillSelect(select, codes, (code) => `${countryName(code)} (${code})`);
  }
}

// --- the report form --------------------------------------------------------------------------------------
function value(form, name) {
  const field = form.elements.namedItem(name);
  return field && typeof field.value === "string" ? field.value.trim() : "";
}

/** The body of POST /v1/reports from the form; empty fields are left out so the server names what is missing. */
function reportBody(form) {
  const pick = (names) => Object.fromEntries(names
    .map((n) => [n.split(".").pop(), value(form, n)]).filter(([, v]) => v !== ""));
  const body = {
    reporter: pick(["reporter.full_name", "reporter.phone", "reporter.email", "reporter.address",
      "reporter.language", "reporter.channel"]),
    location: pick(["location.country", "location.city", "location.lat", "location.lon"]),
    complex: form.elements.complex.checked,
  };
  for (const coordinate of ["lat", "lon"]) if (coordinate in body.location) body.location[coordinate] = Number(body.location[coordinate]);
  if (value(form, "kind")) body.kind = value(form, "kind");
  if (value(form, "description")) body.description = value(form, "description");
  if (value(form, "occurred_at")) body.occurred_at = new Date(value(form, "occurred_at")).toISOString();
  if ($("f-has-subject").checked) body.subject = pick(["subject.full_name", "subject.date_of_birth", "subject.nationality"]);
  return body;
}

function clearErrors() {
  state.errors = [];
  for (const box of document.querySelectorAll("[data-error-for]")) { box.hidden = true; box.textContent = ""; }
  for (const field of document.querySelectorAll("#report-form [aria-invalid]")) field.removeAttribute("aria-invalid");
  $("error-summary").hidden = true;
  $("error-list").replaceChildren();
}

/** The closest error slot for a dotted field path: "reporter.phone.x" -> "reporter.phone" -> "reporter". */
function slotFor(field) {
  const parts = String(field).split(".");
  while (parts.length) {
    const box = document.querySelector(`[data-error-for="${CSS.escape(parts.join("."))}"]`);
    if (box) return { box, name: parts.join(".") };
    parts.pop();
  }
  return { box: $("e-form"), name: "(body)" };
}

function messageFor(error) {
  return has(`rule.${error.rule}`) ? t(`rule.${error.rule}`) : error.message;
}

function renderErrors(errors) {
  state.errors = errors;
  for (const box of document.querySelectorAll("[data-error-for]")) { box.hidden = true; box.textContent = ""; }
  const items = [];
  for (const error of errors) {
    const { box, name } = slotFor(error.field);
    const text = messageFor(error);
    box.textContent = box.textContent ? `${box.textContent} ${text}` : text;
    box.hidden = false;
    const field = document.querySelector(`#report-form [name="${CSS.escape(name)}"]`);
    if (field) field.setAttribute("aria-invalid", "true");
    const target = field ? field.id : box.id;
    const label = field ? document.querySelector(`label[for="${CSS.escape(field.id)}"]`)?.textContent : null;
    items.push(node("li", {}, [node("a", { text: `${label || error.field}: ${text}`, attrs: { href: `#${target}` } })]));
  }
  $("error-list").replaceChildren(...items);
  $("error-summary").hidden = items.length === 0;
  if (items.length) $("error-summary").focus();
}

async function submitReport(event) {
  event.preventDefault();
  const form = event.target;
  const button = $("submit");
  clearErrors();
  button.disabled = true;
  button.textContent = t("con.submitting");
  try {
    const created = await api("/v1/reports", {
      method: "POST", body: reportBody(form), headers: { "Idempotency-Key": state.idempotencyKey },
    });
    showResult(created);
  } catch (err) {
    if (err instanceof ApiError && err.fieldErrors.length) renderErrors(err.fieldErrors);
    else renderErrors([{ field: "(body)", rule: "request", message: err.describe ? err.describe() : String(err) }]);
  } finally {
    button.disabled = false;
    button.textContent = t("con.submit");
  }
}

// --- the result -------------------------------------------------------------------------------------------
function officerCard(officer) {
  if (!officer) return [t("none")];
  return [
    node("strong", { text: officer.name }), ` — ${officer.role}`, node("br"),
    node("a", { text: officer.phone, attrs: { href: `tel:${officer.phone}` } }), " · ",
    node("a", { text: officer.email, attrs: { href: `mailto:${officer.email}` } }),
  ];
}

function postCard(post) {
  const parts = [node("strong", { className: "post-name", text: post.name || post.post_id }),
    ` — ${post.city || ""}${post.country ? `, ${countryName(post.country)}` : ""}`];
  if (post.phone) parts.push(node("br"), node("a", { text: post.phone, attrs: { href: `tel:${post.phone}` } }));
  if (post.email) parts.push(" · ", node("a", { text: post.email, attrs: { href: `mailto:${post.email}` } }));
  return parts;
}

function renderResult() {
  const c = state.current;
  if (!c) return;
  $("r-reference").textContent = c.reference;
  $("r-status").textContent = has(`con.status.${c.status}`) ? t(`con.status.${c.status}`) : c.status;
  $("r-reply-due").textContent = formatDate(c.reply_due_by);
  $("r-provisional").textContent = formatDate(c.provisional_reply_due_by);
  $("r-provisional").hidden = $("r-provisional-label").hidden = !c.provisional_reply_due_by;
  $("r-officer").replaceChildren(...officerCard(c.officer));
  const post = $("r-post");
  if (c.post) post.replaceChildren(...postCard(c.post));
  else post.textContent = c.pollingDone ? t("con.post_unknown") : t("con.post_pending");
}

function showResult(created) {
  clearTimeout(state.pollTimer);
  state.current = { ...created, pollingDone: false };
  state.idempotencyKey = newKey();
  renderResult();
  $("result").hidden = false;
  $("result").focus();
  if (!created.post) pollPost(created.reference, 0);
}

function pollPost(reference, tries) {
  state.pollTimer = setTimeout(async () => {
    if (!state.current || state.current.reference !== reference) return;
    try {
      const latest = await api(`/v1/reports/${encodeURIComponent(reference)}`);
      state.current = { ...state.current, status: latest.status, post: latest.post, officer: latest.officer };
    } catch { /* try again */ }
    if (!state.current.post && tries + 1 >= POST_POLL_TRIES) state.current.pollingDone = true;
    renderResult();
    if (!state.current.post && !state.current.pollingDone) pollPost(reference, tries + 1);
  }, POST_POLL_MS);
}

function newReport() {
  clearTimeout(state.pollTimer);
  state.current = null;
  $("report-form").reset();
  $("subject-fields").hidden = true;
  clearErrors();
  fillSelects();
  $("result").hidden = true;
  $("f-kind").focus();
}

// --- look-up, search, charter board -----------------------------------------------------------------------
function caseLine(c, { provisional = false, late = false } = {}) {
  const dueAt = provisional ? c.provisional_reply_due_by : c.reply_due_by;
  const overdue = late || (dueAt && new Date(dueAt) < new Date() && c.status !== "closed");
  const open = node("button", { type: "button", className: "link case-open", text: c.reference,
    attrs: { "aria-label": t("con.open_case", { reference: c.reference }) } });
  open.addEventListener("click", () => showCase(c.reference));
  // A case opened in a crisis (the board lists them first): a badge, the crisis named in its tooltip.
  const crisis = c.crisis_id
    ? [" ", node("span", { className: "badge badge-crisis", text: t("con.crisis_case"), attrs: { title: c.crisis_id } })]
    : [];
  // A case that needs the officer now (the sought person answered safe): a badge saying why.
  const attention = c.attention ? [" ", node("span", { className: "badge badge-attention", text: attentionText(c.attention) })] : [];
  return node("li", { attrs: c.crisis_id ? { "data-crisis-id": c.crisis_id } : {} }, [
    open, ...crisis, ...attention, ` · ${has(`con.kind.${c.kind}`) ? t(`con.kind.${c.kind}`) : c.kind}`,
    ` · ${has(`con.status.${c.status}`) ? t(`con.status.${c.status}`) : c.status} · `,
    node("span", { className: overdue ? "overdue" : "",
      text: `${t(provisional ? "con.provisional_due" : "con.reply_due")} ${formatDate(dueAt)}` }),
  ]);
}

async function lookup(event) {
  event.preventDefault();
  await showCase(event.target.elements.reference.value.trim().toUpperCase());
}

/** A case in the look-up panel (from the form, a search result or the charter board). */
async function showCase(reference, { focusLookup = true } = {}) {
  const out = $("lookup-result");
  $("lookup-ref").value = reference;
  if (!REFERENCE.test(reference)) { out.replaceChildren(node("p", { className: "error", text: t("con.bad_reference") })); return; }
  try {
    await renderCase(await api(`/v1/reports/${encodeURIComponent(reference)}`), { focusLookup });
  } catch (err) {
    out.replaceChildren(node("p", { className: "error", text: err.status === 404 ? t("con.not_found") : err.describe() }));
  }
}

/** The case view (GET /v1/reports/{reference}, or the answer of an action on it) in the look-up panel. */
async function renderCase(c, { focusLookup = true } = {}) {
  const history = (c.history || []).map((h) => node("li", {}, [
    node("time", { text: formatDateTime(h.at), attrs: { datetime: h.at } }),
    ` ${historyLabel(h)} ${h.note ? `— ${h.note}` : ""}`, h.actor ? ` (${h.actor})` : "",
  ]));
  const inquiry = c.kind === "missing_person" ? [matchSection(c)] : [];
  const attention = c.attention
    ? [node("p", { className: "notice good", attrs: { "data-attention": c.attention } }, [node("strong", { text: attentionText(c.attention) })])]
    : [];
  $("lookup-result").replaceChildren(node("ul", { className: "cases" }, [caseLine(c)]), ...attention,
    node("p", {}, officerCard(c.officer)),
    node("p", {}, [node("strong", { text: `${t("con.post")}: ` }), ...(c.post ? postCard(c.post) : [t("con.post_pending")])]),
    node("p", { attrs: { "data-charter": c.charter?.met === true ? "met" : c.charter?.met === false ? "missed" : "pending" } },
      [node("strong", { text: `${t("con.act.charter")}: ` }), charterText(c.charter)]),
    ...inquiry,
    node("h3", { text: t("con.history") }), node("ol", { className: "cases", attrs: { id: "case-history" } }, history),
    node("h3", { text: t("con.act.messages") }), messageList(c.messages || []),
    await caseActions(c));
  if (focusLookup) {
    $("lookup-title").scrollIntoView({ block: "nearest" });
    $("lookup-ref").focus();
  }
}

function historyLabel(h) {
  if (h.action && h.action !== "status" && has(`con.history.${h.action}`)) return t(`con.history.${h.action}`);
  return has(`con.status.${h.status}`) ? t(`con.status.${h.status}`) : h.status || "";
}

function charterText(charter) {
  if (!charter) return t("none");
  const by = charter.met_by ? t(`con.act.by.${charter.met_by}`) : "";
  if (charter.met_by === "provisional_reply" && charter.met !== false) return t("con.act.charter.deferred", { due: formatDate(charter.due_by) });
  if (charter.met === true) return t("con.act.charter.met", { by, at: formatDateTime(charter.met_at) });
  if (charter.met === false && charter.met_by) return t("con.act.charter.late", { by, at: formatDateTime(charter.met_at) });
  if (charter.met === false) return t("con.act.charter.missed", { due: formatDate(charter.due_by) });
  return t("con.act.charter.pending", { due: formatDate(charter.due_by) });
}

function messageList(messages) {
  if (!messages.length) return node("p", { className: "hint", text: t("none") });
  return node("ol", { className: "cases messages", attrs: { id: "case-messages" } }, messages.map((m) => node("li", {
    attrs: { "data-purpose": m.purpose || "", "data-direction": m.direction },
  }, [node("time", { text: formatDateTime(m.at), attrs: { datetime: m.at } }),
    ` ${m.direction === "in" ? "←" : "→"} ${m.channel} · ${m.purpose || ""} · ${m.status}`,
    m.body ? node("div", { className: "message-body", text: m.body }) : ""])));
}

// --- a family's inquiry: the people matched with the one they seek ------------------------------------------------
// GET /v1/reports/{reference} lists them best first (rejected last); POST .../matches/{person_id} confirms or
// rejects one, POST .../family-notice tells the family that the person answered safe. Each answers with the case.
const ATTENTION = { "sought person answered safe": "con.board.attention" };
const ANSWERS = ["safe", "needs_help", "unclear"];

function attentionText(attention) {
  return ATTENTION[attention] ? t(ATTENTION[attention]) : attention;
}

function percent(score) {
  return new Intl.NumberFormat(`${language()}-BE`, { style: "percent", maximumFractionDigits: 0 }).format(score);
}

function matchSection(c) {
  const path = `/v1/reports/${encodeURIComponent(c.reference)}`;
  const status = node("p", { className: "hint", attrs: { id: "match-status", role: "status" } });
  const open = !["closed", "forwarded"].includes(c.status);
  const act = async (button, what, action, body) => {
    button.disabled = true;
    try {
      const fresh = await api(`${path}/${action}`, { method: "POST", body });
      await renderCase(fresh, { focusLookup: false });
      const done = $("match-status");
      if (done) { done.className = "ok"; done.textContent = t("con.act.done", { what: t(`con.act.action.${what}`) }); }
      $("matches-title")?.focus();
      loadBoard();
    } catch (err) {
      button.disabled = false;
      status.className = "error";
      status.textContent = err.describe ? err.describe() : String(err);
    }
  };
  const button = (textKey, labelKey, m, className, onClick) => {
    const element = node("button", { className, text: t(textKey),
      attrs: { type: "button", "aria-label": t(labelKey, { name: m.full_name || m.person_id }) } });
    element.addEventListener("click", () => onClick(element));
    return element;
  };
  const rows = (c.matches || []).map((m) => {
    const answer = ANSWERS.includes(m.last_answer) ? t(`con.match.answer.${m.last_answer}`)
      : m.last_answer ? m.last_answer : t("con.match.answer.none");
    const decided = m.state !== "proposed" && (m.decided_by || m.decided_at)
      ? ` ${t("con.match.decided", { who: m.decided_by || "?", at: formatDateTime(m.decided_at) })}` : "";
    const buttons = [];
    if (open && m.state === "proposed") {
      buttons.push(button("con.match.confirm", "con.match.confirm_for", m, "small",
        (b) => act(b, "match_confirmed", `matches/${encodeURIComponent(m.person_id)}`, { decision: "confirmed" })));
      buttons.push(button("con.match.reject", "con.match.reject_for", m, "secondary small",
        (b) => act(b, "match_rejected", `matches/${encodeURIComponent(m.person_id)}`, { decision: "rejected" })));
    }
    if (open && m.last_answer === "safe" && m.state !== "rejected") {
      buttons.push(button("con.match.tell", "con.match.tell_for", m, "small",
        (b) => act(b, "family_told", "family-notice", { person_id: m.person_id })));
    }
    return node("li", { className: `match match-${m.state}`, attrs: { "data-person-id": m.person_id, "data-state": m.state } }, [
      node("strong", { className: "match-name", text: m.full_name || m.person_id }), " · ",
      node("span", { className: "match-score", text: t("con.match.score", { score: percent(m.score) }) }), " · ",
      node("span", { className: "match-state", text: t(`con.match.state.${m.state}`) }), decided, node("br"),
      node("span", { className: m.last_answer === "safe" ? "match-answer match-safe" : "match-answer",
        attrs: { "data-answer": m.last_answer || "", ...(m.crisis_id ? { title: m.crisis_id } : {}) } },
      [answer, ...(m.last_answer_at ? [" · ", node("time", { text: formatDateTime(m.last_answer_at), attrs: { datetime: m.last_answer_at } })] : [])]),
      node("br"),
      node("span", { className: "match-place", text: `${t("con.match.place")}: ${m.last_known_location || t("none")}` }),
      ...(buttons.length ? [node("div", { className: "match-actions" }, buttons)] : []),
    ]);
  });
  return node("section", { className: "matches-section", attrs: { "aria-labelledby": "matches-title" } }, [
    node("h3", { text: t("con.matches"), attrs: { id: "matches-title", tabindex: "-1" } }), status,
    rows.length ? node("ol", { className: "cases matches", attrs: { id: "case-matches" } }, rows)
      : node("p", { className: "hint", attrs: { id: "case-matches-none" }, text: t("con.matches.none") }),
  ]);
}

// --- case actions (POST /v1/reports/{reference}/...) ------------------------------------------------------------
let fieldCounter = 0;

function field(labelKey, control) {
  const id = `act-${++fieldCounter}`;
  control.id = id;
  return node("div", { className: "field grow" }, [node("label", { text: t(labelKey), attrs: { for: id } }), control]);
}

function actionForm(name, fields, buttonKey, onSubmit) {
  const form = node("form", { className: "case-action", attrs: { "data-action": name } }, [
    ...fields, node("button", { text: t(buttonKey), attrs: { type: "submit" } })]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try { await onSubmit(form); } finally { button.disabled = false; }
  });
  return form;
}

async function caseActions(c) {
  const path = `/v1/reports/${encodeURIComponent(c.reference)}`;
  const status = node("p", { className: "hint", attrs: { id: "action-status", role: "status" } });
  const run = async (what, action, body) => {
    try {
      await api(`${path}/${action}`, { method: "POST", body });
      await showCase(c.reference, { focusLookup: false });
      const fresh = $("action-status");
      if (fresh) { fresh.className = "ok"; fresh.textContent = t("con.act.done", { what: t(`con.act.action.${what}`) }); }
    } catch (err) {
      status.className = "error";
      status.textContent = err.describe ? err.describe() : String(err);
    }
  };
  const replyText = node("textarea", { attrs: { rows: "4", maxlength: "5000", name: "body" } });
  const template = node("button", { className: "secondary small", text: t("con.act.template"), attrs: { type: "button" } });
  template.addEventListener("click", async () => {
    try {
      const found = await api(`/v1/reply-templates?kind=${encodeURIComponent(c.kind)}&language=${encodeURIComponent(c.language)}`);
      replyText.value = found.body;
      replyText.focus();
    } catch (err) { status.className = "error"; status.textContent = err.describe(); }
  });
  const expected = node("input", { attrs: { type: "date", name: "expected_by", required: "" } });
  const service = node("input", { attrs: { name: "service", required: "", maxlength: "200" } });
  const contact = node("input", { attrs: { type: "email", name: "contact", maxlength: "254" } });
  const statusSelect = node("select", { attrs: { name: "status" } }, ["in_progress", "waiting_for_citizen", "closed", "reopened"]
    .map((v) => node("option", { text: t(`con.status.${v}`), attrs: { value: v } })));
  const reason = node("input", { attrs: { name: "reason", maxlength: "1000" } });
  const note = node("textarea", { attrs: { rows: "2", maxlength: "5000", name: "note" } });
  const assignee = node("select", { attrs: { name: "officer_id" } });
  try {
    const officers = await api("/v1/officers");
    assignee.replaceChildren(...officers.map((o) => node("option", { text: `${o.name} — ${o.role}`, attrs: { value: String(o.officer_id) } })));
  } catch { /* the form stays empty */ }
  const open = !["closed", "forwarded"].includes(c.status);
  const forms = [];
  if (open) {
    forms.push(actionForm("reply", [field("con.act.reply", replyText), template], "con.act.send",
      () => run("reply", "messages", { body: replyText.value })));
    forms.push(actionForm("provisional-reply", [field("con.act.provisional", expected)], "con.act.provisional_send",
      () => run("provisional", "provisional-reply", { expected_by: expected.value })));
    if (!c.complex) {
      forms.push(actionForm("complex", [], "con.act.complex", () => run("complex", "complex", {})));
    }
    forms.push(actionForm("forward", [field("con.act.forward_service", service), field("con.act.forward_contact", contact)],
      "con.act.forward_send", () => run("forward", "forward", contact.value ? { service: service.value, contact: contact.value } : { service: service.value })));
  }
  forms.push(actionForm("status", [field("con.act.status", statusSelect), field("con.act.reason", reason)], "con.act.status_send",
    () => run("status", "status", reason.value ? { status: statusSelect.value, reason: reason.value } : { status: statusSelect.value })));
  forms.push(actionForm("note", [field("con.act.note", note)], "con.act.note_send", () => run("note", "notes", { body: note.value })));
  forms.push(actionForm("assignee", [field("con.act.assignee", assignee)], "con.act.assign_send",
    () => run("assign", "assignee", { officer_id: Number(assignee.value) })));
  return node("section", { className: "case-actions", attrs: { "aria-label": t("con.act.title") } }, [
    node("h3", { text: t("con.act.title") }), status, ...forms]);
}

function unavailable(err) {
  return err instanceof ApiError && (err.status === 404 || err.status === 405);
}

async function search(event) {
  event.preventDefault();
  const out = $("search-result");
  const q = event.target.elements.q.value.trim();
  const status = event.target.elements.status.value;
  const params = new URLSearchParams({ q, limit: "20" });
  if (status) params.set("status", status);
  try {
    const found = await api(`/v1/reports?${params}`);
    const items = Array.isArray(found) ? found : found.items || [];
    out.replaceChildren(items.length ? node("ul", { className: "cases" }, items.map((c) => caseLine(c)))
      : node("p", { text: t("con.search_empty") }));
  } catch (err) {
    out.replaceChildren(node("p", { className: "hint", text: unavailable(err) ? t("con.unavailable") : err.describe() }));
  }
}

async function loadBoard() {
  const out = $("board");
  try {
    const board = await api(`/v1/charter-board${$("board-mine").checked ? "?officer=me" : ""}`);
    // The cases whose sought person answered safe come first, whatever their deadline (shown only when there are some).
    const groups = [["overdue", "con.board.overdue"], ["due_soon", "con.board.due_soon"], ["provisional", "con.board.provisional"]];
    if ((board.attention || []).length) groups.unshift(["attention", "con.board.attention"]);
    out.replaceChildren(...groups.map(([key, label]) => node("div", { className: `board-group board-group-${key}` }, [
      node("h3", { text: `${t(label)} (${(board[key] || []).length})` }),
      (board[key] || []).length
        ? node("ul", { className: `cases board-${key}` }, board[key].map((c) => caseLine(c, { provisional: key === "provisional", late: key === "overdue" })))
        : node("p", { className: "hint", text: t("con.board.empty") }),
    ])));
  } catch (err) {
    out.replaceChildren(node("p", { className: "hint", text: unavailable(err) ? t("con.unavailable") : err.describe() }));
  }
}

// --- letters to print (GET /v1/letters) -------------------------------------------------------------------------
async function openLetterPdf(letter) {
  const response = await fetch(`/v1/letters/${letter.letter_id}.pdf`, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) throw new ApiError(response.status, null);
  const url = URL.createObjectURL(await response.blob());
  const link = node("a", { attrs: { href: url, download: `${letter.reference}-${letter.letter_id}.pdf` } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

async function loadLetters() {
  const out = $("letters");
  try {
    const letters = await api("/v1/letters");
    if (!letters.length) { out.replaceChildren(node("p", { className: "hint", text: t("con.letters.none") })); return; }
    out.replaceChildren(node("ul", { className: "cases" }, letters.map((letter) => {
      const pdf = node("button", { className: "secondary small", text: t("con.letters.pdf"), attrs: { type: "button" } });
      pdf.addEventListener("click", () => openLetterPdf(letter).catch((err) => { out.prepend(node("p", { className: "error", text: err.describe() })); }));
      const posted = node("button", { className: "small", text: t("con.letters.posted"), attrs: { type: "button",
        "aria-label": t("con.letters.posted_for", { reference: letter.reference, purpose: letter.purpose }) } });
      posted.addEventListener("click", async () => {
        try { await api(`/v1/letters/${letter.letter_id}/posted`, { method: "POST" }); await loadLetters(); } catch (err) {
          out.prepend(node("p", { className: "error", text: err.describe() }));
        }
      });
      return node("li", { attrs: { "data-letter": String(letter.letter_id) } }, [
        `${letter.reference} · ${letter.purpose} · ${formatDateTime(letter.created_at)} `, pdf, " ", posted]);
    })));
  } catch (err) {
    out.replaceChildren(node("p", { className: "hint", text: unavailable(err) ? t("con.unavailable") : err.describe() }));
  }
}

// --- who is on call (GET /v1/on-call) ----------------------------------------------------------------------
function rosterLine(entry) {
  if (!entry) return [node("strong", { text: t("con.oncall.nobody") })];
  const line = [node("strong", { text: entry.officer.name }), ` — ${entry.officer.role} · `,
    node("a", { text: entry.officer.phone, attrs: { href: `tel:${entry.officer.phone}` } })];
  if (entry.backup) {
    line.push(node("br"), `${t("con.oncall.backup")}: ${entry.backup.name} · `,
      node("a", { text: entry.backup.phone, attrs: { href: `tel:${entry.backup.phone}` } }));
  }
  return line;
}

async function loadOnCall() {
  const out = $("oncall");
  clearTimeout(state.onCallTimer);
  try {
    const onCall = await api("/v1/on-call");
    const now = node("p", { attrs: { "data-oncall": "now" } }, [`${t("con.oncall.now")}: `, ...rosterLine(onCall.now)]);
    if (onCall.now) now.append(node("br"), t("con.oncall.until", { at: formatDateTime(onCall.now.ends_at) }));
    const next = node("p", { attrs: { "data-oncall": "next" } }, onCall.next
      ? [`${t("con.oncall.next", { at: formatDateTime(onCall.next.at) })}: `, ...rosterLine(onCall.next.entry)]
      : [t("con.oncall.no_change")]);
    const hours = node("p", { className: "hint", attrs: { "data-oncall": "office_hours" } }, [onCall.office_hours
      ? t("con.oncall.office_hours", { line: onCall.consular_line }) : t("con.oncall.outside_hours")]);
    out.replaceChildren(hours, now, next);
  } catch (err) {
    out.replaceChildren(node("p", { className: "hint", text: unavailable(err) ? t("con.unavailable") : err.describe() }));
  }
  if (!$("app").hidden) state.onCallTimer = setTimeout(loadOnCall, ON_CALL_REFRESH_MS);
}

// --- start ----------------------------------------------------------------------------------------------
function translateDynamic() {
  fillSelects();
  if (session.claims) $("who").textContent = t("signed_in_as", { name: session.claims.sub });
  if (state.errors.length) renderErrors(state.errors);
  renderResult();
  if (!$("app").hidden) { loadBoard(); loadOnCall(); loadLetters(); }
}

function start() {
  signIn.hide();
  $("app").hidden = false;
  $("who").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = t("signed_in_as", { name: session.claims?.sub || "?" });
  loadBoard();
  loadOnCall();
  loadLetters();
  $("f-kind").focus();
}

function main() {
  applyTranslations(document);
  bindLanguageSelect($("language"));
  onLanguageChange(translateDynamic);
  fillSelects();
  $("report-form").addEventListener("submit", submitReport);
  $("f-has-subject").addEventListener("change", (e) => { $("subject-fields").hidden = !e.target.checked; });
  $("new-report").addEventListener("click", newReport);
  $("copy-reference").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("r-reference").textContent); $("copy-reference").textContent = t("con.copied"); } catch { /* no clipboard */ }
  });
  $("lookup-form").addEventListener("submit", lookup);
  $("search-form").addEventListener("submit", search);
  $("board-refresh").addEventListener("click", loadBoard);
  $("oncall-refresh").addEventListener("click", loadOnCall);
  $("letters-refresh").addEventListener("click", loadLetters);
  $("board-mine").addEventListener("change", loadBoard);
  $("signout").addEventListener("click", () => signOut());
  if (session.valid()) start(); else signIn.show(session.token ? "signin.expired" : null);
}

main();
