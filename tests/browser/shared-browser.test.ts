import { completeHibernation, startHibernation } from '@dormant/db'
import { waitFor } from '@dormant/testing'
import type { Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { ADMIN, startTestApi, type TestApi, USER_PASSWORD } from '../../apps/api/src/testing.js'
import { type Browser, buildWeb, launchBrowser, signIn, WEB_DIST, waitForPermission, waitForText } from './support.js'

type Person = { id: string; email: string; rows: string[] }

/**
 * Runs in every document: records every history row id and account email the page has ever
 * put in its DOM, and each distinct screen (rows and email shown together). Mutation
 * callbacks run before the next paint, so "never recorded" means "never on screen, not even
 * for one frame".
 */
const RECORD_SEEN = `(() => {
  const seen = { rows: new Set(), emails: new Set(), screens: [] }
  globalThis.dormantSeen = seen
  let last = ''
  const scan = () => {
    const rows = [...document.querySelectorAll('[data-transaction-id]')].map((el) => el.dataset.transactionId)
    const emails = [...document.querySelectorAll('.account-email')].map((el) => el.textContent)
    for (const id of rows) seen.rows.add(id)
    for (const email of emails) seen.emails.add(email)
    const screen = JSON.stringify({ rows, emails })
    if (screen !== last) seen.screens.push({ rows, emails, at: performance.timeOrigin + performance.now() })
    last = screen
  }
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, characterData: true })
})()`

type Seen = { rows: string[]; emails: string[]; screens: { rows: string[]; emails: string[]; at: number }[] }

/** Everything the page has shown since its document loaded (or since `forgetSeen`). */
const seen = (page: Page): Promise<Seen> =>
  page.evaluate(() => {
    const s = (globalThis as unknown as { dormantSeen: { rows: Set<string>; emails: Set<string>; screens: [] } })
      .dormantSeen
    return { rows: [...s.rows], emails: [...s.emails], screens: s.screens }
  })
const forgetSeen = (page: Page) =>
  page.evaluate(() => {
    const s = (globalThis as unknown as { dormantSeen: { rows: Set<string>; emails: Set<string>; screens: [] } })
      .dormantSeen
    s.rows.clear()
    s.emails.clear()
    s.screens.length = 0
  })

/** The screens from the first that shows anything of `person` on: none may show A's rows. */
const screensSince = (all: Seen['screens'], person: Person) => {
  const first = all.findIndex((s) => s.emails.includes(person.email) || s.rows.some((r) => person.rows.includes(r)))
  return first === -1 ? [] : all.slice(first)
}

/**
 * A's rows left every tab of `aTabs` before B's sign-in on `signingIn` was answered (its
 * answer carries B's cookie), judged on the clock all pages share; then forgets what they saw.
 */
const expectDroppedBeforeAnswered = async (aTabs: Page[], signingIn: Page, aRows: string[]) => {
  const answered: number = await signingIn.evaluate(
    `performance.timeOrigin + performance.getEntriesByName(location.origin + '/api/auth/login')[0].responseStart`,
  )
  for (const tab of aTabs) {
    const { screens } = await seen(tab)
    const gone = screens[screens.findLastIndex((s) => shownAny(s.rows, aRows).length > 0) + 1]!
    console.log(`A's rows left a tab ${(answered - gone.at).toFixed(1)} ms before B's sign-in was answered`)
    expect(gone.at).toBeLessThan(answered)
    await forgetSeen(tab)
  }
}

/**
 * Runs in a document before the app: when the first "changing" arrives the tab's main thread
 * is busy for `ms` before the app hears it (the app's channel is created later, so it is
 * told later), as a tab of a loaded machine is.
 */
const slowToHearSignIn = (ms: number) => `(() => {
  const channel = new BroadcastChannel('dormant session')
  channel.onmessage = ({ data }) => {
    if (data.kind !== 'changing') return
    channel.close()
    const end = performance.now() + ${ms}
    while (performance.now() < end) {}
  }
})()`

/** The Web Lock a tab holds while it shows a user's data, and a sign-in's longest wait for it. */
const VIEW_LOCK = 'dormant session view'
const VIEW_WAIT_MS = 2_000

/** The view lock's requests waiting in this browser, by mode, in queue order. */
const waitingForView = (page: Page): Promise<string[]> =>
  page.evaluate(`navigator.locks.query().then(({ pending }) =>
    pending.filter((lock) => lock.name === '${VIEW_LOCK}').map((lock) => lock.mode))`)

/**
 * Takes the view lock in `page` as a page showing a user's data does, and keeps it until
 * `letGo` (never, if not called): a tab that does not let go when told to.
 */
const holdView = async (page: Page) => {
  await page.evaluate(`new Promise((held) => {
    navigator.locks.request('${VIEW_LOCK}', { mode: 'shared' }, () => {
      held()
      return new Promise((release) => { globalThis.letGo = release })
    })
  })`)
  return {
    /** Lets go, and says whether a sign-in was still waiting for it then. */
    letGo: (): Promise<boolean> =>
      page.evaluate(`navigator.locks.query().then(({ pending }) => {
        globalThis.letGo()
        return pending.some((lock) => lock.name === '${VIEW_LOCK}' && lock.mode === 'exclusive')
      })`),
  }
}

/** Fills the login form of `page` (on /login) and submits it, without waiting for the outcome. */
const submitSignIn = async (page: Page, email: string) => {
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(USER_PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** The history rows on screen now. */
const rowsShown = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll('[data-transaction-id]')].map((el) => el.dataset.transactionId)`)

const showsRows = async (page: Page, rows: string[]) =>
  expect.poll(async () => (await rowsShown(page)).sort(), { timeout: 10_000 }).toEqual([...rows].sort())

const shownAny = (shown: string[], rows: string[]) => shown.filter((id) => rows.includes(id))

describe('two people, one browser profile', () => {
  let api: TestApi
  let browser: Browser
  let a: Person
  let b: Person

  /** A user with `count` completed hibernations (history rows), made straight in the DB. */
  const personWithRows = async (count: number): Promise<Person> => {
    const { id, email } = await api.newUser()
    const rows: string[] = []
    for (let i = 0; i < count; i++) {
      const started = await startHibernation(api.deps.db, id, 60_000)
      if ('error' in started) throw new Error(started.error)
      const done = await completeHibernation(api.deps.db, started.hibernation.id, Date.now() + 120_000)
      if (done.outcome !== 'completed') throw new Error(done.outcome)
    }
    const res = await api.call('/api/me/transactions', { cookie: await api.login(email, USER_PASSWORD) })
    for (const t of ((await res.json()) as { transactions: { id: string }[] }).transactions) rows.push(t.id)
    expect(rows).toHaveLength(count)
    return { id, email, rows }
  }

  beforeAll(async () => {
    buildWeb()
    ;[api, browser] = await Promise.all([startTestApi({ WEB_DIST, SSE_HEARTBEAT_MS: '1000' }), launchBrowser()])
    await browser.context.addInitScript(RECORD_SEEN)
    a = await personWithRows(2)
    b = await personWithRows(1)
  })
  afterEach(async () => {
    for (const page of browser.context.pages()) await page.close()
    await browser.context.clearCookies()
  })
  afterAll(async () => {
    await browser?.close()
    await api?.stop()
  })

  /** A signed in on a first tab, with both history rows on screen. */
  const aOnFirstTab = async () => {
    const first = await browser.context.newPage()
    await signIn(first, api.url, a.email, USER_PASSWORD)
    await showsRows(first, a.rows)
    await waitForText(first.getByTestId('connection'), 'live')
    return first
  }

  test("B signing in on a second tab never sees A's rows, and A's tabs (leader and follower) drop them", async () => {
    const first = await aOnFirstTab()
    const third = await browser.context.newPage()
    await third.goto(`${api.url}/`)
    await showsRows(third, a.rows)
    const aTabs = [first, third]

    const second = await browser.context.newPage()
    await signIn(second, api.url, b.email, USER_PASSWORD)
    await waitForText(second.getByTestId('user-status'), 'active')
    await showsRows(second, b.rows)
    await waitForText(second.getByTestId('connection'), 'live')
    expect(shownAny((await seen(second)).rows, a.rows)).toEqual([])
    expect((await seen(second)).emails).not.toContain(a.email)

    // The browser's session is B's now: A's tabs show B's page or the login page.
    for (const tab of aTabs) {
      await waitFor(async () => shownAny(await rowsShown(tab), a.rows).length === 0, { what: "A's rows to go" })
    }
    await expectDroppedBeforeAnswered(aTabs, second, a.rows)
    for (const tab of aTabs) {
      await waitFor(
        async () => new URL(tab.url()).pathname === '/login' || (await rowsShown(tab)).join() === b.rows.join(),
        { what: "B's page or the login page on A's tab" },
      )
    }
    // The tabs now share B's one stream: B's changes reach all of them, live.
    await api.grant(b.id, ['hibernation.self', 'transactions.read', 'reports.view'])
    for (const tab of [second, ...aTabs]) {
      if (new URL(tab.url()).pathname === '/') await waitForPermission(tab, 'reports.view')
    }
    for (const tab of aTabs) {
      expect(shownAny((await seen(tab)).rows, a.rows)).toEqual([])
      expect((await seen(tab)).emails).not.toContain(a.email)
    }
  })

  test("a tab slow to hear of B's sign-in still drops A's rows before B's sign-in is answered", async () => {
    const first = await aOnFirstTab()
    const slow = await browser.context.newPage()
    // A second of busy main thread: far longer than a sign-in takes to be answered here.
    await slow.addInitScript(slowToHearSignIn(1000))
    await slow.goto(`${api.url}/`)
    await showsRows(slow, a.rows)

    const second = await browser.context.newPage()
    await signIn(second, api.url, b.email, USER_PASSWORD)
    await showsRows(second, b.rows)
    await expectDroppedBeforeAnswered([first, slow], second, a.rows)
    await waitFor(
      async () => new URL(slow.url()).pathname === '/login' || (await rowsShown(slow)).join() === b.rows.join(),
      { what: "B's page or the login page on A's tab" },
    )
  })

  test("a tab opened while B signs in shows nothing until B's sign-in is done, then B's page", async () => {
    const first = await aOnFirstTab()
    const slow = await holdView(first)
    const second = await browser.context.newPage()
    await second.goto(`${api.url}/login`)
    const opened = await browser.context.newPage()
    await submitSignIn(second, b.email)
    await expect.poll(() => waitingForView(second)).toEqual(['exclusive'])

    // The cookie is still A's: a page shown now would be A's.
    await opened.goto(`${api.url}/`)
    await expect.poll(() => waitingForView(opened)).toEqual(['exclusive', 'shared'])
    expect(await slow.letGo()).toBe(true)

    await second.waitForURL((url) => url.pathname !== '/login')
    await showsRows(opened, b.rows)
    expect(shownAny((await seen(opened)).rows, a.rows)).toEqual([])
    expect((await seen(opened)).emails).not.toContain(a.email)
  })

  test('a tab that never lets go of the view holds a sign-in elsewhere back by the bounded wait only', async () => {
    const first = await aOnFirstTab()
    await holdView(first)
    const second = await browser.context.newPage()
    await second.goto(`${api.url}/login`)
    const submitted: number = await second.evaluate('performance.now()')
    await submitSignIn(second, b.email)
    await second.waitForURL((url) => url.pathname !== '/login')
    await showsRows(second, b.rows)
    const sent: number = await second.evaluate(
      `performance.getEntriesByName(location.origin + '/api/auth/login')[0].startTime`,
    )
    expect(sent - submitted).toBeGreaterThanOrEqual(VIEW_WAIT_MS)
  })

  test("B signing in outside the app's pages (same cookie jar) ends A's page too", async () => {
    const first = await aOnFirstTab()
    await forgetSeen(first)
    // Playwright's request context shares the profile's cookies: the browser's session is B's.
    const res = await first.request.post(`${api.url}/api/auth/login`, {
      data: { email: b.email, password: USER_PASSWORD },
      headers: { origin: api.url },
    })
    expect(res.status()).toBe(200)
    await waitFor(
      async () => new URL(first.url()).pathname === '/login' || (await rowsShown(first)).join() === b.rows.join(),
      { what: "B's page or the login page on A's tab" },
    )
    const since = screensSince((await seen(first)).screens, b)
    expect(since.filter((s) => shownAny(s.rows, a.rows).length > 0 || s.emails.includes(a.email))).toEqual([])
  })

  test("a failed sign-in on a second tab keeps its error, and A's tab comes back as A", async () => {
    const first = await aOnFirstTab()
    const second = await browser.context.newPage()
    await second.goto(`${api.url}/login`)
    await second.getByLabel('Email').fill(b.email)
    await second.getByLabel('Password').fill('not-the-password')
    await second.getByRole('button', { name: 'Sign in' }).click()
    await second.getByRole('alert').waitFor()
    expect(new URL(second.url()).pathname).toBe('/login')
    // The session is still A's: A's tab shows A's page again, live.
    await showsRows(first, a.rows)
    await waitForText(first.getByTestId('connection'), 'live')
    const { screens, emails } = await seen(first)
    expect(emails).not.toContain(b.email)
    // It did drop them while the sign-in was under way (the cookie might have become B's).
    const firstA = screens.findIndex((s) => shownAny(s.rows, a.rows).length > 0)
    expect(screens.slice(firstA).some((s) => s.rows.length === 0)).toBe(true)
  })

  test("logging out on a second tab sends the first to /login with A's state gone", async () => {
    const first = await aOnFirstTab()
    const second = await browser.context.newPage()
    await second.goto(`${api.url}/`)
    await showsRows(second, a.rows)
    await second.getByRole('button', { name: 'Log out' }).click()
    await first.waitForURL(`${api.url}/login`)
    expect(await rowsShown(first)).toEqual([])
  })

  test("a 401 on a fetch drops A's state and goes to /login", async () => {
    const first = await aOnFirstTab()
    // The session is gone (cookie cleared) but the open stream does not know yet.
    await browser.context.clearCookies()
    await first.getByRole('button', { name: 'Start hibernation' }).click()
    await first.waitForURL(`${api.url}/login`)
    expect(await rowsShown(first)).toEqual([])
  })

  test("a 401 on the stream drops A's state and goes to /login", async () => {
    const first = await aOnFirstTab()
    const [cookie] = await browser.context.cookies()
    const res = await api.call('/api/auth/logout', { method: 'POST', cookie: `${cookie!.name}=${cookie!.value}` })
    expect(res.status).toBe(204)
    await first.waitForURL(`${api.url}/login`)
    expect(await rowsShown(first)).toEqual([])
  })

  test("a stream that comes back as B's (the cookie changed underneath) drops A's rows", async () => {
    const first = await aOnFirstTab()
    const [cookieA] = await browser.context.cookies()
    // B's session replaces A's in the profile without any page of this browser signing in.
    const cookieB = (await api.login(b.email, USER_PASSWORD)).split('=')
    await browser.context.addCookies([{ ...cookieA!, value: cookieB.slice(1).join('=') }])
    await forgetSeen(first)
    // A's session ends: the stream drops, asks /api/me (now B) and reconnects as B.
    const res = await api.call('/api/auth/logout', { method: 'POST', cookie: `${cookieA!.name}=${cookieA!.value}` })
    expect(res.status).toBe(204)
    await waitFor(async () => (await rowsShown(first)).join() === b.rows.join(), { what: "B's rows on the first tab" })
    const since = screensSince((await seen(first)).screens, b)
    expect(since.length).toBeGreaterThan(0)
    expect(since.filter((s) => shownAny(s.rows, a.rows).length > 0 || s.emails.includes(a.email))).toEqual([])
  })

  test('a user signing in while an admin tab is open never sees the admin page', async () => {
    const admin = await browser.context.newPage()
    await signIn(admin, api.url, ADMIN.email, ADMIN.password)
    await admin.getByTestId('users-table').locator('tbody tr').first().waitFor()
    const second = await browser.context.newPage()
    await signIn(second, api.url, b.email, USER_PASSWORD)
    await showsRows(second, b.rows)
    await waitFor(async () => new URL(admin.url()).pathname !== '/admin', { what: 'the admin tab to leave /admin' })
    expect(await admin.getByTestId('users-table').count()).toBe(0)
    expect((await seen(second)).emails).not.toContain(ADMIN.email)
  })
})
