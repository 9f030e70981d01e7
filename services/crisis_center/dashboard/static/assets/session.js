// The signed-in user's token: kept in sessionStorage (gone when the tab closes), checked for role and expiry.
import { t } from "./i18n.js";

export function decodeClaims(token) {
  const parts = String(token).trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(decodeURIComponent([...json].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("")));
  } catch { return null; }
}

export class Session {
  constructor(key, role) { this.key = key; this.role = role; }

  get token() {
    try { return sessionStorage.getItem(this.key); } catch { return null; }
  }

  get claims() { return this.token ? decodeClaims(this.token) : null; }

  /** null when the token may be used, else the message saying why not. */
  problem(token) {
    const claims = decodeClaims(token);
    if (!claims) return t("signin.bad_token");
    if (typeof claims.exp === "number" && claims.exp * 1000 <= Date.now()) return t("signin.bad_token");
    if (!Array.isArray(claims.roles) || !claims.roles.includes(this.role)) return t("signin.wrong_role", { role: this.role });
    return null;
  }

  store(token) {
    try { sessionStorage.setItem(this.key, token.trim()); } catch { /* storage disabled */ }
  }

  clear() {
    try { sessionStorage.removeItem(this.key); } catch { /* storage disabled */ }
  }

  valid() { return Boolean(this.token) && this.problem(this.token) === null; }
}
