// Expected plans and answers for the router's fixture corpus, from Apollo's own tools.
//
// Versions (pinned in package.json): @apollo/composition, @apollo/query-planner and
// @apollo/gateway 2.14.4, @apollo/server 4.12.2, graphql 16.11.0, Node 20.
//
// Usage, from the repository root (after `npm install` in tools/apollo):
//   node tools/apollo/answers.mjs [case ...]
// For each case under tests/router/fedfixtures/corpus (or the named ones) it composes the
// case's subgraph SDLs into supergraph.graphql, plans every operations/<name>.graphql and runs
// it through Apollo Gateway against the case's subgraphs, which the Python corpus server serves
// (started here, stopped at the end), and writes expected/<name>.json: the digest of the inputs,
// Apollo's plan and Apollo Gateway's response. The Python tests read only these outputs.
// Apollo Gateway refuses supergraphs linking a feature only Apollo Router supports (@context):
// for those the plan comes from the query planner with the router's features, the response is
// null, and the case's ours/<name>.json holds the expected answer.
// Operations with @defer are planned with deferral enabled (Apollo's Defer nodes, as Apollo
// Router plans them), and answered by Apollo Gateway, which does not defer, without @defer:
// the router's payloads merged must give that answer. Introspection fields in a deferred
// fragment are left out of what the planner is given (see plannable).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Kind, parse, print, visit } from 'graphql';
import { composeServices } from '@apollo/composition';
import {
  ROUTER_SUPPORTED_SUPERGRAPH_FEATURES,
  Supergraph,
  operationFromDocument,
} from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';

const corpusDir = 'tests/router/fedfixtures/corpus';
const VARIABLES = /^# variables:(.*)$/;
const ROUTER_ONLY = ['https://specs.apollo.dev/context/'];
const INTROSPECTION = ['__schema', '__type'];

function subgraphFiles(dir) {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.graphql') && file !== 'supergraph.graphql')
    .sort();
}

function digest(dir, operationSource) {
  const hash = createHash('sha256');
  for (const file of subgraphFiles(dir)) {
    hash.update(`${basename(file, '.graphql')}\0${readFileSync(join(dir, file), 'utf8')}\0`);
  }
  hash.update(readFileSync(join(dir, 'data.json')));
  hash.update(operationSource);
  return hash.digest('hex');
}

function compose(dir) {
  const services = subgraphFiles(dir).map((file) => {
    const name = basename(file, '.graphql');
    const typeDefs = parse(readFileSync(join(dir, file), 'utf8'));
    return { name, url: `http://${name}/graphql`, typeDefs };
  });
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`${dir}: ${result.errors.map((error) => error.message).join('\n')}`);
  }
  return result.supergraphSdl;
}

// Apollo's planner 2.14.4 fails on introspection fields in a deferred fragment ("Was not able
// to find any options for __schema"); they take no fetch, so it plans the operation without
// them (and without a deferred fragment they leave empty).
function plannable(source) {
  const document = visit(parse(source), {
    [Kind.INLINE_FRAGMENT]: {
      leave: (node) => {
        if (!(node.directives ?? []).some((d) => d.name.value === 'defer')) return undefined;
        const selections = node.selectionSet.selections.filter(
          (s) => !(s.kind === Kind.FIELD && INTROSPECTION.includes(s.name.value)),
        );
        if (selections.length === 0) return null;
        return { ...node, selectionSet: { ...node.selectionSet, selections } };
      },
    },
  });
  return print(document);
}

function withoutDefer(source) {
  const document = visit(parse(source), {
    [Kind.SELECTION_SET]: {
      leave: (node) => ({ ...node, selections: node.selections.flatMap(undeferred) }),
    },
  });
  return print(document);
}

function undeferred(selection) {
  const defer = (selection.directives ?? []).find((d) => d.name.value === 'defer');
  if (!defer) return [selection];
  const others = selection.directives.filter((d) => d !== defer);
  const condition = (defer.arguments ?? []).find((a) => a.name.value === 'if');
  if (condition?.value.kind !== Kind.VARIABLE) return [{ ...selection, directives: others }];
  // Selected under @include and under @skip of the same variable: always selected, and the
  // variable stays used, as validation requires.
  return ['include', 'skip'].map((name) => ({
    ...selection,
    directives: [...others, directive(name, condition.value)],
  }));
}

function directive(name, value) {
  const named = (text) => ({ kind: Kind.NAME, value: text });
  return {
    kind: Kind.DIRECTIVE,
    name: named(name),
    arguments: [{ kind: Kind.ARGUMENT, name: named('if'), value }],
  };
}

function withoutDocumentNodes(node) {
  return JSON.parse(
    JSON.stringify(node, (key, value) => (key === 'operationDocumentNode' ? undefined : value)),
  );
}

async function startCorpusServer() {
  const child = spawn('.venv/bin/python', ['-m', 'tests.router.fedfixtures.corpus'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const baseUrl = await new Promise((resolve) => lines.once('line', resolve));
  return { baseUrl, stop: () => child.stdin.end() };
}

async function writeCase(caseName, baseUrl) {
  const dir = join(corpusDir, caseName);
  const supergraphSdl = compose(dir);
  writeFileSync(join(dir, 'supergraph.graphql'), supergraphSdl + '\n');
  const supergraph = Supergraph.build(supergraphSdl, {
    supportedFeatures: ROUTER_SUPPORTED_SUPERGRAPH_FEATURES,
  });
  const planner = new QueryPlanner(supergraph, { incrementalDelivery: { enableDefer: true } });
  const gatewayAnswers = !ROUTER_ONLY.some((url) => supergraphSdl.includes(url));
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) =>
      new RemoteGraphQLDataSource({ url: `${baseUrl}/${caseName}/${name}/graphql` }),
  });
  const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
  if (gatewayAnswers) await server.start();
  const expectedDir = join(dir, 'expected');
  rmSync(expectedDir, { recursive: true, force: true });
  mkdirSync(expectedDir);
  const operationsDir = join(dir, 'operations');
  for (const file of readdirSync(operationsDir).filter((f) => f.endsWith('.graphql')).sort()) {
    const source = readFileSync(join(operationsDir, file), 'utf8');
    const match = VARIABLES.exec(source.split('\n')[0]);
    const variables = match ? JSON.parse(match[1]) : {};
    const operation = operationFromDocument(supergraph.schema, parse(plannable(source)));
    const plan = withoutDocumentNodes(planner.buildQueryPlan(operation));
    const response = gatewayAnswers
      ? (await server.executeOperation({ query: withoutDefer(source), variables })).body
          .singleResult
      : null;
    const expected = { inputs: digest(dir, source), plan, response };
    writeFileSync(
      join(expectedDir, `${basename(file, '.graphql')}.json`),
      JSON.stringify(expected, null, 2) + '\n',
    );
  }
  if (gatewayAnswers) await server.stop();
  return readdirSync(operationsDir).length;
}

const wanted = process.argv.slice(2);
const caseNames = readdirSync(corpusDir)
  .filter((name) => existsSync(join(corpusDir, name, 'data.json')))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();
const { baseUrl, stop } = await startCorpusServer();
try {
  for (const caseName of caseNames) {
    console.log(`${caseName}: ${await writeCase(caseName, baseUrl)} operations`);
  }
} finally {
  stop();
}
