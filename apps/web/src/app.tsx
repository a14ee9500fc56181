import { watchSession } from '@dormant/client'
import { useEffect, useRef, useState } from 'preact/hooks'
import { AdminPage } from './pages/admin-page.js'
import { LoginPage } from './pages/login-page.js'
import { NotFoundPage } from './pages/not-found-page.js'
import { UserPage } from './pages/user-page.js'
import { navigate, usePath } from './router.js'

const PAGES: Record<string, { title: string; Page: () => preact.JSX.Element }> = {
  '/': { title: 'Your status', Page: UserPage },
  '/login': { title: 'Sign in', Page: LoginPage },
  '/admin': { title: 'Admin', Page: AdminPage },
}

export const App = () => {
  const path = usePath()
  const { title, Page } = PAGES[path] ?? { title: 'Not found', Page: NotFoundPage }
  const first = useRef(true)
  const generation = useSessionGeneration()
  useEffect(() => {
    document.title = `${title} · Dormant`
    // After in-app navigation, move focus to the new page so screen readers announce it.
    if (first.current) first.current = false
    else document.querySelector<HTMLElement>('main h1')?.focus()
  }, [path, title])
  // A new session remounts the page: no component keeps anything of the previous user.
  return <Page key={generation} />
}

/**
 * Counts changes of the browser's signed-in user, as announced by any tab. A logout or a
 * 401 anywhere sends this tab to /login; another user's session remounts the page.
 */
const useSessionGeneration = () => {
  const [generation, setGeneration] = useState(0)
  useEffect(
    () =>
      watchSession((signal, previous) => {
        if (signal.kind === 'signed-out') navigate('/login', { replace: true })
        else if (previous !== null && previous !== signal.userId) setGeneration((g) => g + 1)
      }),
    [],
  )
  return generation
}
