/**
 * The dependency direction of src/ (README, "Architecture"), checked by `npm run lint:deps` in `npm test` and CI.
 * Layers from the top; a module may import its own layer and the layers below it, never one above.
 * `common/` imports nothing of the project; the generated Prisma client may be imported from anywhere.
 */
const LAYERS = [
  ['entry points', '^src/[^/]+[.]ts$|^src/cli/'],
  ['dashboard', '^src/dashboard/'],
  ['features', '^src/(campaigns|auth|secrets|integrations|audit-log|health)/'],
  ['notifications', '^src/(notifications|bounces)/'],
  ['accounts', '^src/accounts/'],
  ['shared services', '^src/(audit|application-events|operators|passwords|progress|rate-limit|templates)/'],
  ['infrastructure', '^src/(prisma|redis|queues|mail|logging|metrics|directory)/'],
  ['config', '^src/config/'],
];

const noUpwardImports = LAYERS.slice(1).map(([name, path], i) => ({
  name: `no-upward-from-${name.replace(/ /g, '-')}`,
  comment: `${name} may not import ${LAYERS.slice(0, i + 1).map(([above]) => above).join(', ')}`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(0, i + 1).map(([, above]) => `(${above})`).join('|') },
}));

module.exports = {
  forbidden: [
    ...noUpwardImports,
    {
      name: 'common-imports-nothing',
      comment: 'common/ holds helpers every layer may use, so it imports nothing else of the project',
      severity: 'error',
      from: { path: '^src/common/' },
      to: { path: '^src/', pathNot: '^src/common/' },
    },
    {
      name: 'no-folder-cycles',
      comment: 'folders depend one way: no folder reaches back to one that imports it',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
