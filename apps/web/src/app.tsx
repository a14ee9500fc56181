import { holdSessionView, SESSION_CHANGE_HOLD_MS, watchSession } from '@dormant/client'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { AdminPage } from './pages/admin-page.js'
import { LoginPage } from './pages/login-page.js'
import { NotFoundPage } from './pages/not-found-page.js'
import { UserPage } from './pages/user-page.js'
import { WebhooksPage } from './pages/webhooks-page.js'
import { navigate, usePath } from './router.js'

/** `signedOut`: the page shows nothing of any user, so another tab's sign-in need not wait for it. */
const PAGES: Record<string, { title: string; Page: () => preact.JSX.Element; signedOut?: boolean }> = {
  '/': { title: 'Your status', Page: UserPage },
  '/login': { title: 'Sign in', Page: LoginPage, signedOut: true },
  '/admin': { title: 'Admin', Page: AdminPage },
  '/admin/webhooks': { title: 'Webhooks', Page: WebhooksPage },
}
const NOT_FOUND = { title: 'Not found', Page: NotFoundPage, signedOut: true }

export const App = () => {
  const path = usePath()
  const { title, Page, signedOut = false } = PAGES[path] ?? NOT_FOUND
  const first = useRef(true)
  const focusPending = useRef(false)
  const session = useSession()
  const viewing = useSessionView(!signedOut && !session.changing)
  const shown = !session.changing && (signedOut || viewing)
  useEffect(() => {
    document.title = `${title} · Dormant`
    // After in-app navigation, move focus to the new page so screen readers announce it.
    if (first.current) first.current = false
    else focusPending.current = true
  }, [path, title])
  useEffect(() => {
    if (!shown || !focusPending.current) return
    focusPending.current = false
    document.querySelector<HTMLElement>('main h1')?.focus()
  }, [path, shown])
  // A new session remounts the page: no component keeps anything of the previous user.
  // While another tab signs in, no page is shown at all: the cookie may change any moment.
  if (session.changing) {
    return (
      <main id="main" class="narrow">
        <p class="muted" aria-busy="true">
          Switching account…
        </p>
      </main>
    )
  }
  // Until this tab holds the view (at once, unless another tab is signing in) it shows nothing.
  if (!shown) return <main id="main" class="narrow" aria-busy="true" />
  return <Page key={session.generation} />
}

/**
 * Holds the session view (`holdSessionView`) while `shows` (the page shows a user's data and
 * no sign-in is under way), and says whether the page may show it. The view is let go in a
 * layout effect: after the DOM no longer shows the data, in the same task, so a sign-in waiting
 * for it sends its request only once this tab's screen is clear, however slow the tab is.
 */
const useSessionView = (shows: boolean) => {
  const [held, setHeld] = useState(false)
  useLayoutEffect(() => {
    if (!shows) return
    const release = holdSessionView(() => setHeld(true))
    return () => {
      release()
      setHeld(false)
    }
  }, [shows])
  return shows && held
}

/**
 * Follows changes of the browser's signed-in user, as announced by any tab. A logout or a
 * 401 anywhere sends this tab to /login; another user's session remounts the page; another
 * tab's sign-in in progress hides the page until its outcome is known.
 */
const useSession = () => {
  const [generation, setGeneration] = useState(0)
  const [changing, setChanging] = useState(false)
  useEffect(() => {
    let hold: ReturnType<typeof setTimeout> | undefined
    const stop = watchSession((signal, previous, fromThisTab) => {
      clearTimeout(hold)
      if (signal.kind === 'changing') {
        // This tab's own sign-in keeps its login form (and its error message, if it fails).
        if (fromThisTab) return
        setChanging(true)
        hold = setTimeout(() => setChanging(false), SESSION_CHANGE_HOLD_MS)
        return
      }
      setChanging(false)
      if (signal.kind === 'signed-out') navigate('/login', { replace: true })
      else if (signal.kind === 'user' && previous !== null && previous !== signal.userId) setGeneration((g) => g + 1)
    })
    return () => {
      clearTimeout(hold)
      stop()
    }
  }, [])
  return { generation, changing }
}
