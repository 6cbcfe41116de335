import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs');

/** A small src/ tree: one allowed import and one of each kind the rules must refuse. */
const FILES: Record<string, string> = {
  'src/dashboard/page.ts': "import { open } from '../progress/states';\nexport const page = open;\n",
  'src/progress/states.ts': 'export const open = 1;\n',
  'src/progress/upward.ts': "import { page } from '../dashboard/page';\nexport const upward = page;\n",
  'src/config/app-config.ts': 'export const config = 1;\n',
  'src/common/helper.ts': "import { config } from '../config/app-config';\nexport const helper = config;\n",
  'src/auth/login.ts': "import { directory } from '../integrations/directory';\nexport const login = directory;\n",
  'src/auth/errors.ts': 'export const error = 1;\n',
  'src/integrations/directory.ts': "import { error } from '../auth/errors';\nexport const directory = error;\n",
};

describe('the dependency rules (.dependency-cruiser.cjs)', () => {
  let dir: string;
  let violations: { rule: string; from: string; to: string }[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dep-rules-'));
    for (const [file, text] of Object.entries(FILES)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    const { tsConfig: _projectTsConfig, ...options } = config.options;
    const result = await cruise(['src'], { ...options, baseDir: dir, validate: true, ruleSet: { forbidden: config.forbidden } });
    violations = (result.output as ICruiseResult).summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('refuses an upward import, common/ importing the project and cycles between folders, and nothing else', () => {
    const byRule = (a: { rule: string; from: string }, b: { rule: string; from: string }) => `${a.rule} ${a.from}`.localeCompare(`${b.rule} ${b.from}`);
    expect(violations.sort(byRule)).toEqual([
      { rule: 'common-imports-nothing', from: 'src/common/helper.ts', to: 'src/config/app-config.ts' },
      // Two files each way, no file cycle: only the folder rule sees these.
      { rule: 'no-folder-cycles', from: 'src/auth', to: 'src/integrations' },
      { rule: 'no-folder-cycles', from: 'src/dashboard', to: 'src/progress' },
      { rule: 'no-folder-cycles', from: 'src/integrations', to: 'src/auth' },
      { rule: 'no-folder-cycles', from: 'src/progress', to: 'src/dashboard' },
      { rule: 'no-upward-from-shared-services', from: 'src/progress/upward.ts', to: 'src/dashboard/page.ts' },
    ]);
  });
});
