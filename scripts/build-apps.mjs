// Bundles the API and the worker into plain JavaScript (apps/*/dist/index.js) for running
// in production: our workspace packages are inlined, npm dependencies stay external. Running
// the TypeScript through tsx instead keeps a loader thread that costs CPU even when idle.
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

/** Bundles one TypeScript entry point into one JavaScript file. */
export const bundle = (entry, outfile) =>
  build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [externalDependencies],
  })

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
