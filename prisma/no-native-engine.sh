#!/bin/sh
# Stand-in for Prisma's native schema engine, which cannot be downloaded here.
# `prisma generate` only checks that an engine binary exists; generation itself is Wasm,
# and migrations run through @prisma/schema-engine-wasm (scripts/prisma-migrate.ts).
echo "the native Prisma schema engine is not used by this project; see scripts/prisma-migrate.ts" >&2
exit 1
