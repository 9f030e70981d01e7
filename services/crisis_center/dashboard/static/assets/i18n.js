// The interface language: chosen by the user, remembered in localStorage, applied to data-i18n* attributes.
import { MESSAGES } from "./messages.js";

export const LANGUAGES = ["fr", "nl", "de", "en"];
const STORAGE_KEY = "consular.ui.language";
const listeners = new Set();
let current = initialLanguage();

function initialLanguage() {
  let stored = null;
  try { stored = localStorage.getItem(STORAGE_KEY); } catch { /* storage disabled */ }
  if (LANGUAGES.includes(stored)) return stored;
  for (const candidate of navigator.languages || [navigator.language || "en"]) {
    const code = String(candidate).slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(code)) return code;
  }
  return "en";
}

export function language() { return current; }

export function setLanguage(code) {
  if (!LANGUAGES.includes(code)) return;
  current = code;
  try { localStorage.setItem(STORAGE_KEY, code); } catch { /* storage disabled: the choice lasts this page */ }
  applyTranslations(document);
  for (const listener of listeners) listener(code);
}

export function onLanguageChange(listener) { listeners.add(listener); }

export function t(key, params = {}) {
  const text = MESSAGES[current]?.[key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : `{${name}}`));
}

export function has(key) { return key in MESSAGES.en; }

/** Fills text and attributes from data-i18n (text), data-i18n-placeholder, data-i18n-aria-label, data-i18n-title. */
export function applyTranslations(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Wires a <select> to the language: options in their own language, the current one selected. */
export function bindLanguageSelect(select) {
  const names = { fr: "Français", nl: "Nederlands", de: "Deutsch", en: "English" };
  select.replaceChildren(...LANGUAGES.map((code) => {
    const option = document.createElement("option");
    option.value = code;
    option.lang = code;
    option.textContent = names[code];
    return option;
  }));
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
}

export function formatDateTime(value) {
  if (!value) return t("none");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(`${current}-BE`, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

export function formatDate(value) {
  if (!value) return t("none");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(`${current}-BE`, { weekday: "short", day: "numeric", month: "long", year: "numeric" })
    .format(date);
}

export function formatNumber(value) {
  return new Intl.NumberFormat(`${current}-BE`).format(value);
}

export function countryName(code) {
  if (!code) return t("none");
  try { return new Intl.DisplayNames([current], { type: "region" }).of(code) || code; } catch { return code; }
}
