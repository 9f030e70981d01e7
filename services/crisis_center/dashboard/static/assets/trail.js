// The audit trail of a crisis: people's actions one by one, the system's own entries (a "Travellers notified"
// per late arrival, a "Count updated" per change) grouped per kind and minute with a count, so that dozens of them
// do not push the coordinators' actions out of sight. Pure functions: tested with `node --test`.

export const SYSTEM_ACTOR = "system:";

export function isSystem(entry) {
  return String(entry.actor || "").startsWith(SYSTEM_ACTOR);
}

function minuteOf(at) {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? String(at) : Math.floor(ms / 60000);
}

function newestFirst(a, b) {
  return (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0);
}

// entries: [{at, what, actor, extra}] in any order. Returns {people, system}, newest first; each system entry
// stands for `count` entries of one kind and actor within one minute, and carries the newest one's `at` and extra.
export function splitTrail(entries, { limit = 60 } = {}) {
  const people = [];
  const groups = new Map();
  for (const entry of [...entries].sort(newestFirst)) {
    if (!isSystem(entry)) { people.push({ ...entry, count: 1 }); continue; }
    const key = `${entry.what}|${entry.actor}|${minuteOf(entry.at)}`;
    const group = groups.get(key);
    if (group) group.count += 1;
    else groups.set(key, { ...entry, count: 1 });
  }
  return { people: people.slice(0, limit), system: [...groups.values()].sort(newestFirst).slice(0, limit) };
}
