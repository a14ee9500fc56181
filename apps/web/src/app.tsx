import { useEffect, useRef } from 'preact/hooks'
import { AdminPage } from './pages/admin-page.js'
import { LoginPage } from './pages/login-page.js'
import { NotFoundPage } from './pages/not-found-page.js'
import { UserPage } from './pages/user-page.js'
import { WebhooksPage } from './pages/webhooks-page.js'
import { usePath } from './router.js'

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
  useEffect(() => {
    document.title = `${title} · Dormant`
    // After in-app navigation, move focus to the new page so screen readers announce it.
    if (first.current) first.current = false
    else document.querySelector<HTMLElement>('main h1')?.focus()
  }, [path, title])
  return <Page />
}
