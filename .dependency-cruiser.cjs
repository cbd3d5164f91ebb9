/**
 * The import rules of src/ (DESIGN.md §2), checked by the test command
 * (`npm run lint:deps`). Type imports count: an interface shared the wrong way
 * ties folders together as surely as a call does.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycle',
      comment: 'The graph of src/ folders is acyclic: each folder can be understood from the ones below it.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycle',
      comment: 'No file imports itself through others.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'readings-import-nothing',
      comment: 'readings/ is the vocabulary every part shares: it imports nothing of the project.',
      severity: 'error',
      from: { path: '^src/readings/' },
      to: { path: '^src/', pathNot: '^src/readings/' },
    },
    {
      name: 'onewire-is-pure',
      comment: 'onewire/ parses and encodes 1-Wire data without I/O: it may use the vocabulary only.',
      severity: 'error',
      from: { path: '^src/onewire/' },
      to: { path: '^src/', pathNot: '^src/(onewire|readings)/' },
    },
    {
      name: 'nothing-imports-cli-or-main',
      comment: 'cli/ and main.ts sit on top: the agent and its parts never reach up into them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(cli/|main\\.ts$)' },
      to: { path: '^src/(cli/|main\\.ts$)' },
    },
    {
      name: 'below-the-agent',
      comment: 'The agent is the composition root: only cli/ (and main.ts through it) may use it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(agent|cli)/|^src/main\\.ts$' },
      to: { path: '^src/agent/' },
    },
    {
      name: 'page-and-discovery-take-readings',
      comment: 'The page and Home Assistant discovery take routes, readings and status, never a source or the scheduler.',
      severity: 'error',
      from: { path: '^src/(web|homeassistant|outbox|health)/' },
      to: { path: '^src/(sources|sampling)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
