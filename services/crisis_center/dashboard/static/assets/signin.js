// The sign-in panel both pages share: a local user name and password, or a pasted token.
import { request } from "./api.js";
import { t } from "./i18n.js";

/**
 * Wires #signin (forms #signin-form and #token-form, message #signin-error) to `session`.
 * `onSignedIn()` runs once a usable token is stored; `showMessage(key)` can show a reason on the panel.
 */
export function setupSignIn({ session, loginPath, onSignedIn }) {
  const panel = document.getElementById("signin");
  const error = document.getElementById("signin-error");
  const form = document.getElementById("signin-form");
  const tokenForm = document.getElementById("token-form");

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    try {
      const answer = await request(loginPath, { method: "POST", body: { username, password } });
      const problem = session.problem(answer.access_token);
      if (problem) return fail(problem);
      session.store(answer.access_token);
      form.reset();
      onSignedIn();
    } catch (err) {
      if (err.status === 401 || err.status === 422) fail(t("signin.failed"));
      else if (err.status === 503) fail(t("signin.not_configured"));
      else fail(err.describe ? err.describe() : String(err));
      form.elements.password.focus();
    }
  });

  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    error.hidden = true;
    const token = tokenForm.elements.token.value.trim();
    const problem = session.problem(token);
    if (problem) return fail(problem);
    session.store(token);
    tokenForm.reset();
    onSignedIn();
  });

  return {
    show(reasonKey = null) {
      panel.hidden = false;
      if (reasonKey) fail(t(reasonKey)); else error.hidden = true;
      form.elements.username.focus();
    },
    hide() { panel.hidden = true; },
  };
}
