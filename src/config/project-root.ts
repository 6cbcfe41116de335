import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout (or deployed tree) holding templates/, prisma/ and dist/, from src/config or dist/src/config alike. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..').replace(/\/dist$/, '');
