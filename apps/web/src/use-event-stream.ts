import { createEventStream, type EventStream, initialState, type StreamState } from '@dormant/client'
import { useEffect, useState } from 'preact/hooks'
import { navigate } from './router.js'

/**
 * Subscribes the component to a shared Dormant stream for as long as it is mounted.
 * `url` null means "not yet" (e.g. until the admin check passed); `userId`, when the page
 * already knows whose session it is, saves the stream asking.
 */
export const useEventStream = (url: string | null, userId?: string) => {
  const [stream, setStream] = useState<EventStream | null>(null)
  const [state, setState] = useState<StreamState>(initialState)
  useEffect(() => {
    if (!url) return
    const s = createEventStream({ url, userId, onUnauthorized: () => navigate('/login', { replace: true }) })
    setStream(s)
    setState(s.getState())
    const unsubscribe = s.subscribe(setState)
    return () => {
      unsubscribe()
      s.close()
      setStream(null)
    }
  }, [url, userId])
  return { stream, state }
}
