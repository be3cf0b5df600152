// `webpack` with webpack.config.js, through the Node API (no webpack-cli): fails on any error.
import webpack from "webpack";
import configs from "./webpack.config.js";

const stats = await new Promise((resolve, reject) => webpack(configs, (error, s) => (error ? reject(error) : resolve(s))));
const info = stats.toJson({ all: false, errors: true, warnings: true });
for (const w of info.warnings ?? []) console.log(`warning: ${w.message.split("\n")[0]}`);
if (stats.hasErrors()) {
  for (const e of info.errors) console.error(e.message);
  process.exit(1);
}
