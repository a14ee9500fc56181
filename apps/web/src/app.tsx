import { SESSION_CHANGE_HOLD_MS, watchSession } from '@dormant/client'
import { useEffect, useRef, useState } from 'preact/hooks'
import { AdminPage } from './pages/admin-page.js'
import { LoginPage } from './pages/login-page.js'
import { NotFoundPage } from './pages/not-found-page.js'
import { UserPage } from './pages/user-page.js'
import { WebhooksPage } from './pages/webhooks-page.js'
import { navigate, usePath } from './router.js'

const PAGES: Record<string, { title: string; Page: () => preact.JSX.Element }> = {
  '/': { title: 'Your status', Page: UserPage },
  '/login': { title: 'Sign in', Page: LoginPage },
  '/admin': { title: 'Admin', Page: AdminPage },
  '/admin/webhooks': { title: 'Webhooks', Page: WebhooksPage },
}

export const App = () => {
  const path = usePath()
  const { title, Page } = PAGES[path] ?? { title: 'Not found', Page: NotFoundPage }
  const first = useRef(true)
  const session = useSession()
  useEffect(() => {
    document.title = `${title} · Dormant`
    // After in-app navigation, move focus to the new page so screen readers announce it.
    if (first.current) first.current = false
    else document.querySelector<HTMLElement>('main h1')?.focus()
  }, [path, title])
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
  return <Page key={session.generation} />
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
