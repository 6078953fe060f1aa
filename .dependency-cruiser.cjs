/**
 * The arrows between src/'s parts. `npm test` runs `depcruise --validate` with these rules, so a
 * change that breaks one fails the build; docs/architecture.md draws the arrows that exist.
 *
 * Parts (folders under src/) never import the wiring at the top of src/; data flows one way:
 * http -> simulator -> tiers -> snapshot -> neighbors -> store -> core.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment:
        'A cycle makes two modules one: neither can be understood, tested or changed alone. A cycle closed only by a type import (a class handing itself to its helper) is allowed.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'core-imports-nothing-of-ours',
      comment: 'core/ holds the shapes, errors, key and metrics every part shares; it depends on no part.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'store-knows-no-tiers',
      comment: 'The store is the SQLite cache: it knows the core shapes and nothing that reads it.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(core|store)/' },
    },
    {
      name: 'neighbors-read-only-the-store',
      comment:
        'Similarity and the neighbour index rank recorded calls, and their worker learns output shapes; they know no tier, simulator or protocol.',
      severity: 'error',
      from: { path: '^src/neighbors/' },
      to: { path: '^src/', pathNot: '^src/(core|store|neighbors|shapes)/' },
    },
    {
      name: 'shapes-are-pure',
      comment: 'Output shapes are learnt from answers handed in, and the guard is a function of shape and answer: they import only core.',
      severity: 'error',
      from: { path: '^src/shapes/' },
      to: { path: '^src/', pathNot: '^src/(core|shapes)/' },
    },
    {
      name: 'rollouts-know-only-core',
      comment:
        'The registry of rollouts keeps their state (in memory or PostgreSQL); it is handed to the simulator as the store is, and knows no tier, store or protocol.',
      severity: 'error',
      from: { path: '^src/rollouts/' },
      to: { path: '^src/', pathNot: '^src/(core|rollouts)/' },
    },
    {
      name: 'only-the-simulator-knows-rollouts',
      comment:
        'Tiers read what the registry tells them (src/core/rollout.ts shapes), never the registry itself; protocols reach it through the simulator.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(rollouts|simulator)/|^src/[^/]+\\.ts$|^src/commands/' },
      to: { path: '^src/rollouts/' },
    },
    {
      name: 'snapshot-knows-no-serving',
      comment:
        'The per-snapshot context (catalog, neighbour index, observations, storage state) is read by tiers and protocols; it knows none of them.',
      severity: 'error',
      from: { path: '^src/snapshot/' },
      to: { path: '^src/', pathNot: '^src/(core|store|neighbors|snapshot)/' },
    },
    {
      name: 'tiers-know-no-http',
      comment: 'A tier answers a call or passes; it is handed what it needs and never calls up into the simulator or out to a protocol.',
      severity: 'error',
      from: { path: '^src/tiers/' },
      to: { path: '^src/(http|simulator|ingest|replay|commands|protocols)/' },
    },
    {
      name: 'simulator-knows-no-http',
      comment: 'The simulator resolves calls; the protocols and the transport sit above it.',
      severity: 'error',
      from: { path: '^src/simulator/' },
      to: { path: '^src/(http|protocols|ingest|replay|commands)/' },
    },
    {
      name: 'protocol-formats-are-pure',
      comment:
        'The formats of protocols/formats/ (transcripts, tool schemas, <tool_call> text, mcp__server__tool names) are read by ingest, replay and the protocol adapters alike; they import only core.',
      severity: 'error',
      from: { path: '^src/protocols/formats/' },
      to: { path: '^src/', pathNot: '^src/(core|protocols/formats)/' },
    },
    {
      name: 'protocols-serve-through-the-simulator',
      comment:
        'A protocol adapter (native, MCP, verl-tool) turns requests into simulator calls and answers into its own shape; it never goes around the simulator to the store, a tier or the neighbour index, not even for a type.',
      severity: 'error',
      from: { path: '^src/protocols/' },
      to: { path: '^src/(store|tiers|neighbors|ingest|replay|commands)/' },
    },
    {
      name: 'ingest-knows-no-serving',
      comment:
        'Ingest writes the store from logs read in the formats of protocols/formats/; it knows nothing of tiers, the simulator, the protocol adapters or HTTP.',
      severity: 'error',
      from: { path: '^src/ingest/' },
      to: { path: '^src/(tiers|simulator|snapshot|http|neighbors|replay|commands)/|^src/protocols/[^/]+\\.ts$' },
    },
    {
      name: 'http-is-transport',
      comment:
        'http/ is the transport (body parsing, error shape, load shedding, schemas, ops routes): it knows no protocol adapter, and never sees the store, a tier or the snapshot context, not even as a type.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(store|tiers|neighbors|snapshot|protocols|ingest|replay|commands)/' },
    },
    {
      name: 'nothing-imports-app',
      comment: 'app.ts builds the Fastify app; only the entries that listen or print its OpenAPI document build it.',
      severity: 'error',
      from: { pathNot: '^src/(server|openapi)\\.ts$' },
      to: { path: '^src/app\\.ts$' },
    },
    {
      name: 'parts-never-import-the-wiring',
      comment:
        'Files at the top of src/ wire the parts together; a part that imported them would run back up the tree. commands/ is the CLI, part of the wiring.',
      severity: 'error',
      from: { path: '^src/(?!commands/)[^/]+/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'sqlite-through-one-door',
      comment:
        'better-sqlite3 13 needs Node-API 10 (Node 22.14+, 24) and 12 runs on the Node that compiled it (20): src/store/sqlite.ts picks the one that runs by Node-API version; any other value import of either would crash on the other Node.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/store/sqlite\\.ts$' },
      to: { path: 'node_modules/better-sqlite3', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'src-imports-no-tests-or-bench',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'src-uses-no-dev-dependencies',
      comment: 'What ships must run with the production dependencies alone (npm ci --omit=dev in the Dockerfile).',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unresolvable-imports',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
