/** Bundles one TypeScript entry point into one JavaScript file (npm dependencies stay external). */
export declare const bundle: (entry: string, outfile: string) => Promise<unknown>
/** Bundles apps/<app>/src/index.ts into apps/<app>/dist/index.js. */
export declare const buildApps: (apps?: readonly ('api' | 'worker')[]) => Promise<void>
