// Fails when src/api/schema.d.ts is not what openapi-typescript makes of openapi.json, so a change to
// the api's contract shows up as a type error in the workbench's build, never as a broken page.
// (tests/unit/presentation/http/test_workbench_schema.py checks that openapi.json is the api's schema.)
import { readFileSync } from "node:fs";
import openapiTS, { astToString } from "openapi-typescript";

const schema = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
const generated = astToString(await openapiTS(schema));
const committed = readFileSync(new URL("../src/api/schema.d.ts", import.meta.url), "utf8");
const strip = (text) => text.replace(/^\/\*\*[\s\S]*?\*\/\s*/, "").trim();
if (strip(generated) !== strip(committed)) {
  console.error("src/api/schema.d.ts is out of date with openapi.json: run `npm run gen:api` and commit it.");
  process.exit(1);
}
console.log("src/api/schema.d.ts matches openapi.json");
