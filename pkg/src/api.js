// The public API, shared by every host entry. Each entry (node.js, browser.js, workerd.js)
// first instantiates the one .wasm in the way its host allows, then re-exports this.
export { StubBackend, Message, JSONEncoder } from "../dist/dramatiq_results.js";
export {
  ResultError,
  ResultMissing,
  ResultTimeout,
  ResultFailure,
  DecodeError,
  Missing,
} from "../dist/errors.js";
