// Unit tests of the dashboard's audit-trail grouping (frontend/src/dashboard/trail.js), run by node --test.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isSystem, splitTrail } from "../../frontend/src/dashboard/trail.js";

const at = (minute, second = 0) => new Date(Date.UTC(2031, 0, 5, 10, minute, second)).toISOString();

test("system entries of one kind within one minute become one line with a count", () => {
  const entries = [
    ...[1, 5, 30, 59].map((s) => ({ at: at(0, s), what: "notified", actor: "system:registration", extra: "" })),
    { at: at(1, 2), what: "notified", actor: "system:registration", extra: "" },
    { at: at(0, 40), what: "updated", actor: "system:count", extra: "60 affected" },
    { at: at(0, 50), what: "updated", actor: "system:count", extra: "70 affected" },
  ];
  const { people, system } = splitTrail(entries);
  assert.deepEqual(people, []);
  assert.deepEqual(system.map((e) => [e.what, e.count, e.at]), [
    ["notified", 1, at(1, 2)], ["notified", 4, at(0, 59)], ["updated", 2, at(0, 50)],
  ]);
  assert.equal(system[2].extra, "70 affected"); // the newest entry of the group speaks for it
});

test("people's actions stay apart, one line each, newest first", () => {
  const entries = [
    { at: at(3), what: "crisis.close", actor: "alice", extra: "" },
    { at: at(3, 10), what: "notified", actor: "system:registration", extra: "" },
    { at: at(2), what: "threshold.set", actor: "bob", extra: "" },
    { at: at(2, 30), what: "threshold.set", actor: "bob", extra: "" },
  ];
  const { people, system } = splitTrail(entries);
  assert.deepEqual(people.map((e) => [e.actor, e.what, e.count]),
    [["alice", "crisis.close", 1], ["bob", "threshold.set", 1], ["bob", "threshold.set", 1]]);
  assert.equal(system.length, 1);
});

test("the limit applies to each list", () => {
  const many = Array.from({ length: 30 }, (_, i) => ({ at: at(i), what: "updated", actor: "system:count" }));
  const mine = Array.from({ length: 30 }, (_, i) => ({ at: at(i), what: "crisis.activate", actor: "carol" }));
  const { people, system } = splitTrail([...many, ...mine], { limit: 15 });
  assert.equal(people.length, 15);
  assert.equal(system.length, 15);
  assert.equal(people[0].at, at(29));
  assert.ok(isSystem({ actor: "system:threshold" }) && !isSystem({ actor: "systematic" }) && !isSystem({}));
});
