import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseStreamId, REPO_ROOT, tempDir } from '@dormant/testing'
import { type BrowserContext, chromium, type Locator, type Page } from 'playwright-core'

const WEB_DIR = join(REPO_ROOT, 'apps/web')
export const WEB_DIST = join(WEB_DIR, 'dist')
export const SCREENSHOTS = join(REPO_ROOT, 'docs/screenshots')

const SOURCES = ['apps/web/src', 'apps/web/index.html', 'apps/web/vite.config.ts', 'packages/client/src']

const newestMtime = (path: string): number => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))))
}

/** Builds the web app with Vite unless dist is newer than every source file. */
export const buildWeb = () => {
  const index = join(WEB_DIST, 'index.html')
  const newest = Math.max(...SOURCES.map((p) => newestMtime(join(REPO_ROOT, p))))
  if (existsSync(index) && statSync(index).mtimeMs > newest) return
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { cwd: WEB_DIR })
}

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export type Browser = {
  context: BrowserContext
  /** Every Content-Security-Policy violation any page of this browser reported, in order. */
  cspViolations: string[]
  close(): Promise<void>
}

/** A Debian Chromium with a fresh profile: its own cookies, so one per signed-in person. */
export const launchBrowser = async (): Promise<Browser> => {
  const dir = tempDir('dormant-chromium')
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 860 },
  })
  context.setDefaultTimeout(15_000)
  const cspViolations: string[] = []
  await context.exposeBinding('dormantCspViolation', (_source, report: string) => void cspViolations.push(report))
  // Runs in every page (browser globals), hence a string.
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (e) =>
    dormantCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' on ' + location.pathname))`)
  return {
    context,
    cspViolations,
    close: async () => {
      await context.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Signs in through the login form and waits for the page it leads to. */
export const signIn = async (page: Page, baseUrl: string, email: string, password: string) => {
  await page.goto(`${baseUrl}/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL((url) => url.pathname !== '/login')
}

/** Waits until the element's whole text is `text`. */
export const waitForText = (locator: Locator, text: string, timeout?: number) =>
  locator
    .filter({ hasText: new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) })
    .waitFor({ timeout })

/** Resolves when `page` has a permission named `name` listed. */
export const waitForPermission = (page: Page, name: string) =>
  page.getByTestId('user-permissions').getByText(name, { exact: true }).waitFor()

/** Whether `id` is an SSE id as our servers write it (`<epoch>:<n>` or a bare `<n>`). */
export const isStreamId = (id: string | null | undefined) => {
  try {
    parseStreamId(id ?? undefined)
    return true
  } catch {
    return false
  }
}

/** Marks the document; `assertSameDocument` fails if the page was reloaded since. */
export const markDocument = (page: Page) => page.evaluate(() => Object.assign(globalThis, { dormantMark: 'same' }))
export const sameDocument = (page: Page) => page.evaluate(() => (globalThis as { dormantMark?: string }).dormantMark)
