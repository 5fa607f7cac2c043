// Writes the expected outputs of the composer's fixture groups with Apollo's own composition.
//
// Versions (see package.json / package-lock.json): @apollo/composition 2.14.4,
// @apollo/federation-internals 2.14.4, graphql 16.11.0, run on Node.js 20.
//
// Usage, from this folder after `npm install`:
//   node compose.mjs [../../tests/router/compose/groups]
// Each group is a folder of subgraph SDL files `<name>.graphql`; the subgraph's routing URL is
// `http://<name>/graphql`. The script writes, beside them, either `supergraph.graphql` (the
// composed supergraph) or `errors.json` (the codes and messages Apollo reports), and removes the
// other one so a group never holds a stale expectation.
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const OUTPUTS = new Set(["supergraph.graphql"]);
const root = resolve(process.argv[2] ?? "../../tests/router/compose/groups");

function subgraphsOf(dir) {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".graphql") && !OUTPUTS.has(file))
    .sort()
    .map((file) => {
      const name = file.slice(0, -".graphql".length);
      const sdl = readFileSync(join(dir, file), "utf8");
      return { name, url: `http://${name}/graphql`, typeDefs: parse(sdl) };
    });
}

function writeExpectation(dir) {
  const result = composeServices(subgraphsOf(dir));
  const supergraphPath = join(dir, "supergraph.graphql");
  const errorsPath = join(dir, "errors.json");
  if (result.errors) {
    const errors = result.errors.map((error) => ({
      code: error.extensions?.code ?? null,
      message: error.message,
    }));
    writeFileSync(errorsPath, JSON.stringify(errors, null, 2) + "\n");
    if (existsSync(supergraphPath)) rmSync(supergraphPath);
    return `errors: ${[...new Set(errors.map((error) => error.code))].join(", ")}`;
  }
  writeFileSync(supergraphPath, result.supergraphSdl + "\n");
  if (existsSync(errorsPath)) rmSync(errorsPath);
  return "composed";
}

for (const kind of ["valid", "invalid"]) {
  const kindDir = join(root, kind);
  if (!existsSync(kindDir)) continue;
  for (const group of readdirSync(kindDir).sort()) {
    console.log(`${kind}/${group}: ${writeExpectation(join(kindDir, group))}`);
  }
}
