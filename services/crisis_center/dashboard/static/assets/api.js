// fetch() with the bearer token and the platform's error shapes: {"detail": "..."} or
// {"detail": [{"field", "rule", "message"}]} (422).
import { t } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }

  get fieldErrors() {
    return Array.isArray(this.detail) ? this.detail.filter((d) => d && typeof d === "object" && "field" in d) : [];
  }

  describe() {
    if (this.status === 0) return t("error.network");
    const message = typeof this.detail === "string" ? this.detail
      : this.fieldErrors.map((e) => `${e.field}: ${e.message}`).join("; ") || "";
    return t("error.generic", { status: this.status, message });
  }
}

export async function request(path, { method = "GET", token = null, body = undefined, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, null);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) throw new ApiError(response.status, data && typeof data === "object" ? data.detail : data);
  return data;
}
