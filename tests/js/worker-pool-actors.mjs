// Actors for the thread pool test in worker-command.test.mjs: each thread imports this
// module, as the worker command's threads import a user's tasks.mjs. Hostile on purpose.
import { RateLimitExceeded, Retry, actor } from "dramatiq-results";

actor((x) => x * 2, { actorName: "double" });
actor(async (ms) => new Promise((r) => setTimeout(() => r(ms), ms)), { actorName: "wait" });
actor(() => {
  const p = Proxy.revocable({}, {});
  p.revoke();
  throw p.proxy;
}, { actorName: "revoked" });
actor(() => {
  throw Object.defineProperty(new Error("x"), "name", {
    get() {
      throw new Error("getter");
    },
  });
}, { actorName: "getter" });
actor(() => () => 1, { actorName: "functionResult" });
actor(() => process.exit(3), { actorName: "exits" });
actor(async () => {
  throw "a string";
}, { actorName: "string" });
actor(() => {
  for (;;);
}, { actorName: "forever" });
actor(() => {
  throw new Retry("later", { delay: 1234 });
}, { actorName: "retry" });
actor(() => {
  throw new RangeError("out of range");
}, { actorName: "range" });

// An app's own error class, as `class AppError extends Error {}` leaves it (named "Error").
class AppError extends Error {}
actor(() => {
  throw new AppError("known");
}, { actorName: "appError", throws: [RangeError, AppError] });
actor(() => {
  throw new AppError("unlisted");
}, { actorName: "appErrorUnlisted" });
actor(() => {
  throw new RateLimitExceeded("rate limit exceeded for key 'k'");
}, { actorName: "limited" });
