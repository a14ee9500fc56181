// Worker threads do not inherit tsx's loader: load the TypeScript writer through tsx's API.
import { tsImport } from 'tsx/esm/api'

await tsImport('./writer.ts', import.meta.url)
