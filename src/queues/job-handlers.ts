import { MODULE_METADATA } from '@nestjs/common/constants.js';
import { JOB_KINDS, type JobKind } from './queue-names.js';

const JOB_HANDLERS = Symbol('job handlers');

interface JobHandlerEntry {
  kind: JobKind;
  method: string | symbol;
}

/** Marks the method that runs one kind of job. A worker refuses to start unless every kind has exactly one. */
export function HandlesJob(kind: JobKind): MethodDecorator {
  return (target, method) => {
    const entries: JobHandlerEntry[] = Reflect.getOwnMetadata(JOB_HANDLERS, target.constructor) ?? [];
    Reflect.defineMetadata(JOB_HANDLERS, [...entries, { kind, method }], target.constructor);
  };
}

function handlersOf(cls: object): JobHandlerEntry[] {
  return Reflect.getOwnMetadata(JOB_HANDLERS, cls) ?? [];
}

/** The method of `instance` marked with `kind`, bound to it; undefined when it has none. */
export function handlerOf<A extends unknown[], R>(instance: object, kind: string): ((...args: A) => R) | undefined {
  const entry = handlersOf(instance.constructor).find((e) => e.kind === kind);
  if (!entry) return undefined;
  const method = (instance as Record<string | symbol, (...args: A) => R>)[entry.method];
  return method.bind(instance);
}

type ModuleRef = object;

/** Every provider class of the modules and of the modules they import, each once. */
function providerClasses(modules: ModuleRef[]): Set<object> {
  const seen = new Set<ModuleRef>();
  const classes = new Set<object>();
  const visit = (ref: ModuleRef | undefined) => {
    if (!ref || seen.has(ref)) return;
    seen.add(ref);
    const dynamic = 'module' in ref ? (ref as { module: ModuleRef; providers?: unknown[]; imports?: ModuleRef[] }) : undefined;
    const moduleClass = dynamic?.module ?? ref;
    const providers: unknown[] = [...(Reflect.getMetadata(MODULE_METADATA.PROVIDERS, moduleClass) ?? []), ...(dynamic?.providers ?? [])];
    for (const provider of providers) {
      if (typeof provider === 'function') classes.add(provider);
      else if (provider && typeof provider === 'object' && 'useClass' in provider) classes.add((provider as { useClass: object }).useClass);
    }
    for (const imported of [...(Reflect.getMetadata(MODULE_METADATA.IMPORTS, moduleClass) ?? []), ...(dynamic?.imports ?? [])]) visit(imported);
  };
  modules.forEach(visit);
  return classes;
}

/** What is wrong with the job handlers the modules provide: a job kind with no handler, or with more than one. */
export function jobWiringProblems(modules: ModuleRef[]): string[] {
  const found = new Map<JobKind, string[]>(JOB_KINDS.map((kind) => [kind, []]));
  for (const cls of providerClasses(modules)) {
    for (const { kind, method } of handlersOf(cls)) found.get(kind)?.push(`${(cls as { name: string }).name}.${String(method)}`);
  }
  const problems: string[] = [];
  for (const [kind, handlers] of found) {
    if (handlers.length === 0) problems.push(`no handler for job "${kind}"`);
    if (handlers.length > 1) problems.push(`job "${kind}" has ${handlers.length} handlers: ${handlers.join(', ')}`);
  }
  return problems;
}

/**
 * Refuses to start workers whose wiring is not whole, as immich's job repository does: a job kind nobody handles
 * would otherwise only fail in production, and which of two handlers runs would depend on module order.
 */
export function assertJobWiring(modules: ModuleRef[]): void {
  const problems = jobWiringProblems(modules);
  if (problems.length) throw new Error(`the queue workers are miswired: ${problems.join('; ')}`);
}
