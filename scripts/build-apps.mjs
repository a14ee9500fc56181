// Bundles the API and the worker into plain JavaScript (apps/*/dist/index.js) for running
// in production: our workspace packages are inlined, npm dependencies stay external. Running
// the TypeScript through tsx instead keeps a loader thread that costs CPU even when idle.
import { randomUUID } from 'node:crypto'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const APPS = ['api', 'worker']

/** npm packages are loaded from node_modules at run time; `@dormant/*` sources are bundled. */
const externalDependencies = {
  name: 'external-dependencies',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@dormant/') ? undefined : { external: true }))
  },
}

/**
 * Bundles one TypeScript entry point into one JavaScript file. Each output is written to a
 * temporary file and renamed over the old one, so a process starting while another build
 * runs (two campaigns, a test and a restart) loads one whole bundle, never a half-written one.
 */
export const bundle = async (entry, outfile) => {
  const { outputFiles } = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [externalDependencies],
    write: false,
  })
  for (const { path, contents } of outputFiles) {
    mkdirSync(dirname(path), { recursive: true })
    const temporary = `${path}.${process.pid}-${randomUUID()}.tmp`
    writeFileSync(temporary, contents)
    renameSync(temporary, path)
  }
}

export const buildApps = async (apps = APPS) => {
  for (const app of apps) await bundle(`${root}apps/${app}/src/index.ts`, `${root}apps/${app}/dist/index.js`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const requested = process.argv.slice(2)
  const unknown = requested.filter((a) => !APPS.includes(a))
  if (unknown.length) {
    process.stderr.write(`unknown app(s): ${unknown.join(', ')}; expected ${APPS.join(', ')}\n`)
    process.exit(1)
  }
  await buildApps(requested.length ? requested : APPS)
}
