import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'

const listeners = new Set<() => void>()
const notify = () => {
  for (const listener of listeners) listener()
}
window.addEventListener('popstate', notify)

export const navigate = (path: string, options: { replace?: boolean } = {}) => {
  if (path === location.pathname + location.search) return
  history[options.replace ? 'replaceState' : 'pushState'](null, '', path)
  notify()
}

/** The current path; re-renders on navigation and on the back button. */
export const usePath = () => {
  const [path, setPath] = useState(location.pathname)
  useEffect(() => {
    const update = () => setPath(location.pathname)
    listeners.add(update)
    return () => listeners.delete(update)
  }, [])
  return path
}

type LinkProps = { href: string; class?: string; children: ComponentChildren }

/** An ordinary link that navigates in-app; modified clicks (new tab, …) keep browser behaviour. */
export const Link = ({ href, children, ...rest }: LinkProps) => (
  <a
    href={href}
    {...rest}
    aria-current={location.pathname === href ? 'page' : undefined}
    onClick={(e) => {
      if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
      e.preventDefault()
      navigate(href)
    }}
  >
    {children}
  </a>
)
