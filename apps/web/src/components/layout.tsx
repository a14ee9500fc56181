import type { UserJson } from '@dormant/client'
import type { ComponentChildren } from 'preact'
import { api } from '../api.js'
import { Link, navigate } from '../router.js'

type Props = { user: UserJson | null; children: ComponentChildren }

/** The page chrome: skip link, brand, navigation and the signed-in user's menu. */
export const Layout = ({ user, children }: Props) => {
  const logout = async () => {
    try {
      await api.logout()
    } finally {
      navigate('/login', { replace: true })
    }
  }
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">Dormant</span>
        <nav aria-label="Main">
          <Link href="/">My status</Link>
          {user?.role === 'admin' && <Link href="/admin">Admin</Link>}
        </nav>
        {user && (
          <div class="account">
            <span class="account-email">{user.email}</span>
            <button type="button" class="button-quiet" onClick={logout}>
              Log out
            </button>
          </div>
        )}
      </header>
      <main id="main">{children}</main>
    </>
  )
}
