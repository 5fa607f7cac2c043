// Composes the benchmark's subgraphs with Apollo's composition, for comparison with ours.
// Input on stdin: [{"name", "url", "sdl"}]; output on stdout: the supergraph SDL.
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { readFileSync } from "node:fs";

const subgraphs = JSON.parse(readFileSync(0, "utf8"));
const result = composeServices(
  subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })),
);
if (result.errors) {
  console.error(result.errors.map((error) => error.message).join("\n"));
  process.exit(1);
}
process.stdout.write(result.supergraphSdl);
