// Reference query plans for the router's fixture subgraphs, from Apollo's own tools.
//
// Versions (pinned in package.json): @apollo/composition 2.14.4,
// @apollo/query-planner 2.14.4, @apollo/federation-internals 2.14.4, graphql 16.11.0, Node 20.
//
// Usage, from the repository root:
//   .venv/bin/python -m tests.router.fedfixtures.subgraphs   # subgraph SDLs
//   node tools/apollo/plan.mjs [fixture data dir]
//
// It composes data/sdl/*.graphql (subgraph name = file name, URL http://<name>/graphql) into
// data/supergraph.graphql, then plans every data/operations/<name>.graphql into
// data/plans/<name>.json. An operation whose first line is `# overrideLabels: a, b` is planned
// with those progressive-override labels enabled. The Python tests read only these outputs.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';

const dataDir = process.argv[2] ?? 'tests/router/fedfixtures/data';

function compose() {
  const sdlDir = join(dataDir, 'sdl');
  const services = readdirSync(sdlDir)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => {
      const name = basename(file, '.graphql');
      const typeDefs = parse(readFileSync(join(sdlDir, file), 'utf8'));
      return { name, url: `http://${name}/graphql`, typeDefs };
    });
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(result.errors.map((error) => error.message).join('\n'));
  }
  return result.supergraphSdl;
}

function overrideLabels(source) {
  const match = /^# overrideLabels:(.*)$/m.exec(source.split('\n')[0]);
  if (!match) return new Map();
  return new Map(match[1].split(',').map((label) => [label.trim(), true]));
}

function withoutDocumentNodes(node) {
  return JSON.parse(
    JSON.stringify(node, (key, value) => (key === 'operationDocumentNode' ? undefined : value)),
  );
}

const supergraphSdl = compose();
writeFileSync(join(dataDir, 'supergraph.graphql'), supergraphSdl + '\n');
const supergraph = Supergraph.build(supergraphSdl);
const planner = new QueryPlanner(supergraph);
const operationsDir = join(dataDir, 'operations');
for (const file of readdirSync(operationsDir).filter((f) => f.endsWith('.graphql')).sort()) {
  const source = readFileSync(join(operationsDir, file), 'utf8');
  const operation = operationFromDocument(supergraph.schema, parse(source));
  const plan = planner.buildQueryPlan(operation, { overrideConditions: overrideLabels(source) });
  const out = join(dataDir, 'plans', `${basename(file, '.graphql')}.json`);
  writeFileSync(out, JSON.stringify(withoutDocumentNodes(plan), null, 2) + '\n');
}
