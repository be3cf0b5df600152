// A Cloudflare Worker that imports the package's workerd entry and runs the smoke scenario.
import * as api from "../../../pkg/src/workerd.js";
import { smoke } from "./smoke.js";

export default {
  async fetch() {
    try {
      return Response.json({ failures: await smoke(api) });
    } catch (e) {
      return Response.json({ failures: [`threw: ${e && e.stack}`] });
    }
  },
};
