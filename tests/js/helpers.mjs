// Shared by the JS tests: the compat vectors and small utilities.
import { readFileSync } from "node:fs";

export const vectors = JSON.parse(
  readFileSync(new URL("../fixtures/vectors.json", import.meta.url), "utf8"),
);

export const ofKind = (kind) => vectors.filter((v) => v.kind === kind);

export const text = (bytes) => new TextDecoder().decode(bytes);

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The number of pending timers in this process (Node's own bookkeeping). */
export const activeTimers = () =>
  process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
