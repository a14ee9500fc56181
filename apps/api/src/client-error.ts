import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { errorBody } from './errors.js'

const REPLIES: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'headers_too_large',
    'request line or headers too large',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'request took too long'],
}

/**
 * Requests Node's parser refuses (a 100 KB URL, broken framing) never reach Hono; by default
 * Node answers them with an empty body. This answers in the API's JSON error shape instead.
 */
export const answerClientErrors = (server: Server) =>
  server.on(
    'clientError',
    (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }) => {
      if (err.code === 'ECONNRESET' || !socket.writable || socket._httpMessage?.headersSent) {
        socket.destroy()
        return
      }
      const [status, reason, code, message] = REPLIES[err.code ?? ''] ?? [
        400,
        'Bad Request',
        'bad_request',
        'malformed HTTP request',
      ]
      const body = JSON.stringify(errorBody(code as 'validation_failed', message))
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    },
  )
