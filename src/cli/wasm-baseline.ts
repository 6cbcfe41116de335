import v8 from 'node:v8';

// Imported first by resetctl. A command lives for a second or two, and V8's optimising Wasm compiler (for Prisma's
// query compiler) is still at work in the background when the command is done: the process then waits for it before
// it exits (0.3–0.8 s per command on these machines) and shares the cores with it meanwhile. Liftoff, V8's baseline
// Wasm compiler, is ready at once; the long-running service keeps the optimising one.
v8.setFlagsFromString('--liftoff-only');
